using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    // fchmod(2) refuses O_PATH descriptors (EBADF), so HostFs chmods through the fd's magic link with
    // fchmodat(procSelfFdDir, "N", mode, 0): following it resolves to exactly the inode the fd holds.
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int fchmodat(SafeFd dirfd, byte* path, uint mode, int flags);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int fchmod(SafeFd fd, uint mode);
}
