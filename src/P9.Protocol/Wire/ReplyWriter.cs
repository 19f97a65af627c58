using System.Buffers;
using System.Buffers.Binary;

namespace P9.Protocol.Wire;

/// <summary>
/// Fill-in-place encoding for the two replies whose payload the server produces itself (Rread, Rreaddir):
/// reserve header + maximum payload in the output, let the server pread / append entries straight into it,
/// then fix size[4] and count[4] and advance by what was really written. No intermediate buffer, no copy.
/// <code>
/// var reply = ReplyWriter.BeginRread(output, tag, maxCount);   // payload span inside the output buffer
/// int n = pread(fd, reply.Payload, offset);
/// reply.Commit(n);                                             // size = 11 + n, count = n, output.Advance(11 + n)
/// </code>
/// For async I/O (a ref struct cannot cross an await) take <c>GetMemory(Rread.HeaderSize + max)</c> yourself, read into
/// <c>memory[ReplyWriter.PayloadOffset..]</c>, then <see cref="WriteReadHeader"/> and Advance.
/// </summary>
public static class ReplyWriter
{
    /// <summary>size[4] type[1] tag[2] count[4]: where the payload starts in an Rread/Rreaddir frame.</summary>
    public const int PayloadOffset = P9Constants.ReadReplyHeaderSize;

    /// <summary>Largest payload an Rread/Rreaddir can carry within msize.</summary>
    public static int MaxPayload(uint msize) => (int)Math.Min(int.MaxValue, Math.Max(0L, (long)msize - PayloadOffset));

    // size[4] Rread tag[2] count[4] data[count]
    public static PendingReply BeginRread(IBufferWriter<byte> writer, ushort tag, int maxCount) =>
        Begin(writer, P9MessageType.Rread, tag, maxCount);

    // size[4] Rreaddir tag[2] count[4] data[count], data = entries qid[13] offset[8] type[1] name[s]
    public static PendingReply BeginRreaddir(IBufferWriter<byte> writer, ushort tag, int maxCount) =>
        Begin(writer, P9MessageType.Rreaddir, tag, maxCount);

    /// <summary>Writes the Rread/Rreaddir header for a payload of <paramref name="count"/> bytes already placed at
    /// <see cref="PayloadOffset"/>. Returns the frame size to Advance by.</summary>
    public static int WriteReadHeader(Span<byte> frame, P9MessageType type, ushort tag, int count)
    {
        if (type is not (P9MessageType.Rread or P9MessageType.Rreaddir))
            throw new ArgumentException("only Rread and Rreaddir carry a filled-in payload", nameof(type));
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int size = PayloadOffset + count;
        if (frame.Length < size)
            throw new ArgumentException("frame is smaller than header + count", nameof(frame));
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)size);
        frame[4] = (byte)type;
        BinaryPrimitives.WriteUInt16LittleEndian(frame[5..], tag);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[7..], (uint)count);
        return size;
    }

    private static PendingReply Begin(IBufferWriter<byte> writer, P9MessageType type, ushort tag, int maxCount)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentOutOfRangeException.ThrowIfNegative(maxCount);
        var span = writer.GetSpan(PayloadOffset + maxCount)[..(PayloadOffset + maxCount)];
        return new PendingReply(writer, span, type, tag);
    }
}

/// <summary>An Rread/Rreaddir reserved in the output; fill <see cref="Payload"/> then <see cref="Commit"/> once.</summary>
public ref struct PendingReply
{
    private readonly IBufferWriter<byte> _writer;
    private readonly Span<byte> _frame;
    private readonly P9MessageType _type;
    private readonly ushort _tag;
    private bool _committed;

    internal PendingReply(IBufferWriter<byte> writer, Span<byte> frame, P9MessageType type, ushort tag)
    {
        _writer = writer;
        _frame = frame;
        _type = type;
        _tag = tag;
        _committed = false;
    }

    /// <summary>Room for up to maxCount payload bytes, inside the output buffer.</summary>
    public readonly Span<byte> Payload => _frame[ReplyWriter.PayloadOffset..];

    /// <summary>Fixes size[4] and count[4] for <paramref name="count"/> bytes and advances the writer.</summary>
    public void Commit(int count)
    {
        if (_committed)
            throw new InvalidOperationException("reply already committed");
        if ((uint)count > (uint)Payload.Length)
            throw new ArgumentOutOfRangeException(nameof(count), "count exceeds the reserved payload");
        int size = ReplyWriter.WriteReadHeader(_frame, _type, _tag, count);
        _committed = true;
        _writer.Advance(size);
    }
}
