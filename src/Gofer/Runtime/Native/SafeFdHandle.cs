using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Gofer.Runtime.Native;

/// <summary>An owned file descriptor. -1 is invalid; 0 is a valid descriptor.</summary>
public sealed class SafeFdHandle : SafeHandle
{
    public SafeFdHandle()
        : base(-1, ownsHandle: true)
    {
    }

    public SafeFdHandle(int fd, bool ownsHandle)
        : base(-1, ownsHandle) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    /// <summary>The descriptor number (valid while the handle is open).</summary>
    public int Fd => (int)handle;

    /// <summary>
    /// Hands the descriptor over to a <see cref="Socket"/>, which then owns it; this handle becomes invalid.
    /// </summary>
    public Socket ToSocket()
    {
        ObjectDisposedException.ThrowIf(IsClosed || IsInvalid, this);
        var fd = handle;
        SetHandleAsInvalid();
        GC.SuppressFinalize(this);
        return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
    }

    protected override bool ReleaseHandle() => LibC.close((int)handle) == 0;
}
