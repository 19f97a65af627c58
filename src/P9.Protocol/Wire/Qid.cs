using System.Buffers.Binary;

namespace P9.Protocol.Wire;

/// <summary>qid = type[1] version[4] path[8]: the server's identity for a file.</summary>
public readonly record struct Qid(QidType Type, uint Version, ulong Path)
{
    internal static Qid Read(ReadOnlySpan<byte> s) =>
        new((QidType)s[0], BinaryPrimitives.ReadUInt32LittleEndian(s[1..]), BinaryPrimitives.ReadUInt64LittleEndian(s[5..]));

    internal void Write(Span<byte> s)
    {
        s[0] = (byte)Type;
        BinaryPrimitives.WriteUInt32LittleEndian(s[1..], Version);
        BinaryPrimitives.WriteUInt64LittleEndian(s[5..], Path);
    }

    /// <summary>Linux debug style: (path version type), hex.</summary>
    public override string ToString() => $"({Path:x16} {Version:x} {(byte)Type:x2})";
}
