namespace Gofer.Sandbox.Vfs;

/// <summary>Linux errno values (asm-generic/errno-base.h, errno.h) the sandbox VFS reports.</summary>
/// <remarks>The numbers are Linux's so a gofer filesystem can pass an Rlerror ecode straight through.</remarks>
internal enum Errno
{
    EPERM = 1,
    ENOENT = 2,
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
    EFBIG = 27,
    ENOSPC = 28,
    ESPIPE = 29,
    EROFS = 30,
    EMLINK = 31,
    ERANGE = 34,
    ENAMETOOLONG = 36,
    ENOSYS = 38,
    ENOTEMPTY = 39,
    ELOOP = 40,
    ENODATA = 61,
    EOPNOTSUPP = 95,
}

/// <summary>The one way a VFS operation fails: a Linux errno, as a syscall would return it.</summary>
internal sealed class VfsException : Exception
{
    public VfsException(Errno errno)
        : base(errno.ToString()) => Errno = errno;

    public VfsException(Errno errno, string message)
        : base($"{errno}: {message}") => Errno = errno;

    public VfsException()
        : this(Errno.EIO)
    {
    }

    public VfsException(string message)
        : this(Errno.EIO, message)
    {
    }

    public VfsException(string message, Exception innerException)
        : base(message, innerException) => Errno = Errno.EIO;

    public Errno Errno { get; }

    // Throw helpers keep the throw out of callers' bodies (and their async state machines small).
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void Throw(Errno errno) => throw new VfsException(errno);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static T Throw<T>(Errno errno) => throw new VfsException(errno);
}
