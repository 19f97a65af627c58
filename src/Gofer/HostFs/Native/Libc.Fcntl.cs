using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

/// <summary>struct flock for 64-bit Linux (off_t is 64 bits), 32 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Flock
{
    public short Type;
    public short Whence;
    public long Start;
    public long Len;
    public int Pid;
}

internal static partial class Libc
{
    // Only F_OFD_SETLK and F_OFD_GETLK are used: F_OFD_SETLKW would park a server thread inside the
    // kernel for as long as another client holds the lock. BLOCK requests are answered BLOCKED instead
    // and the Linux client retries (9P2000.L Tlock semantics).
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int fcntl(SafeFd fd, int cmd, Flock* lk);
}
