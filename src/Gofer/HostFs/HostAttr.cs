namespace Gofer.HostFs;

/// <summary>
/// Every field of Rgetattr (9P2000.L): valid[8] qid[13] mode[4] uid[4] gid[4] nlink[8] rdev[8] size[8]
/// blksize[8] blocks[8] atime_sec[8] atime_nsec[8] mtime_sec[8] mtime_nsec[8] ctime_sec[8] ctime_nsec[8]
/// btime_sec[8] btime_nsec[8] gen[8] data_version[8]. Fields not in <see cref="Valid"/> are zero.
/// </summary>
internal struct HostAttr
{
    public ulong Valid;
    public Qid Qid;
    public uint Mode;
    public uint Uid;
    public uint Gid;
    public ulong Nlink;
    public ulong Rdev;
    public ulong Size;
    public ulong Blksize;
    public ulong Blocks;
    public ulong AtimeSec;
    public ulong AtimeNsec;
    public ulong MtimeSec;
    public ulong MtimeNsec;
    public ulong CtimeSec;
    public ulong CtimeNsec;
    public ulong BtimeSec;
    public ulong BtimeNsec;
    public ulong Gen;
    public ulong DataVersion;
}

/// <summary>Tsetattr's body: valid[4] mode[4] uid[4] gid[4] size[8] atime_sec[8] atime_nsec[8] mtime_sec[8] mtime_nsec[8].</summary>
internal struct SetAttrRequest
{
    public uint Valid;
    public uint Mode;
    public uint Uid;
    public uint Gid;
    public ulong Size;
    public ulong AtimeSec;
    public ulong AtimeNsec;
    public ulong MtimeSec;
    public ulong MtimeNsec;
}

/// <summary>Rstatfs: type[4] bsize[4] blocks[8] bfree[8] bavail[8] files[8] ffree[8] fsid[8] namelen[4].</summary>
internal struct HostStatFs
{
    public uint Type;
    public uint Bsize;
    public ulong Blocks;
    public ulong Bfree;
    public ulong Bavail;
    public ulong Files;
    public ulong Ffree;
    public ulong Fsid;
    public uint Namelen;
}
