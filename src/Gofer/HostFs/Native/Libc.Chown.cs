using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    // fchownat(fd, "", uid, gid, AT_EMPTY_PATH|AT_SYMLINK_NOFOLLOW) works on O_PATH fds, symlinks included.
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int fchownat(SafeFd dirfd, byte* path, uint owner, uint group, int flags);

    [LibraryImport(LibC)]
    internal static partial uint geteuid();
}
