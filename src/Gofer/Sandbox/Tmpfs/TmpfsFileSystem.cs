using Gofer.Sandbox.Vfs;

namespace Gofer.Sandbox.Tmpfs;

/// <summary>Options of an in-memory filesystem.</summary>
internal sealed record TmpfsOptions
{
    /// <summary>Name in the mount table ("tmpfs", "devtmpfs", ...).</summary>
    public string TypeName { get; init; } = "tmpfs";

    /// <summary>Root permission bits; Linux's tmpfs default is 01777.</summary>
    public uint RootMode { get; init; } = 0x3FF; // 01777

    public Credentials RootOwner { get; init; } = Credentials.Root;

    /// <summary>Bytes of file data allowed (ENOSPC beyond); 0 = unlimited.</summary>
    public long MaxBytes { get; init; }

    /// <summary>Inodes allowed (ENOSPC beyond); 0 = unlimited.</summary>
    public long MaxInodes { get; init; }

    /// <summary>Clock for timestamps; tests inject a fake one.</summary>
    public Func<Timespec> Clock { get; init; } = Timespec.Now;
}

/// <summary>
/// In-memory filesystem: the authority for its own tree (the VFS dentry cache is only a cache over it).
/// One lock per filesystem serialises operations; everything completes synchronously.
/// </summary>
internal sealed partial class TmpfsFileSystem : IFileSystem
{
    internal const int PageSize = 4096;
    internal const int MaxNameLength = 255;
    internal const int MaxXattrValue = 65536;

    private long _nextIno = 1;
    private long _usedPages;
    private long _usedInodes;

    public TmpfsFileSystem(TmpfsOptions? options = null)
    {
        Options = options ?? new TmpfsOptions();
        RootDir = new TmpfsDirectory(this, Mode.Make(FileType.Directory, Options.RootMode), Options.RootOwner);
        RootDir.Parent = RootDir;
    }

    public TmpfsOptions Options { get; }

    internal object Sync { get; } = new();

    public string TypeName => Options.TypeName;

    /// <summary>
    /// Settable so a test or a setup step can fill the filesystem and then freeze it (a read-only lower layer).
    /// </summary>
    public bool IsReadOnly { get; set; }

    public DentryCachePolicy CachePolicy => DentryCachePolicy.Authoritative;

    internal TmpfsDirectory RootDir { get; }

    public INode Root => RootDir;

    internal Timespec Now() => Options.Clock();

    internal ulong NextIno() => (ulong)Interlocked.Increment(ref _nextIno);

    public ValueTask<StatFs> StatFsAsync(CancellationToken ct = default)
    {
        lock (Sync)
        {
            ulong blocks = Options.MaxBytes > 0 ? (ulong)(Options.MaxBytes / PageSize) : (ulong)(_usedPages + (1L << 20));
            ulong free = blocks - Math.Min(blocks, (ulong)_usedPages);
            ulong files = Options.MaxInodes > 0 ? (ulong)Options.MaxInodes : (ulong)(_usedInodes + (1L << 20));
            ulong filesFree = files - Math.Min(files, (ulong)_usedInodes);
            return ValueTask.FromResult(new StatFs(FsMagic.Tmpfs, PageSize, blocks, free, free, files, filesFree, MaxNameLength));
        }
    }

    public ValueTask<int> RevalidateAsync(INode start, IReadOnlyList<RevalidateStep> steps, CancellationToken ct = default) =>
        ValueTask.FromResult(steps.Count);

    internal void CheckWritable()
    {
        if (IsReadOnly)
        {
            VfsException.Throw(Errno.EROFS);
        }
    }

    internal void ChargeInode()
    {
        if (Options.MaxInodes > 0 && _usedInodes >= Options.MaxInodes)
        {
            VfsException.Throw(Errno.ENOSPC);
        }

        _usedInodes++;
    }

    internal void UnchargeInode() => _usedInodes--;

    internal void ChargePages(long pages)
    {
        if (pages > 0 && Options.MaxBytes > 0 && (_usedPages + pages) * PageSize > Options.MaxBytes)
        {
            VfsException.Throw(Errno.ENOSPC);
        }

        _usedPages += pages;
    }
}
