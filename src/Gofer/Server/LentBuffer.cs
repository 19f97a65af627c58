using Gofer.HostFs.Native;

namespace Gofer.Server;

/// <summary>
/// A receive buffer shared between the connection's reader and the workers it lent frames to: a big Twrite runs on a
/// worker straight from the bytes the socket delivered, with no copy. Reference-counted: the reader holds one
/// reference while it receives into the buffer, each lent frame one more; the array goes back to the
/// <see cref="BufferPool"/> when the last is released. The holders themselves are pooled (no allocation per swap).
/// </summary>
internal sealed class LentBuffer
{
    private static readonly Lock s_gate = new();
    private static readonly Stack<LentBuffer> s_free = new();

    private int _refs;

    private LentBuffer()
    {
    }

    public byte[] Array { get; private set; } = [];

    /// <summary>A holder with one reference (the caller's) over a pooled array of at least <paramref name="size"/> bytes.</summary>
    public static LentBuffer Rent(int size)
    {
        LentBuffer? b = null;
        lock (s_gate)
        {
            if (s_free.Count > 0)
                b = s_free.Pop();
        }
        b ??= new LentBuffer();
        b.Array = BufferPool.Shared.Rent(size);
        b._refs = 1;
        return b;
    }

    public void AddRef() => Interlocked.Increment(ref _refs);

    public void Release()
    {
        int left = Interlocked.Decrement(ref _refs);
        if (left > 0)
            return;
        if (left < 0)
            throw new InvalidOperationException("a lent buffer was released more often than it was referenced");
        var array = Array;
        Array = [];
        BufferPool.Shared.Return(array);
        lock (s_gate)
        {
            if (s_free.Count < 1024)
                s_free.Push(this);
        }
    }
}

/// <summary>A reader that can hand a frame of its buffer to a worker without a copy (<see cref="SocketPipe"/>).</summary>
internal interface IFrameLender
{
    /// <summary>
    /// Lends <paramref name="frame"/>, a span of the buffer of the last read, to a worker: the bytes stay unchanged
    /// until <paramref name="holder"/> is released. False when the span is not in the reader's buffer.
    /// </summary>
    bool TryLend(ReadOnlySpan<byte> frame, out LentBuffer? holder, out int offset);
}

/// <summary>A writer that can send bytes straight from the caller's buffer (<see cref="SocketPipe"/>).</summary>
internal interface IDirectSender
{
    /// <summary>
    /// Sends as much of <paramref name="data"/> as the socket takes without waiting, if nothing is buffered ahead of
    /// it (order is kept); returns the count sent (0 when the writer holds data or the socket is full). The caller
    /// writes the rest through the writer as usual. Socket errors surface as <see cref="IOException"/>.
    /// </summary>
    int SendNow(ReadOnlySpan<byte> data);
}

/// <summary>
/// A transport that can move the next bytes of its stream straight into a file (splice(2) through a pipe), so a big
/// Twrite's payload is copied once, into the page cache, instead of into a receive buffer and then again by pwrite.
/// </summary>
internal interface IFileSplicer
{
    /// <summary>True on the connection's own reader thread, between a read and its AdvanceTo.</summary>
    bool CanSplice { get; }

    /// <summary>Makes the pipe (once per connection); false if it cannot, and then nothing else changes.</summary>
    bool PrepareSplice();

    /// <summary>
    /// Takes the next <paramref name="length"/> bytes off the stream (past everything the last read returned) and
    /// writes them to <paramref name="file"/> at <paramref name="offset"/>, or discards them when it is null. Returns the
    /// bytes written; a file error (<paramref name="fileError"/>) stops the writing but not the taking. A transport
    /// failure (end of stream, abort) throws IOException: the stream is then out of step and must be closed.
    /// </summary>
    long SpliceToFile(SafeFd? file, long offset, long length, out Errno fileError);
}
