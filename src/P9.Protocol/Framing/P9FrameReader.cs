using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using P9.Protocol.Wire;

namespace P9.Protocol.Framing;

public enum P9ReadStatus
{
    /// <summary><see cref="P9FrameReadResult.Frame"/> holds one whole frame; call <see cref="P9FrameReader.Release"/> when done.</summary>
    Frame,
    /// <summary>The peer closed the stream cleanly between frames.</summary>
    Completed,
    /// <summary>The pending read was cancelled (PipeReader.CancelPendingRead).</summary>
    Canceled,
    /// <summary>A framing error (see <see cref="P9FrameReadResult.Error"/>); the connection must be closed.</summary>
    Error,
}

/// <summary>One whole frame (size[4] type[1] tag[2] body). Memory is borrowed: valid until <see cref="P9FrameReader.Release"/>.</summary>
public readonly struct P9Frame
{
    internal P9Frame(ReadOnlyMemory<byte> memory) => Memory = memory;

    public ReadOnlyMemory<byte> Memory { get; }

    public ReadOnlySpan<byte> Span => Memory.Span;

    /// <summary>Copies the frame into a pooled buffer the caller owns (dispose it once): for handing a request to
    /// another task so the reader can release the pipe buffer and read the next frame meanwhile.</summary>
    public OwnedFrame CopyToOwned() => OwnedFrame.Copy(Memory.Span);
}

public readonly struct P9FrameReadResult
{
    internal P9FrameReadResult(P9ReadStatus status, P9Frame frame, P9DecodeError error)
    {
        Status = status;
        Frame = frame;
        Error = error;
    }

    public P9ReadStatus Status { get; }

    public P9Frame Frame { get; }

    public P9DecodeError Error { get; }
}

/// <summary>
/// A frame copied into an ArrayPool buffer, owned by one request. Dispose exactly once (it is a struct: do not
/// dispose copies of it separately). Cost: one Rent and one memcpy of the frame.
/// </summary>
public struct OwnedFrame : IDisposable
{
    private byte[]? _array;
    private readonly int _length;

    private OwnedFrame(byte[] array, int length)
    {
        _array = array;
        _length = length;
    }

    public static OwnedFrame Copy(ReadOnlySpan<byte> frame)
    {
        var array = ArrayPool<byte>.Shared.Rent(Math.Max(frame.Length, 1));
        frame.CopyTo(array);
        return new OwnedFrame(array, frame.Length);
    }

    public readonly ReadOnlyMemory<byte> Memory => _array is null ? default : _array.AsMemory(0, _length);

    public readonly ReadOnlySpan<byte> Span => Memory.Span;

    public void Dispose()
    {
        var array = _array;
        _array = null;
        if (array is not null)
            ArrayPool<byte>.Shared.Return(array);
    }
}

/// <summary>
/// Reads whole 9P frames from a PipeReader (Kestrel style). Intended server loop:
/// <code>
/// var frames = new P9FrameReader(connection.Input);            // 8192-byte cap until Tversion
/// while (true)
/// {
///     var result = await frames.ReadAsync(ct);
///     if (result.Status != P9ReadStatus.Frame) break;            // Completed / Canceled / Error (close, log result.Error)
///     try { Dispatch(result.Frame.Span); }                       // decode in place; Rversion → frames.MaxFrameSize = msize
///     finally { frames.Release(); }                              // the span is invalid after this
/// }
/// </code>
/// To run a request concurrently, take <c>result.Frame.CopyToOwned()</c> before Release and dispose it when the
/// request completes; quick requests can be decoded and answered in place without a copy.
/// A frame that lies in one pipe segment is handed out in place; one that spans segments is copied into a pooled
/// buffer (only then). A partial frame marks the whole buffer examined, so the loop sleeps until more bytes come.
/// Not thread-safe: one reader loop per connection.
/// </summary>
public sealed class P9FrameReader
{
    private readonly PipeReader _input;
    private bool _held;
    private SequencePosition _frameEnd;
    private byte[]? _rented;
    private P9DecodeError _fault;

    public P9FrameReader(PipeReader input, uint maxFrameSize = P9Constants.PreVersionMaxFrame)
    {
        _input = input ?? throw new ArgumentNullException(nameof(input));
        MaxFrameSize = maxFrameSize;
    }

    /// <summary>The largest size[4] accepted: a small cap before version negotiation, then the negotiated msize.</summary>
    public uint MaxFrameSize { get; set; }

    /// <summary>Number of PipeReader.ReadAsync calls made (diagnostics; lets tests prove the loop does not spin).</summary>
    public long PipeReads { get; private set; }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<P9FrameReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_held)
            throw new InvalidOperationException("Release the previous frame before reading the next one.");
        if (_fault != P9DecodeError.None)
            return new P9FrameReadResult(P9ReadStatus.Error, default, _fault);
        while (true)
        {
            var read = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            PipeReads++;
            var buffer = read.Buffer;
            var status = P9FrameScanner.Scan(buffer, MaxFrameSize, out int length, out var error);
            if (status == FrameScanStatus.Frame)
                return Hand(buffer.Slice(0, length));
            if (status == FrameScanStatus.Error)
            {
                _input.AdvanceTo(buffer.Start, buffer.End);
                _fault = error;
                return new P9FrameReadResult(P9ReadStatus.Error, default, error);
            }
            // Partial frame: consume nothing, examine everything, so the next ReadAsync waits for new bytes.
            if (read.IsCompleted)
            {
                bool clean = buffer.IsEmpty;
                _input.AdvanceTo(buffer.End);
                if (clean)
                    return new P9FrameReadResult(P9ReadStatus.Completed, default, P9DecodeError.None);
                _fault = P9DecodeError.TruncatedStream;
                return new P9FrameReadResult(P9ReadStatus.Error, default, _fault);
            }
            _input.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCanceled)
                return new P9FrameReadResult(P9ReadStatus.Canceled, default, P9DecodeError.None);
        }
    }

    private P9FrameReadResult Hand(ReadOnlySequence<byte> frame)
    {
        _held = true;
        if (frame.IsSingleSegment)
        {
            _frameEnd = frame.End;
            return new P9FrameReadResult(P9ReadStatus.Frame, new P9Frame(frame.First), P9DecodeError.None);
        }
        // Spans segments: copy once into a pooled buffer and give the pipe its memory back at once.
        int length = (int)frame.Length;
        _rented = ArrayPool<byte>.Shared.Rent(length);
        frame.CopyTo(_rented);
        _input.AdvanceTo(frame.End);
        return new P9FrameReadResult(P9ReadStatus.Frame, new P9Frame(_rented.AsMemory(0, length)), P9DecodeError.None);
    }

    /// <summary>Ends the use of the last frame: advances the pipe past it (or returns the pooled copy).</summary>
    public void Release()
    {
        if (!_held)
            return;
        _held = false;
        if (_rented is { } rented)
        {
            _rented = null;
            ArrayPool<byte>.Shared.Return(rented);
        }
        else
        {
            // consumed == examined == end of this frame: bytes already buffered after it are seen by the next read.
            _input.AdvanceTo(_frameEnd);
        }
    }
}
