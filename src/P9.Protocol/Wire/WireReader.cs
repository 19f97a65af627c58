using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace P9.Protocol.Wire;

/// <summary>
/// Cursor over one contiguous frame. Every read checks what is left before slicing, so a bad length becomes a
/// typed error, never an exception. The first error is sticky: later reads return defaults and
/// <see cref="Finish"/> reports it, which keeps the generated decoders straight-line.
/// </summary>
internal ref struct WireReader
{
    private readonly ReadOnlySpan<byte> _buf;
    private int _pos;
    private P9DecodeError _error;

    public ushort Tag { get; }

    public WireReader(ReadOnlySpan<byte> frame, P9MessageType expected)
    {
        _buf = frame;
        _pos = P9Constants.HeaderSize;
        _error = FrameHeader.TryRead(frame, out var header);
        if (_error == P9DecodeError.None && header.Type != expected)
            _error = P9DecodeError.WrongType;
        Tag = header.Tag;
    }

    private readonly int Left => _buf.Length - _pos;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Fail(P9DecodeError error)
    {
        if (_error == P9DecodeError.None)
            _error = error;
        _pos = _buf.Length;
    }

    private bool Have(int n, P9DecodeError error)
    {
        if (_error == P9DecodeError.None && Left >= n)
            return true;
        Fail(error);
        return false;
    }

    public byte U8()
    {
        if (!Have(1, P9DecodeError.Truncated)) return 0;
        return _buf[_pos++];
    }

    public ushort U16()
    {
        if (!Have(2, P9DecodeError.Truncated)) return 0;
        ushort v = BinaryPrimitives.ReadUInt16LittleEndian(_buf[_pos..]);
        _pos += 2;
        return v;
    }

    public uint U32()
    {
        if (!Have(4, P9DecodeError.Truncated)) return 0;
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(_buf[_pos..]);
        _pos += 4;
        return v;
    }

    public ulong U64()
    {
        if (!Have(8, P9DecodeError.Truncated)) return 0;
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(_buf[_pos..]);
        _pos += 8;
        return v;
    }

    public Qid Qid()
    {
        if (!Have(P9Constants.QidSize, P9DecodeError.Truncated)) return default;
        var q = Wire.Qid.Read(_buf[_pos..]);
        _pos += P9Constants.QidSize;
        return q;
    }

    /// <summary>s = len[2] bytes[len], returned as a UTF-8 slice of the frame.</summary>
    public ReadOnlySpan<byte> Str()
    {
        ushort n = U16();
        if (!Have(n, P9DecodeError.StringPastEnd)) return default;
        var s = _buf.Slice(_pos, n);
        _pos += n;
        return s;
    }

    /// <summary>count[4] data[count], returned as a slice of the frame.</summary>
    public ReadOnlySpan<byte> Data()
    {
        uint n = U32();
        if (_error != P9DecodeError.None) return default;
        if (n > (uint)Left)
        {
            Fail(P9DecodeError.CountPastEnd);
            return default;
        }
        var s = _buf.Slice(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    /// <summary>nwname[2] nwname*(wname[s]); every name is bounds-checked here so enumeration cannot fail.</summary>
    public WalkNames Names()
    {
        ushort n = U16();
        if (_error != P9DecodeError.None) return default;
        if (n > P9Constants.MaxWalkElements)
        {
            Fail(P9DecodeError.TooManyWalkNames);
            return default;
        }
        int start = _pos;
        for (int i = 0; i < n; i++)
            Str();
        return _error == P9DecodeError.None ? new WalkNames(_buf[start.._pos], n) : default;
    }

    /// <summary>nwqid[2] nwqid*(qid[13]).</summary>
    public QidList Qids()
    {
        ushort n = U16();
        if (_error != P9DecodeError.None) return default;
        if (n > P9Constants.MaxWalkElements)
        {
            Fail(P9DecodeError.TooManyQids);
            return default;
        }
        int len = n * P9Constants.QidSize;
        if (!Have(len, P9DecodeError.Truncated)) return default;
        var s = _buf.Slice(_pos, len);
        _pos += len;
        return new QidList(s);
    }

    public readonly P9DecodeError Finish()
    {
        if (_error != P9DecodeError.None) return _error;
        return _pos == _buf.Length ? P9DecodeError.None : P9DecodeError.TrailingBytes;
    }
}
