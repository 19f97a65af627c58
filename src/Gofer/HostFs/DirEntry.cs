namespace Gofer.HostFs;

/// <summary>
/// One directory entry as getdents64 gave it, with its 9P qid (path from d_ino mapped through the
/// export's qid map using the directory's device; no stat per entry) and its resume cookie (d_off).
/// <see cref="Name"/> points into HostFs's buffer and is valid only during the callback.
/// </summary>
internal readonly ref struct DirEntry
{
    public DirEntry(Qid qid, ulong offset, byte type, ReadOnlySpan<byte> name)
    {
        Qid = qid;
        Offset = offset;
        Type = type;
        Name = name;
    }

    public Qid Qid { get; }

    /// <summary>The cookie that resumes after this entry (telldir semantics).</summary>
    public ulong Offset { get; }

    /// <summary>Linux d_type (DT_*), handed to the client unchanged.</summary>
    public byte Type { get; }

    public ReadOnlySpan<byte> Name { get; }
}

/// <summary>Receives entries; returns false when it has no room, and that entry is then offered again next time.</summary>
internal interface IDirentSink
{
    bool TryAdd(in DirEntry entry);
}

/// <summary>
/// A sink that lays entries out as Rreaddir data through the codec's <see cref="P9.Protocol.Wire.DirentWriter"/>
/// (qid[13] offset[8] type[1] name[s] per entry, whole entries only), so the wire layout lives in one place.
/// Handlers use it to fill the reply span.
/// </summary>
internal ref struct RreaddirWriter : IDirentSink
{
    private P9.Protocol.Wire.DirentWriter _writer;

    public RreaddirWriter(Span<byte> dest) => _writer = new P9.Protocol.Wire.DirentWriter(dest);

    public readonly int Written => _writer.Written;

    public readonly int Count => _writer.Count;

    public bool TryAdd(in DirEntry entry) => _writer.TryAppend(
        new P9.Protocol.Wire.Qid((P9.Protocol.Wire.QidType)entry.Qid.Type, entry.Qid.Version, entry.Qid.Path),
        entry.Offset, (P9.Protocol.Wire.DirentType)entry.Type, entry.Name);
}
