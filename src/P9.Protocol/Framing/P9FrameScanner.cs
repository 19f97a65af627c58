using System.Buffers;
using System.Buffers.Binary;
using P9.Protocol.Wire;

namespace P9.Protocol.Framing;

public enum FrameScanStatus
{
    /// <summary>Not enough bytes yet for the size field or the whole frame.</summary>
    NeedMoreData,
    /// <summary>A whole frame of frameLength bytes starts the buffer.</summary>
    Frame,
    /// <summary>The size field is invalid; the stream cannot be resynchronised.</summary>
    Error,
}

/// <summary>
/// "Where does the frame end?" — kept apart from decoding, a pure function over the buffered bytes.
/// size[4] is checked against the limit as soon as its 4 bytes are present, before the body is awaited,
/// so a hostile size never makes us buffer more than the limit.
/// </summary>
public static class P9FrameScanner
{
    // size[4] type[1] tag[2] body[size-7]
    public static FrameScanStatus Scan(in ReadOnlySequence<byte> buffer, uint maxFrameSize, out int frameLength, out P9DecodeError error)
    {
        frameLength = 0;
        error = P9DecodeError.None;
        if (buffer.Length < 4)
            return FrameScanStatus.NeedMoreData;
        uint size;
        var first = buffer.FirstSpan;
        if (first.Length >= 4)
        {
            size = BinaryPrimitives.ReadUInt32LittleEndian(first);
        }
        else
        {
            Span<byte> four = stackalloc byte[4];
            buffer.Slice(0, 4).CopyTo(four);
            size = BinaryPrimitives.ReadUInt32LittleEndian(four);
        }
        return Classify(size, buffer.Length, maxFrameSize, out frameLength, out error);
    }

    // size[4] type[1] tag[2] body[size-7]
    public static FrameScanStatus Scan(ReadOnlySpan<byte> buffer, uint maxFrameSize, out int frameLength, out P9DecodeError error)
    {
        frameLength = 0;
        error = P9DecodeError.None;
        if (buffer.Length < 4)
            return FrameScanStatus.NeedMoreData;
        return Classify(BinaryPrimitives.ReadUInt32LittleEndian(buffer), buffer.Length, maxFrameSize, out frameLength, out error);
    }

    private static FrameScanStatus Classify(uint size, long available, uint maxFrameSize, out int frameLength, out P9DecodeError error)
    {
        frameLength = 0;
        error = P9DecodeError.None;
        if (size < P9Constants.HeaderSize)
        {
            error = P9DecodeError.FrameTooShort;
            return FrameScanStatus.Error;
        }
        // int.MaxValue bound: frames are handed out as one contiguous Memory<byte>.
        if (size > maxFrameSize || size > int.MaxValue)
        {
            error = P9DecodeError.FrameTooLarge;
            return FrameScanStatus.Error;
        }
        if (available < size)
            return FrameScanStatus.NeedMoreData;
        frameLength = (int)size;
        return FrameScanStatus.Frame;
    }
}
