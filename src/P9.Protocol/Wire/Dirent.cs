using System.Buffers.Binary;

namespace P9.Protocol.Wire;

/// <summary>One Rreaddir entry: qid[13] offset[8] type[1] name[s]. Name is a UTF-8 slice of the reply.</summary>
public readonly ref struct Dirent
{
    public Qid Qid { get; init; }

    /// <summary>The cookie that resumes after this entry (telldir semantics).</summary>
    public ulong Offset { get; init; }

    /// <summary>Linux d_type, not the qid type.</summary>
    public DirentType Type { get; init; }

    public ReadOnlySpan<byte> Name { get; init; }

    /// <summary>Encoded size of an entry with a name of this many UTF-8 bytes.</summary>
    public static int SizeOf(int nameLength) => P9Constants.DirentHeaderSize + nameLength;
}

/// <summary>
/// Client side: walks the entries of an Rreaddir payload. Every entry is bounds-checked; a malformed payload ends
/// the enumeration with <see cref="Error"/> set instead of throwing.
/// </summary>
public ref struct DirentReader
{
    private ReadOnlySpan<byte> _rest;

    public DirentReader(ReadOnlySpan<byte> data)
    {
        _rest = data;
        Error = P9DecodeError.None;
    }

    /// <summary>Set when the payload ended inside an entry.</summary>
    public P9DecodeError Error { get; private set; }

    // qid[13] offset[8] type[1] name[s]
    public bool TryRead(out Dirent entry)
    {
        entry = default;
        if (_rest.IsEmpty || Error != P9DecodeError.None)
            return false;
        if (_rest.Length < P9Constants.DirentHeaderSize)
        {
            Error = P9DecodeError.Truncated;
            return false;
        }
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(_rest[22..]);
        if (_rest.Length - P9Constants.DirentHeaderSize < nameLength)
        {
            Error = P9DecodeError.StringPastEnd;
            return false;
        }
        entry = new Dirent
        {
            Qid = Qid.Read(_rest),
            Offset = BinaryPrimitives.ReadUInt64LittleEndian(_rest[13..]),
            Type = (DirentType)_rest[21],
            Name = _rest.Slice(P9Constants.DirentHeaderSize, nameLength),
        };
        _rest = _rest[(P9Constants.DirentHeaderSize + nameLength)..];
        return true;
    }
}

/// <summary>
/// Server side: appends whole entries into an Rreaddir payload (typically the span from
/// <see cref="ReplyWriter.BeginRreaddir"/>). <see cref="TryAppend(Qid, ulong, DirentType, ReadOnlySpan{byte})"/>
/// returns false, writing nothing, when the next entry does not fit: the caller then commits
/// <see cref="Written"/> bytes and resumes from the last appended offset on the next Treaddir.
/// </summary>
public ref struct DirentWriter
{
    private readonly Span<byte> _buf;

    public DirentWriter(Span<byte> payload)
    {
        _buf = payload;
        Written = 0;
        Count = 0;
    }

    /// <summary>Bytes of whole entries written so far: the Rreaddir count.</summary>
    public int Written { get; private set; }

    /// <summary>Entries written so far.</summary>
    public int Count { get; private set; }

    // qid[13] offset[8] type[1] name[s]
    public bool TryAppend(Qid qid, ulong offset, DirentType type, ReadOnlySpan<byte> name)
    {
        if (name.Length > ushort.MaxValue)
            throw new ArgumentException("a 9P string holds at most 65535 bytes", nameof(name));
        int size = P9Constants.DirentHeaderSize + name.Length;
        if (_buf.Length - Written < size)
            return false;
        var s = _buf.Slice(Written, size);
        qid.Write(s);
        BinaryPrimitives.WriteUInt64LittleEndian(s[13..], offset);
        s[21] = (byte)type;
        BinaryPrimitives.WriteUInt16LittleEndian(s[22..], (ushort)name.Length);
        name.CopyTo(s[P9Constants.DirentHeaderSize..]);
        Written += size;
        Count++;
        return true;
    }
}
