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

    /// <summary>Rlerror for a request that failed to decode.</summary>
    public static void Encode(System.Buffers.IBufferWriter<byte> writer, ushort tag, P9DecodeError error) => Encode(writer, tag, error.ToErrno());
}

public readonly ref partial struct Tversion
{
    /// <summary>True for "9P2000.L" and for "9P2000.L." followed by anything (gVisor's "9P2000.L.Google.N"):
    /// the server answers "9P2000.L" to these and "unknown" to everything else.</summary>
    public static bool IsDotL(ReadOnlySpan<byte> version) =>
        version.SequenceEqual("9P2000.L"u8) || version.StartsWith("9P2000.L."u8);
}
