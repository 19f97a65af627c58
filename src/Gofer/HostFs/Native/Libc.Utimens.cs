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
    // utimensat(AT_FDCWD, "/proc/self/fd/N", times, 0): the magic link lands on the fd's own inode
    // (for a symlink fd, on the symlink itself — verified on 6.x), so no O_PATH restriction applies.
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int utimensat(int dirfd, byte* path, Timespec* times, int flags);
}
