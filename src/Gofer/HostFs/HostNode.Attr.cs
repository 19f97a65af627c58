using Gofer.HostFs.Native;

namespace Gofer.HostFs;

internal sealed partial class HostNode
{
    /// <summary>
    /// Tgetattr. One statx on the node's own fd (works for unlinked and renamed files). Always fills
    /// BASIC, plus BTIME when the host filesystem reports it; GEN and DATA_VERSION are not offered.
    /// <paramref name="requestMask"/> only decides whether btime is asked of the kernel.
    /// </summary>
    public Errno GetAttr(ulong requestMask, out HostAttr attr)
    {
        attr = default;
        if (_disposed)
        {
            return Errno.EBADF; // used after clunk: an error for the client, not an exception
        }

        uint mask = Libc.STATX_BASIC_STATS | ((requestMask & P9L.GetAttrBtime) != 0 ? Libc.STATX_BTIME : 0);
        Errno e = Libc.FStatx(_io ?? PathFd, mask, out Statx st);
        if (e != Errno.None)
        {
            return e;
        }

        attr.Valid = P9L.GetAttrBasic;
        attr.Qid = _export.MakeQid(in st, Kind);
        attr.Mode = st.Mode;
        attr.Uid = st.Uid;
        attr.Gid = st.Gid;
        attr.Nlink = st.Nlink;
        attr.Rdev = MakeDev(st.RdevMajor, st.RdevMinor);
        attr.Size = st.Size;
        attr.Blksize = st.Blksize;
        attr.Blocks = st.Blocks; // statx already counts 512-byte units, as Rgetattr wants
        attr.AtimeSec = (ulong)st.Atime.Sec;
        attr.AtimeNsec = st.Atime.Nsec;
        attr.MtimeSec = (ulong)st.Mtime.Sec;
        attr.MtimeNsec = st.Mtime.Nsec;
        attr.CtimeSec = (ulong)st.Ctime.Sec;
        attr.CtimeNsec = st.Ctime.Nsec;
        if ((st.Mask & Libc.STATX_BTIME) != 0 && (requestMask & P9L.GetAttrBtime) != 0)
        {
            attr.Valid |= P9L.GetAttrBtime;
            attr.BtimeSec = (ulong)st.Btime.Sec;
            attr.BtimeNsec = st.Btime.Nsec;
        }

        return Errno.None;
    }

