namespace Gofer.Sandbox.Vfs;

/// <summary>How the VFS's dentry cache treats a filesystem's dentries.</summary>
/// <param name="RevalidateOnWalk">
/// Cached dentries are checked with <see cref="IFileSystem.RevalidateAsync"/> before every path walk uses them
/// (gVisor's Shared / remote_revalidating). False means the cache is authoritative (Exclusive, tmpfs).
/// </param>
/// <param name="MaxCachedDentries">
/// Unreferenced dentries kept per mount before the least recently used is evicted (and
/// <see cref="INode.ReleaseAsync"/> called on its node). gVisor's default is 1000. 0 = unbounded.
/// </param>
internal readonly record struct DentryCachePolicy(bool RevalidateOnWalk, int MaxCachedDentries)
{
    public static DentryCachePolicy Authoritative => new(false, 0);
}

/// <summary>One cached step to revalidate: the name walked from the previous node and the node cached for it.</summary>
internal readonly record struct RevalidateStep(string Name, INode Cached);

/// <summary>
/// A filesystem the VFS can mount: tmpfs, overlay, proc/sys/devpts, and later the gofer filesystem over a P9Client.
/// All operations are asynchronous because a gofer filesystem answers them with 9P round trips; in-memory
/// filesystems return completed ValueTasks. Every failure is a <see cref="VfsException"/> carrying a Linux errno.
/// </summary>
internal interface IFileSystem
{
    /// <summary>The type shown in the mount table: "tmpfs", "overlay", "proc", "9p", ...</summary>
    string TypeName { get; }

    /// <summary>The filesystem refuses every mutation by itself (EROFS), independent of any mount's ro flag.</summary>
    bool IsReadOnly { get; }

    DentryCachePolicy CachePolicy { get; }

    INode Root { get; }

    ValueTask<StatFs> StatFsAsync(CancellationToken ct = default);

    /// <summary>
    /// Revalidation hook, called only when <see cref="DentryCachePolicy.RevalidateOnWalk"/> is set. The VFS passes
    /// the chain of already-cached dentries along the rest of the path (it stops at symlinks, mount points and
    /// "..") so a gofer filesystem can check them in one batched RPC (Tmultigetattr / Twalkgetattr). Returns how
    /// many leading steps are still valid (same identity: QID path); the VFS drops the dentry at that index and
    /// everything cached below it, and walks the rest with <see cref="INode.LookupAsync"/>. A valid node should
    /// refresh its cached attributes from the reply.
    /// </summary>
    ValueTask<int> RevalidateAsync(INode start, IReadOnlyList<RevalidateStep> steps, CancellationToken ct = default);
}

/// <summary>
/// A file as one filesystem sees it (an inode, or for a gofer filesystem: one walked fid). The VFS keeps nodes in
/// its dentry tree; a node may be dropped from that cache (<see cref="ReleaseAsync"/>) and looked up again later,
/// which must produce an equivalent node. Directory operations take single names: never "", ".", "..", or names
/// containing '/' (the VFS resolves those).
/// </summary>
internal interface INode
{
    IFileSystem FileSystem { get; }

    /// <summary>The type never changes for the life of a node, so the VFS can walk without a getattr.</summary>
    FileType Type { get; }

    ValueTask<InodeAttr> GetAttrAsync(CancellationToken ct = default);

    /// <summary>chmod/chown/truncate/utimes. Size on a directory is EISDIR.</summary>
    ValueTask SetAttrAsync(SetAttr attr, CancellationToken ct = default);

    /// <summary>Finds a child; ENOENT if absent, ENOTDIR if this is not a directory.</summary>
    ValueTask<INode> LookupAsync(string name, CancellationToken ct = default);

    /// <summary>Creates a regular file (EEXIST if the name exists). Mode carries the permission bits only.</summary>
    ValueTask<INode> CreateAsync(string name, uint perm, Credentials owner, CancellationToken ct = default);

    ValueTask<INode> MkdirAsync(string name, uint perm, Credentials owner, CancellationToken ct = default);

    ValueTask<INode> SymlinkAsync(string name, string target, Credentials owner, CancellationToken ct = default);

    /// <summary>Creates a device, fifo or socket node; mode includes the type bits.</summary>
    ValueTask<INode> MknodAsync(string name, uint mode, ulong rdev, Credentials owner, CancellationToken ct = default);

    /// <summary>Hard link: adds <paramref name="name"/> in this directory for <paramref name="target"/> (same filesystem).</summary>
    ValueTask LinkAsync(string name, INode target, CancellationToken ct = default);

    /// <summary>Removes a non-directory entry (EISDIR for a directory).</summary>
    ValueTask UnlinkAsync(string name, CancellationToken ct = default);

    /// <summary>Removes an empty directory (ENOTDIR, ENOTEMPTY).</summary>
    ValueTask RmdirAsync(string name, CancellationToken ct = default);

    /// <summary>
    /// Renames within one filesystem. The VFS has already checked: same mount, not a directory into its own
    /// subtree, no mount point involved. The filesystem checks type compatibility (EISDIR/ENOTDIR/ENOTEMPTY).
    /// </summary>
    ValueTask RenameAsync(string oldName, INode newDir, string newName, RenameFlags flags, CancellationToken ct = default);

    ValueTask<string> ReadLinkAsync(CancellationToken ct = default);

    /// <summary>
    /// Opens for I/O (regular files, directories). Access mode and O_APPEND are passed; O_CREAT/O_EXCL/O_TRUNC are
    /// already handled by the VFS (truncation arrives as a separate SetAttr). Device and fifo nodes are never
    /// opened through here: the VFS maps device numbers to emulated devices itself.
    /// </summary>
    ValueTask<IFileHandle> OpenAsync(OpenFlags flags, CancellationToken ct = default);

    /// <summary>ENODATA when absent, EOPNOTSUPP for a namespace the filesystem does not support.</summary>
    ValueTask<byte[]> GetXattrAsync(string name, CancellationToken ct = default);

    ValueTask SetXattrAsync(string name, ReadOnlyMemory<byte> value, XattrSetFlags flags, CancellationToken ct = default);

    ValueTask<IReadOnlyList<string>> ListXattrAsync(CancellationToken ct = default);

    ValueTask RemoveXattrAsync(string name, CancellationToken ct = default);

    /// <summary>
    /// Eviction hook: the VFS dropped the last cached dentry for this node (LRU eviction, unlink, invalidation,
    /// unmount). A gofer filesystem clunks the node's fid here; in-memory filesystems do nothing. Open handles stay
    /// valid: they own their own host resources.
    /// </summary>
    ValueTask ReleaseAsync();
}

/// <summary>An open file: what Tlopen returns. I/O is positional; the VFS's open file keeps the offset.</summary>
internal interface IFileHandle : IAsyncDisposable
{
    /// <summary>Reads at most buffer.Length bytes at offset; 0 at end of file.</summary>
    ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken ct = default);

    /// <summary>
    /// Writes at offset and returns the count written. A handle opened with O_APPEND ignores offset and writes at
    /// its end of file (the server decides where the end is, as with a 9P server's O_APPEND fid).
    /// </summary>
    ValueTask<int> WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken ct = default);

    /// <summary>
    /// Reads directory entries after <paramref name="cookie"/> (0 = from the start), at most <paramref name="max"/>.
    /// Never returns "." or "..". An empty list means the end.
    /// </summary>
    ValueTask<IReadOnlyList<DirEntry>> ReadDirAsync(long cookie, int max, CancellationToken ct = default);

    ValueTask FsyncAsync(CancellationToken ct = default);
}
