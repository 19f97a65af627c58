using Microsoft.Extensions.Logging;

namespace Gofer.Server;

/// <summary>Every server log line. Event ids are unique (a test checks it) so logs can be filtered by id.</summary>
internal static partial class ServerLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Connection {Connection} opened ({Endpoint})")]
    public static partial void ConnectionOpened(ILogger logger, long connection, string endpoint);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Connection {Connection} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, long connection, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Connection {Connection} dropped: {Reason}")]
    public static partial void ConnectionDropped(ILogger logger, long connection, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "Connection {Connection} negotiated {Version} msize {Msize}")]
    public static partial void Versioned(ILogger logger, long connection, string version, uint msize);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Debug, Message = "Connection {Connection} reset by a Tversion: {Fids} fids clunked, {InFlight} requests ended")]
    public static partial void SessionReset(ILogger logger, long connection, int fids, int inFlight);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Error, Message = "Connection {Connection}: handler for {Type} failed")]
    public static partial void HandlerFailed(ILogger logger, long connection, string type, Exception exception);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Debug, Message = "Connection {Connection} duplicate in-flight tag {Tag}")]
    public static partial void DuplicateTag(ILogger logger, long connection, ushort tag);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Debug, Message = "<- {Connection} {Frame}")]
    public static partial void TraceRequest(ILogger logger, long connection, string frame);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Debug, Message = "-> {Connection} {Frame}")]
    public static partial void TraceReply(ILogger logger, long connection, string frame);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Serving {Root} on {Endpoint}{ReadOnly}")]
    public static partial void Listening(ILogger logger, string root, string endpoint, string readOnly);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Shutting down: {Reason}")]
    public static partial void ShuttingDown(ILogger logger, string reason);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Warning, Message = "Accept failed on {Endpoint}")]
    public static partial void AcceptFailed(ILogger logger, string endpoint, Exception exception);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Error, Message = "Connection {Connection} failed")]
    public static partial void ConnectionFailed(ILogger logger, long connection, Exception exception);
}
