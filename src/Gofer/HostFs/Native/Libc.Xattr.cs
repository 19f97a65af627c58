using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    // f*xattr refuse O_PATH descriptors (EBADF, still on 6.18), so HostFs uses the path-taking calls on
    // "/proc/self/fd/N". The following variants are used on purpose: following the magic link lands on
    // the fd's own inode and never goes further, even when that inode is a symlink (verified: a symlink
    // fd reaches the symlink's xattrs, not its target's). The l* variants would act on the proc link itself.
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial nint getxattr(byte* path, byte* name, byte* value, nuint size);

    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int setxattr(byte* path, byte* name, byte* value, nuint size, int flags);

    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial nint listxattr(byte* path, byte* list, nuint size);

    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int removexattr(byte* path, byte* name);
}
