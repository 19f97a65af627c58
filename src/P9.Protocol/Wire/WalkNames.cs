using System.Buffers.Binary;

namespace P9.Protocol.Wire;

/// <summary>The wname[s] list of a Twalk, as a view over the frame. Bounds were checked at decode (nwname ≤ 16,
/// every length inside the frame), so enumeration cannot fail. Names are raw UTF-8 bytes: validating them
/// ("", ".", "..", "/", NUL) is the server's job.</summary>
public readonly ref struct WalkNames
{
    internal WalkNames(ReadOnlySpan<byte> raw, int count)
    {
        RawBytes = raw;
        Count = count;
    }

    /// <summary>The encoded names (each len[2] bytes), without the nwname[2] prefix.</summary>
    public ReadOnlySpan<byte> RawBytes { get; }

    public int Count { get; }

    /// <summary>The i-th name (a linear scan; at most 16 names).</summary>
    public ReadOnlySpan<byte> this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(index));
            var e = GetEnumerator();
            for (int i = 0; i <= index; i++)
                e.MoveNext();
            return e.Current;
        }
    }

    public Enumerator GetEnumerator() => new(RawBytes);

    public ref struct Enumerator
    {
        private ReadOnlySpan<byte> _rest;

        internal Enumerator(ReadOnlySpan<byte> raw)
        {
            _rest = raw;
            Current = default;
        }

        public ReadOnlySpan<byte> Current { get; private set; }

        public bool MoveNext()
        {
            if (_rest.Length < 2)
                return false;
            int n = BinaryPrimitives.ReadUInt16LittleEndian(_rest);
            Current = _rest.Slice(2, n);
            _rest = _rest[(2 + n)..];
            return true;
        }
    }
}

/// <summary>The qid list of an Rwalk, as a view over the frame (nwqid ≤ 16 checked at decode).</summary>
public readonly ref struct QidList
{
    internal QidList(ReadOnlySpan<byte> raw) => RawBytes = raw;

    /// <summary>The encoded qids (13 bytes each), without the nwqid[2] prefix.</summary>
    public ReadOnlySpan<byte> RawBytes { get; }

    public int Count => RawBytes.Length / P9Constants.QidSize;

    public Qid this[int index] => (uint)index < (uint)Count
        ? Qid.Read(RawBytes.Slice(index * P9Constants.QidSize, P9Constants.QidSize))
        : throw new ArgumentOutOfRangeException(nameof(index));

    public Enumerator GetEnumerator() => new(RawBytes);

    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _raw;
        private int _next;

        internal Enumerator(ReadOnlySpan<byte> raw)
        {
            _raw = raw;
            _next = -P9Constants.QidSize;
        }

        public readonly Qid Current => Qid.Read(_raw.Slice(_next, P9Constants.QidSize));

        public bool MoveNext()
        {
            _next += P9Constants.QidSize;
            return _next + P9Constants.QidSize <= _raw.Length;
        }
    }
}