    /// <summary>
    /// dev_t in the Linux "new" encoding the client decodes (glibc makedev): minor bits 0-7 and 20-31,
    /// major bits 8-19, and the high halves above bit 32.
    /// </summary>
    internal static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xFFFFF000u) << 32) | ((ulong)(major & 0xFFFu) << 8) |
        ((ulong)(minor & 0xFFFFFF00u) << 12) | (minor & 0xFFu);

    /// <summary>
    /// Tsetattr, honouring only the bits in <c>Valid</c> (the kernel fills every field). Applied in the
    /// kernel's notify_change order — mode, owner, size, times — stopping at the first failure.
    /// CTIME alone is a no-op (ctime moves with any change). Everything goes through the node's fd or
    /// its /proc/self/fd magic link, never a name.
    /// </summary>
    public unsafe Errno SetAttr(in SetAttrRequest req)
    {
        if (_disposed)
        {
            return Errno.EBADF; // used after clunk: an error for the client, not an exception
        }

        const uint known = P9L.SetAttrMode | P9L.SetAttrUid | P9L.SetAttrGid | P9L.SetAttrSize | P9L.SetAttrAtime |
            P9L.SetAttrMtime | P9L.SetAttrCtime | P9L.SetAttrAtimeSet | P9L.SetAttrMtimeSet;
        uint valid = req.Valid & known;
        if ((valid & ~P9L.SetAttrCtime) == 0)
        {
            return Errno.None;
        }

        if (_export.ReadOnly)
        {
            return Errno.EROFS;
        }

        Span<byte> proc = stackalloc byte[ProcFdPath.BufferSize];
        SafeFd path = PathFd;
        bool added = false;
        try
        {
            path.DangerousAddRef(ref added);
            ProcFdPath.WriteNumber(path.RawValue, proc);
            fixed (byte* p = proc)
            {
                if ((valid & P9L.SetAttrMode) != 0)
                {
                    // Linux cannot chmod a symlink; the type bits of the request are ignored.
                    if (Kind == NodeKind.Symlink)
                    {
                        return Errno.EOPNOTSUPP;
                    }

                    if (Libc.fchmodat(_export.ProcFd, p, req.Mode & 0xFFF, 0) != 0)
                    {
                        return ErrnoExtensions.Last();
                    }
                }

                if ((valid & (P9L.SetAttrUid | P9L.SetAttrGid)) != 0)
                {
                    uint uid = (valid & P9L.SetAttrUid) != 0 ? req.Uid : uint.MaxValue;
                    uint gid = (valid & P9L.SetAttrGid) != 0 ? req.Gid : uint.MaxValue;
                    byte empty = 0;
                    if (Libc.fchownat(path, &empty, uid, gid, Libc.AT_EMPTY_PATH | Libc.AT_SYMLINK_NOFOLLOW) != 0)
                    {
                        return ErrnoExtensions.Last();
                    }
                }

                if ((valid & P9L.SetAttrSize) != 0)
                {
                    Errno e = Truncate(req.Size);
                    if (e != Errno.None)
                    {
                        return e;
                    }
                }

                if ((valid & (P9L.SetAttrAtime | P9L.SetAttrMtime)) != 0)
                {
                    Timespec* ts = stackalloc Timespec[2];
                    ts[0] = TimeFor(valid, P9L.SetAttrAtime, P9L.SetAttrAtimeSet, req.AtimeSec, req.AtimeNsec);
                    ts[1] = TimeFor(valid, P9L.SetAttrMtime, P9L.SetAttrMtimeSet, req.MtimeSec, req.MtimeNsec);
                    if (ts[0].Nsec >= 1_000_000_000 && ts[0].Nsec != Libc.UTIME_NOW && ts[0].Nsec != Libc.UTIME_OMIT)
                    {
                        return Errno.EINVAL;
                    }

                    if (ts[1].Nsec >= 1_000_000_000 && ts[1].Nsec != Libc.UTIME_NOW && ts[1].Nsec != Libc.UTIME_OMIT)
                    {
                        return Errno.EINVAL;
                    }

                    // Following the magic link lands on the fd's inode, for a symlink fd on the symlink itself.
                    if (Libc.utimensat(_export.ProcFd, p, ts, 0) != 0)
                    {
                        return ErrnoExtensions.Last();
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                path.DangerousRelease();
            }
        }

        return Errno.None;
    }

    private static Timespec TimeFor(uint valid, uint bit, uint setBit, ulong sec, ulong nsec)
    {
        if ((valid & bit) == 0)
        {
            return new Timespec { Sec = 0, Nsec = Libc.UTIME_OMIT };
        }

        if ((valid & setBit) == 0)
        {
            return new Timespec { Sec = 0, Nsec = Libc.UTIME_NOW };
        }

        // Out-of-range values must not turn into UTIME_NOW/OMIT by accident: callers reject nsec ≥ 1e9.
        return new Timespec { Sec = (long)sec, Nsec = nsec > int.MaxValue ? int.MaxValue : (long)nsec };
    }

    /// <summary>
    /// Truncate through a descriptor: the opened one if it can write, otherwise a short-lived O_WRONLY
    /// re-open of the node's inode (as gVisor does) — never a path, so unlinked/renamed files work.
    /// </summary>
    private Errno Truncate(ulong size)
    {
        if (Kind == NodeKind.Directory)
        {
            return Errno.EISDIR;
        }

        if (Kind != NodeKind.Regular)
        {
            return Errno.EINVAL;
        }

        if (size > long.MaxValue)
        {
            return Errno.EFBIG;
        }

        SafeFd? io = _io;
        if (io is not null && (_openFlags & Libc.O_ACCMODE) != Libc.O_RDONLY)
        {
            return Libc.ftruncate(io, (long)size) == 0 ? Errno.None : ErrnoExtensions.Last();
        }

        Errno e = Reopen(PathFd, Libc.O_WRONLY, out SafeFd? tmp);
        if (e != Errno.None)
        {
            return e;
        }

        using (tmp)
        {
            return Libc.ftruncate(tmp!, (long)size) == 0 ? Errno.None : ErrnoExtensions.Last();
        }
    }

    /// <summary>f_type of a v9fs mount (linux include/uapi/linux/magic.h).</summary>
    public const uint V9fsMagic = 0x01021997;

    /// <summary>Tstatfs via fstatfs on the node's fd.</summary>
    public unsafe Errno StatFs(out HostStatFs result)
    {
        result = default;
        if (_disposed)
        {
            return Errno.EBADF; // used after clunk: an error for the client, not an exception
        }

        StatfsBuf b;
        if (Libc.fstatfs(PathFd, &b) != 0)
        {
            return ErrnoExtensions.Last();
        }

        // The filesystem type is V9FS_MAGIC, as diod reports, not the host's: the sandbox learns nothing of
        // the host's filesystem and programs that look at f_type see the 9p filesystem they are really on.
        result.Type = V9fsMagic;
        result.Bsize = (uint)b.Bsize;
        result.Blocks = b.Blocks;
        result.Bfree = b.Bfree;
        result.Bavail = b.Bavail;
        result.Files = b.Files;
        result.Ffree = b.Ffree;
        result.Fsid = (uint)b.Fsid0 | ((ulong)(uint)b.Fsid1 << 32);
        result.Namelen = (uint)b.Namelen;
        return Errno.None;
    }
}
