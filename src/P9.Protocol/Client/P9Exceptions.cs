using P9.Protocol.Wire;

namespace P9.Protocol.Client;

/// <summary>
/// The server answered a request with Rlerror. <see cref="Errno"/> is the Linux errno from the wire (whatever the
/// host OS), so callers can map it one-to-one onto a syscall result. The connection is still usable.
/// </summary>
public sealed class P9Exception : IOException
{
    public P9Exception(uint errno, P9MessageType request)
        : base($"{request}: {ErrnoName(errno)} (errno {errno})")
    {
        Errno = errno;
        Request = request;
    }

    public P9Exception()
        : this(LinuxErrno.EIO, 0)
    {
    }

    public P9Exception(string message)
        : base(message) => Errno = LinuxErrno.EIO;

    public P9Exception(string message, Exception innerException)
        : base(message, innerException) => Errno = LinuxErrno.EIO;

    /// <summary>Linux errno (see <see cref="LinuxErrno"/>).</summary>
    public uint Errno { get; }

    /// <summary>The request the error answered.</summary>
    public P9MessageType Request { get; }

    /// <summary>Symbolic name for the common errnos ("ENOENT"), else the number.</summary>
    public static string ErrnoName(uint errno) => errno switch
    {
        LinuxErrno.EPERM => "EPERM", LinuxErrno.ENOENT => "ENOENT", LinuxErrno.EINTR => "EINTR", LinuxErrno.EIO => "EIO",
        LinuxErrno.ENXIO => "ENXIO", LinuxErrno.E2BIG => "E2BIG", LinuxErrno.EBADF => "EBADF", LinuxErrno.EAGAIN => "EAGAIN",
        LinuxErrno.ENOMEM => "ENOMEM", LinuxErrno.EACCES => "EACCES", LinuxErrno.EBUSY => "EBUSY", LinuxErrno.EEXIST => "EEXIST",
        LinuxErrno.EXDEV => "EXDEV", LinuxErrno.ENOTDIR => "ENOTDIR", LinuxErrno.EISDIR => "EISDIR", LinuxErrno.EINVAL => "EINVAL",
        LinuxErrno.ENOSPC => "ENOSPC", LinuxErrno.EROFS => "EROFS", LinuxErrno.ERANGE => "ERANGE", LinuxErrno.ENAMETOOLONG => "ENAMETOOLONG",
        LinuxErrno.ENOLCK => "ENOLCK", LinuxErrno.ENOSYS => "ENOSYS", LinuxErrno.ENOTEMPTY => "ENOTEMPTY", LinuxErrno.ELOOP => "ELOOP",
        LinuxErrno.ENODATA => "ENODATA", LinuxErrno.EPROTO => "EPROTO", LinuxErrno.EMSGSIZE => "EMSGSIZE",
        LinuxErrno.EOPNOTSUPP => "EOPNOTSUPP", LinuxErrno.ESTALE => "ESTALE", LinuxErrno.EREMOTEIO => "EREMOTEIO",
        _ => "errno " + errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>Why a client connection ended.</summary>
public enum P9ConnectionFailure
{
    /// <summary>The server closed the stream (cleanly, between frames).</summary>
    Closed,
    /// <summary>Reading or writing the transport failed (see InnerException).</summary>
    TransportError,
    /// <summary>The server sent something a 9P2000.L server must not send (bad frame, unknown tag, wrong reply type,
    /// count larger than asked…). The byte stream cannot be trusted any more.</summary>
    ProtocolViolation,
    /// <summary>Version negotiation failed (not 9P2000.L, msize below 4096).</summary>
    VersionRejected,
    /// <summary>The client was disposed.</summary>
    Disposed,
}

/// <summary>
/// The connection is gone: every request pending when it died fails with this, and so does every later call.
/// <see cref="Failure"/> and the message say why (the first reason only: later symptoms are not reported).
/// </summary>
public sealed class P9ConnectionException : IOException
{
    public P9ConnectionException(P9ConnectionFailure failure, string reason, Exception? innerException = null)
        : base($"9P connection failed ({failure}): {reason}", innerException)
    {
        Failure = failure;
        Reason = reason;
    }

    public P9ConnectionException()
        : this(P9ConnectionFailure.Closed, "connection closed")
    {
    }

    public P9ConnectionException(string message)
        : this(P9ConnectionFailure.Closed, message)
    {
    }

    public P9ConnectionException(string message, Exception innerException)
        : this(P9ConnectionFailure.TransportError, message, innerException)
    {
    }

    public P9ConnectionFailure Failure { get; }

    public string Reason { get; } = "";
}
