using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

/// <summary>
/// A host file descriptor. Every syscall takes the SafeHandle (not the int) so the marshaller's
/// AddRef/Release keeps a concurrent clunk from closing — and the kernel from reusing — an fd that a
/// syscall on another thread is still using. fd 0 is a valid descriptor; only negative values are invalid.
/// </summary>
internal sealed class SafeFd : SafeHandle
{
    public SafeFd()
        : base(new IntPtr(-1), ownsHandle: true)
    {
    }

    public SafeFd(int fd)
        : base(new IntPtr(-1), ownsHandle: true)
    {
        SetHandle(new IntPtr(fd));
    }

    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The raw number, only for building /proc/self/fd/N names; never pass it to a syscall.</summary>
    public int RawValue => (int)handle.ToInt64();

    protected override bool ReleaseHandle() => Libc.close((int)handle.ToInt64()) == 0;
}
