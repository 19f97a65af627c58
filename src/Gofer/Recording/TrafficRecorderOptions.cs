namespace Gofer.Recording;

/// <summary>What the recorder does when the background writer falls behind.</summary>
internal enum RecordingOverflow
{
    /// <summary>
    /// Drop the chunk, count it, and warn once per connection: the server never waits for the disk. The capture
    /// shows the loss as a TCP sequence gap ("previous segment not captured"), never as a spliced stream.
    /// </summary>
    Drop,

    /// <summary>Block the caller until the writer has made room: lossless, for tests and deliberate captures.</summary>
    Block,
}

/// <summary>Settings of a <see cref="TrafficRecorder"/>.</summary>
internal sealed class TrafficRecorderOptions
{
    /// <summary>
    /// Bytes of traffic that may wait for the writer, across all connections. 64 MiB holds dozens of
    /// maximum-size (msize 1 MiB and more) reads in flight on every connection while the disk catches up,
    /// yet bounds what a stalled disk can cost the server.
    /// </summary>
    public long MaxQueuedBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>What to do when <see cref="MaxQueuedBytes"/> is reached.</summary>
    public RecordingOverflow Overflow { get; init; } = RecordingOverflow.Drop;

    /// <summary>The clock (tests pass a fake one); timestamps are wall-clock anchored, monotonic in between.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Test hook: the background writer starts only when this completes (to fill the queue on purpose).</summary>
    internal Task? WriterGate { get; init; }
}
