using P9.Protocol.Wire;

namespace P9.Protocol.Client;

/// <summary>Rgetattr, as a value. Only the fields whose bit is set in <see cref="Valid"/> are meaningful.</summary>
public readonly record struct P9Attr(
    GetattrMask Valid, Qid Qid, uint Mode, uint Uid, uint Gid, ulong Nlink, ulong Rdev, ulong Size, ulong Blksize,
    ulong Blocks, ulong AtimeSec, ulong AtimeNsec, ulong MtimeSec, ulong MtimeNsec, ulong CtimeSec, ulong CtimeNsec,
    ulong BtimeSec, ulong BtimeNsec, ulong Gen, ulong DataVersion);

/// <summary>Tsetattr arguments. Only the fields whose bit is set in <see cref="Valid"/> are honoured by the server.</summary>
public readonly record struct P9SetAttr
{
    public SetattrMask Valid { get; init; }
    public uint Mode { get; init; }
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public ulong Size { get; init; }
    public ulong AtimeSec { get; init; }
    public ulong AtimeNsec { get; init; }
    public ulong MtimeSec { get; init; }
    public ulong MtimeNsec { get; init; }
}

/// <summary>Rstatfs, as a value (fields follow statfs(2)).</summary>
public readonly record struct P9StatFs(uint Type, uint Bsize, ulong Blocks, ulong Bfree, ulong Bavail, ulong Files,
    ulong Ffree, ulong Fsid, uint Namelen);

/// <summary>One directory entry; <see cref="Offset"/> is the cookie that resumes after it.</summary>
public readonly record struct P9DirEntry(Qid Qid, ulong Offset, DirentType Type, string Name);

/// <summary>Rgetlock, as a value.</summary>
public readonly record struct P9LockInfo(LockType Type, ulong Start, ulong Length, uint ProcId, string ClientId);

/// <summary>
/// Result of <see cref="P9Fid.WalkPartialAsync"/>: how many names resolved (their qids are in the caller's buffer),
/// and the new handle when all of them did (null otherwise: a short Rwalk creates no fid).
/// </summary>
public readonly record struct P9WalkResult(int Resolved, P9Fid? Fid)
{
    public bool IsComplete => Fid is not null;
}
