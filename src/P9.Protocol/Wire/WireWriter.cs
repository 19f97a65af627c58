using System.Buffers.Binary;
using System.Text;

namespace P9.Protocol.Wire;

/// <summary>Cursor over a destination that the caller has already sized exactly (encoders compute the size first).</summary>
internal ref struct WireWriter
{
    private readonly Span<byte> _buf;
    private int _pos;

    /// <summary>Starts a frame: size[4] type[1] tag[2].</summary>
    public WireWriter(Span<byte> dest, int size, P9MessageType type, ushort tag)
    {
        if (dest.Length < size)
            ThrowTooSmall();
        _buf = dest;
        BinaryPrimitives.WriteUInt32LittleEndian(dest, (uint)size);
        dest[4] = (byte)type;
        BinaryPrimitives.WriteUInt16LittleEndian(dest[5..], tag);
        _pos = P9Constants.HeaderSize;
    }

    public readonly int Position => _pos;

    public void U8(byte v) => _buf[_pos++] = v;

    public void U16(ushort v)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_buf[_pos..], v);
        _pos += 2;
    }

    public void U32(uint v)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buf[_pos..], v);
        _pos += 4;
    }

    public void U64(ulong v)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buf[_pos..], v);
        _pos += 8;
    }

    public void Qid(Qid q)
    {
        q.Write(_buf[_pos..]);
        _pos += P9Constants.QidSize;
    }

    public void Str(ReadOnlySpan<byte> s)
    {
        U16((ushort)s.Length);
        s.CopyTo(_buf[_pos..]);
        _pos += s.Length;
    }

    public void Str(string s)
    {
        int n = Encoding.UTF8.GetBytes(s, _buf[(_pos + 2)..]);
        U16((ushort)n);
        _pos += n;
    }

    public void Data(ReadOnlySpan<byte> d)
    {
        U32((uint)d.Length);
        d.CopyTo(_buf[_pos..]);
        _pos += d.Length;
    }

    public void Names(ReadOnlySpan<string> names)
    {
        U16((ushort)names.Length);
        foreach (var n in names)
            Str(n);
    }

    public void Names(WalkNames names)
    {
        U16((ushort)names.Count);
        names.RawBytes.CopyTo(_buf[_pos..]);
        _pos += names.RawBytes.Length;
    }

    public void Qids(ReadOnlySpan<Qid> qids)
    {
        U16((ushort)qids.Length);
        foreach (var q in qids)
            Qid(q);
    }

    public void Qids(QidList qids)
    {
        U16((ushort)qids.Count);
        qids.RawBytes.CopyTo(_buf[_pos..]);
        _pos += qids.RawBytes.Length;
    }

    private static void ThrowTooSmall() => throw new ArgumentException("destination is smaller than the encoded frame");
}

/// <summary>Size helpers shared by encoders; they reject what the wire cannot carry (programmer errors, not bad input).</summary>
internal static class WireSize
{
    public static int Str(ReadOnlySpan<byte> s) => s.Length <= ushort.MaxValue ? 2 + s.Length : ThrowLong();

    public static int Str(string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        return n <= ushort.MaxValue ? 2 + n : ThrowLong();
    }

    public static int Names(ReadOnlySpan<string> names)
    {
        if (names.Length > P9Constants.MaxWalkElements)
            throw new ArgumentException("a walk carries at most 16 names", nameof(names));
        int n = 2;
        foreach (var s in names)
            n += Str(s);
        return n;
    }

    public static int Names(WalkNames names) => 2 + names.RawBytes.Length;

    public static int Qids(ReadOnlySpan<Qid> qids) => qids.Length <= P9Constants.MaxWalkElements
        ? 2 + (qids.Length * P9Constants.QidSize)
        : throw new ArgumentException("a walk reply carries at most 16 qids", nameof(qids));

    public static int Qids(QidList qids) => 2 + qids.RawBytes.Length;

    public static int Data(ReadOnlySpan<byte> d) => 4 + d.Length;

    private static int ThrowLong() => throw new ArgumentException("a 9P string holds at most 65535 bytes");
}
