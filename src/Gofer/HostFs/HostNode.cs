using System.Runtime.InteropServices;
using Gofer.HostFs.Native;

namespace Gofer.HostFs;

/// <summary>
/// The host side of one fid: an O_PATH|O_NOFOLLOW descriptor for the walked object (never a path),
/// its type and qid, and once opened a real descriptor. Every operation is fd-relative, so a rename or
/// unlink elsewhere cannot redirect it, and an open-but-unlinked file keeps working.
/// <para>
/// Threading: I/O and attribute calls may run concurrently on one node (each syscall holds the SafeFd);
/// the calls that change what the node is (<see cref="Open"/>, <see cref="Create"/>, <see cref="Rename"/>,
/// <see cref="Dispose"/>) must be serialised per fid by the caller. A call on a disposed node answers
/// EBADF; the server should still hold a per-fid reference across a call, because a Dispose racing with
/// a call already past that check makes the SafeFd marshaller throw ObjectDisposedException.
/// </para>
/// </summary>
internal sealed partial class HostNode : IDisposable
{
    // Nodes handed back by Recycle (the server's clunk), reused by the next walk: serving allocates no node.
    private static readonly ObjectPool<HostNode> s_pool = new(4096);

    // What a disposed node's _path becomes: its fd is gone, and using it throws ObjectDisposedException (a server
    // bug), instead of reaching an fd that a reused SharedFd now holds for another node.
    private static readonly SharedFd s_disposedPath = MakeDisposedPath();

    private HostExport _export;
    private SharedFd? _path;   // null only for a node made by Tlcreate, until a clone needs one (see SharedPath)
    private SharedFd? _parent; // the directory this node was walked from (for fid-based rename/remove)
    private byte[] _name = []; // its name in _parent at walk time: the first _nameLength bytes (a reused buffer)
    private int _nameLength = -1; // -1: no name (the export root, a node reached by "..")
    private ulong _parentDev;  // identity of _parent's directory: the key of this name in the export's WalkCache
    private ulong _parentIno;
    private SafeFd? _io;       // the opened descriptor (Tlopen/Tlcreate)
    private int _openFlags = -1;
    private SafeFd? _lockFd;   // O_RDWR description for locks when the fid was opened read- or write-only
    private bool _disposed;

    private HostNode()
    {
        _export = null!;
        _path = null!;
    }

    /// <summary>A node (from the pool when one is free) for <paramref name="path"/>; an empty name means none.</summary>
    internal static HostNode Make(HostExport export, SharedFd path, SharedFd? parent, ReadOnlySpan<byte> name, NodeKind kind, in Statx st) =>
        Make(export, path, parent, name, kind, st.Dev, st.Ino, export.MakeQid(in st, kind));

    private static HostNode Make(HostExport export, SharedFd path, SharedFd? parent, ReadOnlySpan<byte> name, NodeKind kind, ulong dev, ulong ino, Qid qid)
    {
        HostNode node = s_pool.TryTake() ?? new HostNode();
        node._export = export;
        node._path = path;
        node._parent = parent;
        node.SetName(name);
        node._parentDev = 0;
        node._parentIno = 0;
        node._io = null;
        node._openFlags = -1;
        node._lockFd = null;
        node._disposed = false;
        node.Kind = kind;
        node.Dev = dev;
        node.Ino = ino;
        node.Qid = qid;
        return node;
    }

    private ReadOnlySpan<byte> Name => _nameLength < 0 ? default : _name.AsSpan(0, _nameLength);

    private bool HasName => _nameLength >= 0;

    private void SetName(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty)
        {
            _nameLength = -1;
            return;
        }

        if (_name.Length < name.Length)
        {
            _name = new byte[Math.Max(name.Length, 32)];
        }

