using System.Buffers.Binary;

namespace P9.Protocol.Wire;

/// <summary>size[4] type[1] tag[2]: the start of every 9P message.</summary>
public readonly record struct FrameHeader(uint Size, byte TypeByte, ushort Tag)
{
    public P9MessageType Type => (P9MessageType)TypeByte;

    /// <summary>Reads the header of one whole frame and checks that size[4] matches the frame's length.</summary>
    public static P9DecodeError TryRead(ReadOnlySpan<byte> frame, out FrameHeader header)
    {
        header = default;
        if (frame.Length < P9Constants.HeaderSize)
            return P9DecodeError.FrameTooShort;
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(frame);
        if (size < P9Constants.HeaderSize)
            return P9DecodeError.FrameTooShort;
        header = new FrameHeader(size, frame[4], BinaryPrimitives.ReadUInt16LittleEndian(frame[5..]));
        return size == (uint)frame.Length ? P9DecodeError.None : P9DecodeError.SizeMismatch;
    }

    /// <summary>Server side: reads the header and checks the type is a 9P2000.L request.
    /// R-types → NotARequest (fatal); dropped 9P2000 requests → UnsupportedMessage; unassigned → UnknownType
    /// (both answerable with Rlerror EOPNOTSUPP, the frame boundary being intact).</summary>
    public static P9DecodeError TryReadRequest(ReadOnlySpan<byte> frame, out FrameHeader header)
    {
        var error = TryRead(frame, out header);
        if (error != P9DecodeError.None)
            return error;
        return P9MessageTypes.Classify(header.TypeByte) switch
        {
            P9TypeClass.Request => P9DecodeError.None,
            P9TypeClass.DroppedRequest => P9DecodeError.UnsupportedMessage,
            P9TypeClass.Reply or P9TypeClass.DroppedReply => P9DecodeError.NotARequest,
            _ => P9DecodeError.UnknownType,
        };
    }

    /// <summary>Client side: reads the header and checks the type is a 9P2000.L reply.</summary>
    public static P9DecodeError TryReadReply(ReadOnlySpan<byte> frame, out FrameHeader header)
    {
        var error = TryRead(frame, out header);
        if (error != P9DecodeError.None)
            return error;
        return P9MessageTypes.Classify(header.TypeByte) switch
        {
            P9TypeClass.Reply => P9DecodeError.None,
            P9TypeClass.DroppedReply => P9DecodeError.UnsupportedMessage,
            P9TypeClass.Request or P9TypeClass.DroppedRequest => P9DecodeError.NotAReply,
            _ => P9DecodeError.UnknownType,
        };
    }
}
