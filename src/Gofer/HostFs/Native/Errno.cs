namespace Gofer.HostFs.Native;

/// <summary>
/// Linux errno values (asm-generic/errno-base.h, errno.h). 9P2000.L's Rlerror carries exactly these
/// numbers, so HostFs returns them as values instead of throwing: no exception on the hot path.
/// <see cref="None"/> (0) is success.
/// </summary>
internal enum Errno
{
    None = 0,
    EPERM = 1,
    ENOENT = 2,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    EBADF = 9,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EBUSY = 16,
    EEXIST = 17,
    EXDEV = 18,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENFILE = 23,
    EMFILE = 24,
    EFBIG = 27,
    ENOSPC = 28,
    ESPIPE = 29,
    EROFS = 30,
    EMLINK = 31,
    ERANGE = 34,
    EDEADLK = 35,
    ENAMETOOLONG = 36,
    ENOLCK = 37,
    ENOSYS = 38,
    ENOTEMPTY = 39,
    ELOOP = 40,
    ENODATA = 61,
    EOVERFLOW = 75,
    EOPNOTSUPP = 95,
}

internal static class ErrnoExtensions
{
    /// <summary>The errno of the last P/Invoke made with SetLastError = true; EIO if the kernel gave none.</summary>
    public static Errno Last()
    {
        int e = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        // Rlerror must carry 1..4095; anything outside that would be a bug in the binding, not the kernel.
        return e is > 0 and < 4096 ? (Errno)e : Errno.EIO;
    }
}