        name.CopyTo(_name);
        _nameLength = name.Length;
    }

    public HostExport Export => _export;

    public NodeKind Kind { get; private set; }

    /// <summary>The qid as of the walk/open/create that produced this node.</summary>
    public Qid Qid { get; private set; }

    /// <summary>True once Tlopen/Tlcreate succeeded.</summary>
    public bool IsOpen => _io is not null;

    /// <summary>The lopen access mode the node was opened with (0, 1, 2), or -1.</summary>
    public int OpenAccess => _openFlags < 0 ? -1 : _openFlags & Libc.O_ACCMODE;

    internal ulong Dev { get; private set; }

    internal ulong Ino { get; private set; }

    internal bool IsExportRoot => _export.IsRoot(Dev, Ino);

    /// <summary>
    /// The descriptor that stands for the object: the O_PATH one, or for a node made by Tlcreate (which has none until
    /// something must share it) the open one. Every fd-relative or /proc/self/fd use works with either.
    /// </summary>
    internal SafeFd PathFd => _path?.Fd ?? _io ?? s_disposedPath.Fd;

    internal static NodeKind KindOf(uint mode) => (mode & Libc.S_IFMT) switch
    {
        Libc.S_IFREG => NodeKind.Regular,
        Libc.S_IFDIR => NodeKind.Directory,
        Libc.S_IFLNK => NodeKind.Symlink,
        Libc.S_IFCHR => NodeKind.CharDevice,
        Libc.S_IFBLK => NodeKind.BlockDevice,
        Libc.S_IFIFO => NodeKind.Fifo,
        Libc.S_IFSOCK => NodeKind.Socket,
        _ => NodeKind.Unknown,
    };

    /// <summary>A second node for the same object (Twalk with nwname 0, or "."). Never opened.</summary>
    public HostNode Clone()
    {
        Errno e = TryClone(out HostNode? clone);
        return e == Errno.None ? clone! : throw new IOException($"clone: {e}");
    }

    /// <summary>A second node for the same object (Twalk with nwname 0, or "."); fails only if no descriptor is left.</summary>
    public Errno TryClone(out HostNode? clone)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        clone = null;
        Errno e = SharedPath(out SharedFd path);
        if (e != Errno.None)
        {
            return e;
        }

        if (_export.Options.QidVersion != QidVersionPolicy.Zero && Libc.FStatx(path.Fd, Libc.STATX_BASIC_STATS, out Statx st) == Errno.None)
        {
            clone = Make(_export, path.AddRef(), _parent?.AddRef(), Name, Kind, in st); // a version that follows the file
        }
        else
        {
            // The same descriptor is the same inode: with version 0 the qid cannot have changed, so no statx (one
            // syscall less on every Twalk with no names, such as the clone before each Tlcreate). fstat on a held fd
            // only fails on I/O errors; the walk-time identity is kept then too.
            clone = Make(_export, path.AddRef(), _parent?.AddRef(), Name, Kind, Dev, Ino, Qid);
        }

        clone._parentDev = _parentDev;
        clone._parentIno = _parentIno;
        return Errno.None;
    }

    /// <summary>
    /// The shared O_PATH descriptor, made now for a node created by Tlcreate (re-opened from its open descriptor through
    /// /proc/self/fd, so it is exactly that inode). Creating it lazily saves an open and a close on every create whose
    /// fid is never cloned.
    /// </summary>
    private Errno SharedPath(out SharedFd path)
    {
        SharedFd? p = Volatile.Read(ref _path);
        if (p is null)
        {
            Errno e = Reopen(_io!, Libc.O_PATH, out SafeFd? fd);
            if (e != Errno.None)
            {
                path = null!;
                return e;
            }

            var made = SharedFd.Rent(fd!);
            p = Interlocked.CompareExchange(ref _path, made, null) ?? made;
            if (p != made)
            {
                made.Release();
            }
        }

        path = p;
        return Errno.None;
    }

    /// <summary>
    /// Walks one component. Symlinks are returned as symlink nodes, never followed; ".." at the export
    /// root yields the root; "." yields a clone. On error <paramref name="child"/> is null.
    /// </summary>
    public unsafe Errno Walk(ReadOnlySpan<byte> name, out HostNode? child)
    {
        child = null;
        Errno e = NameValidator.ValidateWalk(name);
        if (e != Errno.None)
        {
            return e;
        }

        if (Kind != NodeKind.Directory)
        {
            return Errno.ENOTDIR;
        }

        if (NameValidator.IsDot(name))
        {
            return TryClone(out child);
        }

        if (NameValidator.IsDotDot(name))
        {
            return WalkParent(out child);
        }

        Span<byte> cname = stackalloc byte[NameValidator.NameMax + 1];
        NameValidator.ToCString(name, cname);
        WalkCache? cache = _export.WalkCache;
        Statx st;
        if (cache is not null && cache.TryGet(Dev, Ino, name, out SharedFd cached, out ulong cachedDev, out ulong cachedIno))
        {
            // Revalidate: the name must still resolve (without following a symlink) to the cached inode.
            int rc;
            fixed (byte* p = cname)
            {
                rc = Libc.statx(PathFd, p, Libc.AT_SYMLINK_NOFOLLOW | Libc.AT_NO_AUTOMOUNT, Libc.STATX_BASIC_STATS, &st);
            }

            if (rc == 0 && st.Dev == cachedDev && st.Ino == cachedIno)
            {
                cache.NoteHit();
                child = MakeChild(cached, name, in st);
                return Errno.None;
            }

            e = rc == 0 ? Errno.None : ErrnoExtensions.Last();
            cached.Release();
            if (e != Errno.None)
            {
                cache.Forget(Dev, Ino, name); // gone: do not keep its inode alive
                return e;
            }
        }

        int fd;
        fixed (byte* p = cname)
        {
            fd = OpenBeneath(PathFd, p, Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC);
            if (fd < 0 && cache is not null && Marshal.GetLastPInvokeError() is (int)Errno.EMFILE or (int)Errno.ENFILE)
            {
                cache.Clear(); // the cache's descriptors are the ones to give back
                fd = OpenBeneath(PathFd, p, Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC);
            }
        }

        if (fd < 0)
        {
            return ErrnoExtensions.Last();
        }

        var childFd = SafeFd.Rent(fd);
        e = Libc.FStatx(childFd, Libc.STATX_BASIC_STATS, out st);
        if (e != Errno.None)
        {
            childFd.Dispose();
            return e;
        }

        var shared = SharedFd.Rent(childFd);
        cache?.Put(Dev, Ino, name, shared, st.Dev, st.Ino);
        child = MakeChild(shared, name, in st);
        return Errno.None;
    }

    private HostNode MakeChild(SharedFd path, ReadOnlySpan<byte> name, in Statx st)
    {
        var child = Make(_export, path, _path!.AddRef(), name, KindOf(st.Mode), in st); // a directory: never without _path
        child._parentDev = Dev;
        child._parentIno = Ino;
        return child;
    }

    /// <summary>The gofer itself unlinked or renamed <paramref name="name"/> in this directory: drop any cached descriptor.</summary>
    private void ForgetChild(ReadOnlySpan<byte> name) => _export.WalkCache?.Forget(Dev, Ino, name);

    /// <summary>This node's own name was unlinked or renamed away by the gofer.</summary>
    private void ForgetSelf()
    {
        if (HasName && _parent is not null)
        {
            _export.WalkCache?.Forget(_parentDev, _parentIno, Name);
        }
    }

    /// <summary>
    /// openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS: belt and braces on top of a
    /// validated single component (with O_PATH|O_NOFOLLOW a trailing symlink is still returned as itself).
    /// Falls back to openat(O_NOFOLLOW) once if the kernel or a seccomp filter answers ENOSYS.
    /// </summary>
    internal static unsafe int OpenBeneath(SafeFd dir, byte* name, int flags, uint mode = 0)
    {
        if (!HostExport.Openat2Unavailable)
        {
            var how = new OpenHow
            {
                Flags = (ulong)(uint)flags,
                Mode = mode,
                Resolve = Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS | Libc.RESOLVE_NO_MAGICLINKS,
            };
            int fd = Libc.openat2(dir, name, ref how);
            if (fd >= 0 || System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != (int)Errno.ENOSYS)
            {
                return fd;
            }

            HostExport.Openat2Unavailable = true;
        }

        return Libc.openat(dir, name, flags, mode);
    }

    /// <summary>
    /// "..": the root clamps to itself. Elsewhere the parent is opened with openat(fd, "..") and then
    /// proven to lie inside the export by climbing until the root's (dev, ino) is met — a directory moved
    /// out of the export on the host must not become a way out. Only clients other than Linux send "..",
    /// so the climb's cost is off the common path.
    /// </summary>
    private unsafe Errno WalkParent(out HostNode? child)
    {
        child = null;
        if (IsExportRoot)
        {
            return TryClone(out child);
        }

        byte* dotdot = stackalloc byte[] { (byte)'.', (byte)'.', 0 };
        int fd = Libc.openat(PathFd, dotdot, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return ErrnoExtensions.Last();
        }

        var parentFd = SafeFd.Rent(fd);
        Errno e = Libc.FStatx(parentFd, Libc.STATX_BASIC_STATS, out Statx pst);
        if (e == Errno.None)
        {
            e = ProveInsideExport(parentFd, in pst);
        }

        if (e != Errno.None)
        {
            parentFd.Dispose();
            return e;
        }

        // The parent's own name is unknown here: such a node cannot be the source of a fid-based rename/remove.
        child = Make(_export, SharedFd.Rent(parentFd), null, default, NodeKind.Directory, in pst);
        return Errno.None;
    }

    private unsafe Errno ProveInsideExport(SafeFd start, in Statx startSt)
    {
        if (_export.IsRoot(startSt.Dev, startSt.Ino))
        {
            return Errno.None;
        }

        byte* dotdot = stackalloc byte[] { (byte)'.', (byte)'.', 0 };
        SafeFd? cur = null;
        ulong curDev = startSt.Dev, curIno = startSt.Ino;
        try
        {
            // PATH_MAX / 2 bounds the depth of any real tree ("a/" per level).
            for (int depth = 0; depth < 2048; depth++)
            {
                int fd = Libc.openat(cur ?? start, dotdot, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                if (fd < 0)
                {
                    return ErrnoExtensions.Last();
                }

                cur?.Dispose();
                cur = SafeFd.Rent(fd);
                Errno e = Libc.FStatx(cur, Libc.STATX_BASIC_STATS, out Statx st);
                if (e != Errno.None)
                {
                    return e;
                }

                if (_export.IsRoot(st.Dev, st.Ino))
                {
                    return Errno.None;
                }

                if (st.Dev == curDev && st.Ino == curIno)
                {
                    // Reached the host's "/" without meeting the export root: the object left the export.
                    return Errno.EACCES;
                }

                curDev = st.Dev;
                curIno = st.Ino;
            }

            return Errno.ELOOP;
        }
        finally
        {
            cur?.Dispose();
        }
    }

    public void Dispose() => DisposeCore();

    /// <summary>
    /// Dispose, and hand the node object back for reuse by a later walk. Only for an owner that knows nothing else
    /// references the node any more (the server's fid, once its last reference is released); a node that was
    /// already disposed is not pooled, so a double recycle cannot hand one object out twice.
    /// </summary>
    public void Recycle()
    {
        if (DisposeCore())
        {
            _export = null!;
            s_pool.Return(this);
        }
    }

    private bool DisposeCore()
    {
        if (_disposed)
        {
            return false;
        }

        _disposed = true;
        _io?.Dispose();
        _io = null;
        _lockFd?.Dispose();
        _lockFd = null;
        ReleaseDirBuffer();
        _path?.Release();
        _path = s_disposedPath;
        _parent?.Release();
        _parent = null;
        _nameLength = -1;
        return true;
    }

    private static SharedFd MakeDisposedPath()
    {
        var fd = new SafeFd();
        fd.Dispose();
        return new SharedFd(fd);
    }
}
