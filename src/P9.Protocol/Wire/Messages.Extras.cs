namespace P9.Protocol.Wire;

public readonly ref partial struct Tread
{
    /// <summary>EMSGSIZE-class check a server applies after decoding: the reply (11-byte header + count) must fit
    /// in msize. The decoder cannot know msize; servers may instead clamp with <see cref="ReplyWriter.MaxPayload"/>.</summary>
    public P9DecodeError CheckCount(uint msize) =>
        Count > (uint)ReplyWriter.MaxPayload(msize) ? P9DecodeError.CountTooLarge : P9DecodeError.None;
}

public readonly ref partial struct Treaddir
{
    /// <summary>As <see cref="Tread.CheckCount"/>: the Rreaddir must fit in msize.</summary>
    public P9DecodeError CheckCount(uint msize) =>
        Count > (uint)ReplyWriter.MaxPayload(msize) ? P9DecodeError.CountTooLarge : P9DecodeError.None;
}

public readonly ref partial struct Rreaddir
{
    /// <summary>The entries of the payload (bounds-checked as they are read).</summary>
    public DirentReader Entries => new(Data);
}

public readonly ref partial struct Rlerror
{
    /// <summary>Rlerror for a request that failed to decode.</summary>
    public static int Encode(Span<byte> destination, ushort tag, P9DecodeError error) => Encode(destination, tag, error.ToErrno());
}
