using Gofer.HostFs.Native;

namespace Gofer.HostFs;

internal sealed partial class HostNode
{
    /// <summary>
    /// Tlopen. Re-opens the node's own inode through /proc/self/fd/N with the translated flags.
    /// Refused: symlinks (ELOOP), character and block devices and FIFOs (EPERM), sockets (ENXIO, what
    /// open(2) says for a socket) — CVE-2023-2861: the gofer never opens a special file on the host.
    /// <paramref name="iounit"/> is 0 ("use msize − 24").
    /// </summary>
    public unsafe Errno Open(uint lopenFlags, out Qid qid, out uint iounit)
    {
        qid = Qid;
        iounit = 0;
        if (_disposed)
        {
            return Errno.EBADF; // used after clunk: an error for the client, not an exception
        }

        if (_io is not null)
        {
            return Errno.EINVAL;
        }

        Errno e = LopenFlags.ToHost(lopenFlags, out int host);
        if (e != Errno.None)
        {
            return e;
        }

        if (_export.ReadOnly && LopenFlags.Mutates(lopenFlags))
        {
            return Errno.EROFS;
        }

        e = CheckOpenable(Kind, host);
        if (e != Errno.None)
        {
            return e;
        }

        if (Kind == NodeKind.Directory)
        {
            host |= Libc.O_DIRECTORY;
        }

        e = Reopen(PathFd, host, out SafeFd? fd);
        if (e != Errno.None)
        {
            return e;
        }

        _io = fd;
        _openFlags = host;
        // Refresh the qid: O_TRUNC or writes since the walk change size/mtime, which the version may use.
        if (Libc.FStatx(fd!, Libc.STATX_BASIC_STATS, out Statx st) == Errno.None)
        {
            Qid = _export.MakeQid(in st, Kind);
        }

        qid = Qid;
        return Errno.None;
    }

    private static Errno CheckOpenable(NodeKind kind, int host) => kind switch
    {
        NodeKind.Regular => (host & Libc.O_DIRECTORY) != 0 ? Errno.ENOTDIR : Errno.None,
        NodeKind.Directory => (host & Libc.O_ACCMODE) != Libc.O_RDONLY || (host & Libc.O_TRUNC) != 0 ? Errno.EISDIR : Errno.None,
        NodeKind.Symlink => Errno.ELOOP,
        NodeKind.Socket => Errno.ENXIO,
        _ => Errno.EPERM, // character/block devices, FIFOs, unknown types
    };

