namespace P9.Protocol.Wire;

/// <summary>Why a frame could not be read or decoded. Decoders return this; they never throw on bad input.</summary>
public enum P9DecodeError : byte
{
    None = 0,
    /// <summary>Fewer than 7 bytes, or size[4] &lt; 7: not even a header.</summary>
    FrameTooShort,
    /// <summary>size[4] above the current limit (8192 before Tversion, msize after).</summary>
    FrameTooLarge,
    /// <summary>size[4] differs from the number of bytes handed to the decoder.</summary>
    SizeMismatch,
    /// <summary>The stream ended in the middle of a frame.</summary>
    TruncatedStream,
    /// <summary>A fixed-size field runs past the end of the frame.</summary>
    Truncated,
    /// <summary>A string's len[2] runs past the end of the frame.</summary>
    StringPastEnd,
    /// <summary>A count[4] of data runs past the end of the frame.</summary>
    CountPastEnd,
    /// <summary>Bytes left after the last field of the message.</summary>
    TrailingBytes,
    /// <summary>nwname &gt; 16 in a Twalk.</summary>
    TooManyWalkNames,
    /// <summary>nwqid &gt; 16 in an Rwalk.</summary>
    TooManyQids,
    /// <summary>A requested count that cannot fit in a reply of msize bytes.</summary>
    CountTooLarge,
    /// <summary>A type byte not assigned in mainline 9P.</summary>
    UnknownType,
    /// <summary>A 9P2000 message not part of 9P2000.L (Topen, Tcreate, Tstat, Twstat, …).</summary>
    UnsupportedMessage,
    /// <summary>A reply type where a request was expected (a client sending R-messages).</summary>
    NotARequest,
    /// <summary>A request type where a reply was expected.</summary>
    NotAReply,
    /// <summary>The decoder for one message was handed a frame of another type.</summary>
    WrongType,
}

public static class P9DecodeErrors
{
    /// <summary>Linux errno for an Rlerror answering a request that failed to decode.</summary>
    public static uint ToErrno(this P9DecodeError error) => error switch
    {
        P9DecodeError.None => 0,
        P9DecodeError.FrameTooLarge or P9DecodeError.CountTooLarge => LinuxErrno.EMSGSIZE,
        P9DecodeError.UnknownType or P9DecodeError.UnsupportedMessage => LinuxErrno.EOPNOTSUPP,
        // The frame boundary was intact, only the body was wrong: the peer asked for something invalid.
        P9DecodeError.Truncated or P9DecodeError.StringPastEnd or P9DecodeError.CountPastEnd
            or P9DecodeError.TrailingBytes or P9DecodeError.TooManyWalkNames or P9DecodeError.TooManyQids => LinuxErrno.EINVAL,
        _ => LinuxErrno.EPROTO,
    };

    /// <summary>True when the byte stream can no longer be trusted and the connection must be closed
    /// (framing broken, or the peer speaks the wrong direction of the protocol).</summary>
    public static bool IsFatal(this P9DecodeError error) => error is P9DecodeError.FrameTooShort
        or P9DecodeError.FrameTooLarge or P9DecodeError.SizeMismatch or P9DecodeError.TruncatedStream
        or P9DecodeError.NotARequest or P9DecodeError.NotAReply;

    /// <summary>A human reason for logs and traces.</summary>
    public static string Describe(this P9DecodeError error) => error switch
    {
        P9DecodeError.None => "ok",
        P9DecodeError.FrameTooShort => "frame shorter than the 7-byte header",
        P9DecodeError.FrameTooLarge => "size field exceeds the frame limit (msize)",
        P9DecodeError.SizeMismatch => "size field does not match the frame length",
        P9DecodeError.TruncatedStream => "stream ended inside a frame",
        P9DecodeError.Truncated => "field runs past the end of the frame",
        P9DecodeError.StringPastEnd => "string length runs past the end of the frame",
        P9DecodeError.CountPastEnd => "data count runs past the end of the frame",
        P9DecodeError.TrailingBytes => "trailing bytes after the last field",
        P9DecodeError.TooManyWalkNames => "nwname greater than 16",
        P9DecodeError.TooManyQids => "nwqid greater than 16",
        P9DecodeError.CountTooLarge => "count exceeds msize minus the reply header",
        P9DecodeError.UnknownType => "unknown message type",
        P9DecodeError.UnsupportedMessage => "message type not part of 9P2000.L",
        P9DecodeError.NotARequest => "reply type where a request was expected",
        P9DecodeError.NotAReply => "request type where a reply was expected",
        P9DecodeError.WrongType => "frame type does not match the decoder",
        _ => "unknown decode error",
    };
}

/// <summary>Linux errno values (asm-generic) used on the wire in Rlerror, whatever the host.</summary>
public static class LinuxErrno
{
    public const uint EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7, EBADF = 9, EAGAIN = 11,
        ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19, ENOTDIR = 20,
        EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ETXTBSY = 26, EFBIG = 27, ENOSPC = 28, ESPIPE = 29,
        EROFS = 30, EMLINK = 31, ERANGE = 34, EDEADLK = 35, ENAMETOOLONG = 36, ENOLCK = 37, ENOSYS = 38,
        ENOTEMPTY = 39, ELOOP = 40, ENODATA = 61, EPROTO = 71, EBADMSG = 74, EOVERFLOW = 75, EMSGSIZE = 90,
        EOPNOTSUPP = 95, ESTALE = 116, EREMOTEIO = 121, EDQUOT = 122;
}
