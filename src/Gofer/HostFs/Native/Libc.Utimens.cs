using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

[StructLayout(LayoutKind.Sequential)]
internal struct Timespec
{
    public long Sec;
    public long Nsec;
}

internal static partial class Libc
{
    // utimensat(procSelfFdDir, "N", times, 0): the magic link lands on the fd's own inode
    // (for a symlink fd, on the symlink itself — verified on 6.18), so no O_PATH restriction applies.
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int utimensat(SafeFd dirfd, byte* path, Timespec* times, int flags);
}