    /// <summary>openat(/proc/self/fd, "N", flags): the magic link is the inode the fd holds, nothing else.</summary>
    internal unsafe Errno Reopen(SafeFd pathFd, int host, out SafeFd? fd)
    {
        fd = null;
        Span<byte> num = stackalloc byte[ProcFdPath.BufferSize];
        ProcFdPath.WriteNumber(pathFd.RawValue, num);
        bool added = false;
        try
        {
            // Hold the O_PATH fd so its number cannot be closed and reused while we open through it.
            pathFd.DangerousAddRef(ref added);
            int flags = host | Libc.O_CLOEXEC | Libc.O_NOCTTY;
            int r;
            fixed (byte* p = num)
            {
                r = Libc.openat(_export.ProcFd, p, flags, 0);
                if (r < 0 && (flags & Libc.O_NOATIME) != 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == (int)Errno.EPERM)
                {
                    // O_NOATIME needs ownership or CAP_FOWNER; QEMU retries without it, so do we.
                    r = Libc.openat(_export.ProcFd, p, flags & ~Libc.O_NOATIME, 0);
                }
            }

            if (r < 0)
            {
                return ErrnoExtensions.Last();
            }

            fd = SafeFd.Rent(r);
            return Errno.None;
        }
        finally
        {
            if (added)
            {
                pathFd.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Tlcreate: creates <paramref name="name"/> in this directory (always O_EXCL, never following a
    /// symlink), chowns it to uid/gid when the export is configured to, and turns this node into the
    /// opened new file. uid/gid of uint.MaxValue leave that id unchanged. On any failure after the
    /// create, the new file is unlinked again (best effort) and this node is unchanged.
    /// </summary>
    public unsafe Errno Create(ReadOnlySpan<byte> name, uint lopenFlags, uint mode, uint uid, uint gid, out Qid qid)
    {
        qid = default;
        if (_disposed)
        {
            return Errno.EBADF; // used after clunk: an error for the client, not an exception
        }

        Errno e = NameValidator.ValidateEntry(name);
        if (e != Errno.None)
        {
            return e;
        }

        if (Kind != NodeKind.Directory)
        {
            return Errno.ENOTDIR;
        }

        if (_io is not null)
        {
            return Errno.EINVAL;
        }

        if (_export.ReadOnly)
        {
            return Errno.EROFS;
        }

        e = LopenFlags.ToHost(lopenFlags & ~P9L.ODirectory, out int host);
        if (e != Errno.None)
        {
            return e;
        }

        Span<byte> cname = stackalloc byte[NameValidator.NameMax + 1];
        NameValidator.ToCString(name, cname);
        SafeFd? io = null;
        fixed (byte* p = cname)
        {
            int fd = OpenBeneath(PathFd, p, host | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC | Libc.O_NOCTTY, mode & 0xFFF);
            if (fd < 0)
            {
                return ErrnoExtensions.Last();
            }

            io = SafeFd.Rent(fd);
            e = Libc.FStatx(io, Libc.STATX_BASIC_STATS, out Statx st);
            if (e == Errno.None)
            {
                e = ChownNew(io, uid, gid, ref st);
            }

            if (e != Errno.None)
            {
                io.Dispose();
                Libc.unlinkat(PathFd, p, 0);
                return e;
            }

            // This node becomes the new file: its directory becomes the remembered parent. It gets no O_PATH descriptor
            // of its own: the open one stands for it until a clone needs one to share (SharedPath).
            _parent?.Release();
            _parent = _path;
            _parentDev = Dev;
            _parentIno = Ino;
            SetName(name);
            _io = io;
            _path = null;
            _openFlags = host;
            Kind = NodeKind.Regular;
            Dev = st.Dev;
            Ino = st.Ino;
            Qid = _export.MakeQid(in st, NodeKind.Regular);
            qid = Qid;
            return Errno.None;
        }
    }

    /// <summary>
    /// Gives a file just created the requested owner (<paramref name="st"/> is its fresh statx; updated). Skipped when
    /// it already has it, which is the common case of a gofer running as the sandbox's own user: one syscall less per
    /// create.
    /// </summary>
    private unsafe Errno ChownNew(SafeFd fd, uint uid, uint gid, ref Statx st)
    {
        if (!_export.Options.ChownOnCreate || ((uid == uint.MaxValue || uid == st.Uid) && (gid == uint.MaxValue || gid == st.Gid)))
        {
            return Errno.None;
        }

        byte empty = 0;
        if (Libc.fchownat(fd, &empty, uid, gid, Libc.AT_EMPTY_PATH | Libc.AT_SYMLINK_NOFOLLOW) != 0)
        {
            return ErrnoExtensions.Last();
        }

        if (uid != uint.MaxValue)
        {
            st.Uid = uid;
        }

        if (gid != uint.MaxValue)
        {
            st.Gid = gid;
        }

        return Errno.None;
    }

    /// <summary>Tread: pread into <paramref name="dest"/> at <paramref name="offset"/>; a short count is not an error.</summary>
    public unsafe Errno Read(ulong offset, Span<byte> dest, out int count)
    {
        count = 0;
        SafeFd? io = _io;
        if (io is null)
        {
            return Errno.EBADF;
        }

        if (offset > long.MaxValue)
        {
            return Errno.EINVAL;
        }

        if (dest.IsEmpty)
        {
            return Errno.None;
        }

        fixed (byte* p = dest)
        {
            nint n;
            do
            {
                n = Libc.pread(io, p, (nuint)dest.Length, (long)offset);
            }
            while (n < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == (int)Errno.EINTR);
            if (n < 0)
            {
                return ErrnoExtensions.Last();
            }

            count = (int)n;
            return Errno.None;
        }
    }

    /// <summary>
    /// The descriptor a big Twrite's payload may be spliced into: a regular file opened for writing without O_APPEND
    /// (splice refuses O_APPEND files, and the offset must mean what pwrite means). The caller holds the fid.
    /// </summary>
    internal bool TryGetSpliceTarget(out SafeFd? io)
    {
        io = _io;
        return io is not null && Kind == NodeKind.Regular && !_export.ReadOnly && (_openFlags & Libc.O_APPEND) == 0
            && (OpenAccess == Libc.O_WRONLY || OpenAccess == Libc.O_RDWR);
    }

    /// <summary>Twrite: pwrite from <paramref name="src"/> at <paramref name="offset"/> (O_APPEND files append).</summary>
    public unsafe Errno Write(ulong offset, ReadOnlySpan<byte> src, out int count)
    {
        count = 0;
        SafeFd? io = _io;
        if (io is null)
        {
            return Errno.EBADF;
        }

        if (_export.ReadOnly)
        {
            return Errno.EROFS;
        }

        // offset + count must stay a valid off_t (checked in 64 bits; diod 2025, QEMU CVE-2016-9104).
        if (offset > long.MaxValue || (ulong)src.Length > (ulong)long.MaxValue - offset)
        {
            return Errno.EFBIG;
        }

        fixed (byte* p = src)
        {
            nint n;
            do
            {
                n = Libc.pwrite(io, p, (nuint)src.Length, (long)offset);
            }
            while (n < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == (int)Errno.EINTR);
            if (n < 0)
            {
                return ErrnoExtensions.Last();
            }

            count = (int)n;
            return Errno.None;
        }
    }

    /// <summary>Tfsync: fsync, or fdatasync when <paramref name="dataOnly"/>. Needs an opened node.</summary>
    public Errno Fsync(bool dataOnly)
    {
        SafeFd? io = _io;
        if (io is null)
        {
            return Errno.EBADF;
        }

        int r = dataOnly ? Libc.fdatasync(io) : Libc.fsync(io);
        return r == 0 ? Errno.None : ErrnoExtensions.Last();
    }
}
