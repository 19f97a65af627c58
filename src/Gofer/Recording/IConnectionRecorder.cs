using System.Buffers;

namespace Gofer.Recording;

/// <summary>
/// Records one connection's 9P traffic. The server calls <see cref="Received(ReadOnlySpan{byte})"/> with the bytes
/// it read from the client (before parsing them) and <see cref="Sent(ReadOnlySpan{byte})"/> with the bytes it
/// wrote, then <see cref="IDisposable.Dispose"/> when the connection ends.
/// </summary>
/// <remarks>
/// Recording never changes what the server does: none of these methods throws because of a recording problem, and
/// they return as soon as the bytes are copied into the recorder's queue (the file is written by a background
/// writer). When recording is off the server holds <see langword="null"/> instead of a recorder, so the cost is a
/// single null check. <see cref="Received(ReadOnlySpan{byte})"/> and <see cref="Sent(ReadOnlySpan{byte})"/> may be
/// called concurrently from the connection's read and write loops; each direction must be called from one thread
/// at a time, in stream order.
/// </remarks>
internal interface IConnectionRecorder : IDisposable
{
    /// <summary>Bytes the server read from the client (client → server), in stream order.</summary>
    void Received(ReadOnlySpan<byte> data);

    /// <inheritdoc cref="Received(ReadOnlySpan{byte})"/>
    void Received(in ReadOnlySequence<byte> data);

    /// <summary>Bytes the server wrote to the client (server → client), in stream order.</summary>
    void Sent(ReadOnlySpan<byte> data);

    /// <inheritdoc cref="Sent(ReadOnlySpan{byte})"/>
    void Sent(in ReadOnlySequence<byte> data);
}
