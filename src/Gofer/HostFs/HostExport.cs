using System.Text;
using Gofer.HostFs.Native;

namespace Gofer.HostFs;

/// <summary>How qid.version is computed.</summary>
internal enum QidVersionPolicy
{
    /// <summary>Always 0 (diod, gVisor): stable across walk, readdir and getattr.</summary>
    Zero,

    /// <summary>QEMU's <c>mtime_sec XOR (size &lt;&lt; 8)</c> for regular files, 0 for everything else.</summary>
    MtimeSize,
}

/// <summary>Per-export settings and limits (the "hooks" a mount's policy can tighten).</summary>
internal sealed record HostExportOptions
{
    /// <summary>Every mutation answers EROFS.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Largest xattr value accepted or returned (XATTR_SIZE_MAX); larger → E2BIG.</summary>
    public int MaxXattrValue { get; init; } = 64 * 1024;

    /// <summary>Longest symlink target accepted (PATH_MAX); longer → ENAMETOOLONG.</summary>
    public int MaxSymlinkTarget { get; init; } = 4096;

    /// <summary>
    /// Chown newly created objects to the uid/gid the client asked for (gVisor's model). Defaults to
    /// "only when the gofer runs as root", since no one else may give files away.
    /// </summary>
    public bool ChownOnCreate { get; init; } = Libc.geteuid() == 0;

    public QidVersionPolicy QidVersion { get; init; } = QidVersionPolicy.Zero;

    /// <summary>Keep recently walked names' descriptors (<see cref="HostFs.WalkCache"/>); each use is revalidated.</summary>
    public bool WalkCache { get; init; } = true;

    /// <summary>
    /// Serve Treaddir of unchanged directories from memory (<see cref="DirListingCache"/>), invalidated by inotify.
    /// Takes effect only when the export root is on a local filesystem and inotify is available; off, every Treaddir
    /// calls getdents64 (<c>gofer serve --no-dir-cache</c>).
    /// </summary>
    public bool DirCache { get; init; } = true;
}

/// <summary>
/// One exported directory tree: the root fd (opened once, by path, at attach time — the only path
/// string HostFs ever resolves), the root's identity (st_dev, st_ino) that ".." clamps against, the
/// per-export qid map and the /proc/self/fd directory used to re-open O_PATH descriptors.
/// </summary>
internal sealed class HostExport : IDisposable
{
    private static int s_openat2State; // 0 unknown/works, 1 unavailable (ENOSYS): fall back to openat.

    private readonly SharedFd _root;
    private long _getdentsCalls;

    private HostExport(SharedFd root, SafeFd procFd, HostExportOptions options, ulong rootDev, ulong rootIno, NodeKind kind, DirListingCache? dirCache)
    {
        _root = root;
        DirCache = dirCache;
        ProcFd = procFd;
        Options = options;
        RootDev = rootDev;
        RootIno = rootIno;
        RootKind = kind;
        Qids = new QidMap();
        int capacity = options.WalkCache ? HostFs.WalkCache.DefaultCapacity() : 0;
        WalkCache = capacity > 0 ? new WalkCache(capacity) : null;
    }

    public HostExportOptions Options { get; }

    public bool ReadOnly => Options.ReadOnly;

    internal SafeFd ProcFd { get; }

    internal ulong RootDev { get; }

    internal ulong RootIno { get; }

    internal NodeKind RootKind { get; }

    internal QidMap Qids { get; }

    /// <summary>Recently walked descriptors, or null when the option is off or descriptors are too scarce.</summary>
    internal WalkCache? WalkCache { get; }

    /// <summary>The listing cache Treaddir uses, or null when it is off for this export (see <see cref="HostExportOptions.DirCache"/>).</summary>
    internal DirListingCache? DirCache { get; }

    /// <summary>getdents64 calls made for this export's directories (tests tell cached from uncached passes by it).</summary>
    internal long GetdentsCalls => Interlocked.Read(ref _getdentsCalls);

    internal void CountGetdents() => Interlocked.Increment(ref _getdentsCalls);

    internal static bool Openat2Unavailable
    {
        get => Volatile.Read(ref s_openat2State) == 1;
        set => Volatile.Write(ref s_openat2State, value ? 1 : 0);
    }

    /// <summary>Opens an export rooted at <paramref name="rootPath"/> (must be a directory).</summary>
    public static Errno TryOpen(string rootPath, HostExportOptions options, out HostExport? export) =>
        TryOpen(rootPath, options, dirCache: null, out export);

    /// <summary>
    /// As above, with the listing cache to use when <see cref="HostExportOptions.DirCache"/> is on and the root is on a
    /// local filesystem: <paramref name="dirCache"/>, or the process's shared one when null.
    /// </summary>
    internal static unsafe Errno TryOpen(string rootPath, HostExportOptions options, DirListingCache? dirCache, out HostExport? export)
    {
        ArgumentNullException.ThrowIfNull(rootPath);
        ArgumentNullException.ThrowIfNull(options);
        export = null;
        byte[] path = new byte[Encoding.UTF8.GetByteCount(rootPath) + 1];
        Encoding.UTF8.GetBytes(rootPath, path);
        int fd;
        fixed (byte* p = path)
        {
            fd = Libc.openat_cwd(Libc.AT_FDCWD, p, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        }

        if (fd < 0)
        {
            return ErrnoExtensions.Last();
        }

        var rootFd = new SafeFd(fd);
        Errno e = Libc.FStatx(rootFd, Libc.STATX_BASIC_STATS, out Statx st);
        if (e != Errno.None)
        {
            rootFd.Dispose();
            return e;
        }

        fixed (byte* p = "/proc/self/fd\0"u8)
        {
            fd = Libc.openat_cwd(Libc.AT_FDCWD, p, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        }

        if (fd < 0)
        {
            e = ErrnoExtensions.Last();
            rootFd.Dispose();
            return e;
        }

        DirListingCache? cache = options.DirCache && DirListingCache.IsOnLocalFileSystem(rootFd)
            ? dirCache ?? DirListingCache.Shared
            : null;
        export = new HostExport(new SharedFd(rootFd), new SafeFd(fd), options, st.Dev, st.Ino, HostNode.KindOf(st.Mode), cache);
        return Errno.None;
    }

    /// <summary>A new node for the export root (one per Tattach). Dispose it on Tclunk.</summary>
    public HostNode Attach()
    {
        Libc.FStatx(_root.Fd, Libc.STATX_BASIC_STATS, out Statx st);
        return HostNode.Make(this, _root.AddRef(), null, default, NodeKind.Directory, in st);
    }

    internal bool IsRoot(ulong dev, ulong ino) => dev == RootDev && ino == RootIno;

    internal Qid MakeQid(in Statx st, NodeKind kind)
    {
        byte type = kind switch
        {
            NodeKind.Directory => P9L.QtDir,
            NodeKind.Symlink => P9L.QtSymlink,
            _ => P9L.QtFile,
        };
        uint version = Options.QidVersion == QidVersionPolicy.MtimeSize && kind == NodeKind.Regular
            ? (uint)((ulong)st.Mtime.Sec ^ (st.Size << 8))
            : 0;
        return new Qid(type, version, Qids.PathOf(st.Dev, st.Ino));
    }

    public void Dispose()
    {
        WalkCache?.Dispose();
        _root.Release();
        ProcFd.Dispose();
    }
}
