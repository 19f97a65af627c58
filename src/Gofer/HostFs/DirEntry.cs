using System.Buffers.Binary;

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
/// A sink that lays entries out as Rreaddir data: qid[13] offset[8] type[1] name[s] per entry
/// (9P2000.L readdir), little-endian, whole entries only. Handlers can use it to fill the reply span.
/// </summary>
internal ref struct RreaddirWriter : IDirentSink
{
    private readonly Span<byte> _dest;

    public RreaddirWriter(Span<byte> dest)
    {
        _dest = dest;
        Written = 0;
        Count = 0;
    }

    public int Written { get; private set; }

    public int Count { get; private set; }

    public bool TryAdd(in DirEntry entry)
    {
        int need = 13 + 8 + 1 + 2 + entry.Name.Length;
        if (_dest.Length - Written < need)
        {
            return false;
        }

        Span<byte> d = _dest.Slice(Written, need);
        d[0] = entry.Qid.Type;
        BinaryPrimitives.WriteUInt32LittleEndian(d[1..], entry.Qid.Version);
        BinaryPrimitives.WriteUInt64LittleEndian(d[5..], entry.Qid.Path);
        BinaryPrimitives.WriteUInt64LittleEndian(d[13..], entry.Offset);
        d[21] = entry.Type;
        BinaryPrimitives.WriteUInt16LittleEndian(d[22..], (ushort)entry.Name.Length);
        entry.Name.CopyTo(d[24..]);
        Written += need;
        Count++;
        return true;
    }
}
