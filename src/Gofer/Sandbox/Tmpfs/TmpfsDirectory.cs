using Gofer.Sandbox.Vfs;

namespace Gofer.Sandbox.Tmpfs;

internal sealed class TmpfsDirectory : TmpfsNode
{
    // Serial numbers give readdir stable cookies across insertions and removals: an entry's cookie is its serial,
    // so a reader resuming at a cookie never sees an entry twice and never skips one that stayed.
    private readonly Dictionary<string, (TmpfsNode Node, long Serial)> _children = new(StringComparer.Ordinal);
    private long _nextSerial;

    public TmpfsDirectory(TmpfsFileSystem fs, uint mode, Credentials owner)
        : base(fs, mode, owner) => Nlink = 2;

    /// <summary>Set for ".." bookkeeping (nlink) only; the VFS resolves "..".</summary>
    internal TmpfsDirectory? Parent { get; set; }

    /// <summary>Removed by rmdir: nothing may be created in it any more (ENOENT, as Linux).</summary>
    internal bool Dead { get; private set; }

    internal int Count => _children.Count;

    public override ValueTask<INode> LookupAsync(string name, CancellationToken ct = default)
    {
        lock (Fs.Sync)
        {
            return _children.TryGetValue(name, out var e)
                ? ValueTask.FromResult<INode>(e.Node)
                : throw new VfsException(Errno.ENOENT);
        }
    }

    public override ValueTask<INode> CreateAsync(string name, uint perm, Credentials owner, CancellationToken ct = default) =>
        ValueTask.FromResult<INode>(Add(name, () => new TmpfsFile(Fs, Mode.Make(FileType.Regular, perm), owner)));

    public override ValueTask<INode> MkdirAsync(string name, uint perm, Credentials owner, CancellationToken ct = default) =>
        ValueTask.FromResult<INode>(Add(name, () => new TmpfsDirectory(Fs, Mode.Make(FileType.Directory, perm), owner) { Parent = this }));

    public override ValueTask<INode> SymlinkAsync(string name, string target, Credentials owner, CancellationToken ct = default)
    {
        if (target.Length == 0)
        {
            VfsException.Throw(Errno.ENOENT);
        }

        return ValueTask.FromResult<INode>(Add(name, () => new TmpfsSymlink(Fs, target, owner)));
    }

    public override ValueTask<INode> MknodAsync(string name, uint mode, ulong rdev, Credentials owner, CancellationToken ct = default)
    {
        var type = Mode.TypeOf(mode);
        if (type == FileType.Regular || (uint)type == 0)
        {
            return CreateAsync(name, mode, owner, ct);
        }

        if (type is not (FileType.CharDevice or FileType.BlockDevice or FileType.Fifo or FileType.Socket))
        {
            VfsException.Throw(Errno.EINVAL);
        }

        return ValueTask.FromResult<INode>(Add(name, () => new TmpfsSpecial(Fs, mode, rdev, owner)));
    }

    public override ValueTask LinkAsync(string name, INode target, CancellationToken ct = default)
    {
        if (target is not TmpfsNode t || t.Fs != Fs)
        {
            VfsException.Throw(Errno.EXDEV);
            return default;
        }

        if (t.Type == FileType.Directory)
        {
            VfsException.Throw(Errno.EPERM);
        }

        lock (Fs.Sync)
        {
            if (t.Nlink == 0)
            {
                // Linux refuses to resurrect an unlinked inode through link(2).
                VfsException.Throw(Errno.ENOENT);
            }

            Add(name, () => t, charge: false);
            t.Ctime = Fs.Now();
            return default;
        }
    }

    public override ValueTask UnlinkAsync(string name, CancellationToken ct = default)
    {
        lock (Fs.Sync)
        {
            Fs.CheckWritable();
            var node = Get(name);
            if (node.Type == FileType.Directory)
            {
                VfsException.Throw(Errno.EISDIR);
            }

            RemoveEntry(name, node);
            return default;
        }
    }

    public override ValueTask RmdirAsync(string name, CancellationToken ct = default)
    {
        lock (Fs.Sync)
        {
            Fs.CheckWritable();
            var node = Get(name);
            if (node is not TmpfsDirectory dir)
            {
                VfsException.Throw(Errno.ENOTDIR);
                return default;
            }

            if (dir.Count != 0)
            {
                VfsException.Throw(Errno.ENOTEMPTY);
            }

            RemoveEntry(name, dir);
            return default;
        }
    }

    public override ValueTask RenameAsync(string oldName, INode newDir, string newName, RenameFlags flags, CancellationToken ct = default)
    {
        if (newDir is not TmpfsDirectory dst || dst.Fs != Fs)
        {
            VfsException.Throw(newDir.Type == FileType.Directory ? Errno.EXDEV : Errno.ENOTDIR);
            return default;
        }

        if ((flags & RenameFlags.Exchange) != 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        CheckName(newName);
        lock (Fs.Sync)
        {
            Fs.CheckWritable();
            var src = Get(oldName);
            if (dst.Dead)
            {
                VfsException.Throw(Errno.ENOENT);
            }

            if (dst._children.TryGetValue(newName, out var existing))
            {
                if (existing.Node == src)
                {
                    // Both names are links to one inode: POSIX says do nothing.
                    return default;
                }

                if ((flags & RenameFlags.NoReplace) != 0)
                {
                    VfsException.Throw(Errno.EEXIST);
                }

                if (src.Type == FileType.Directory && existing.Node.Type != FileType.Directory)
                {
                    VfsException.Throw(Errno.ENOTDIR);
                }

                if (src.Type != FileType.Directory && existing.Node.Type == FileType.Directory)
                {
                    VfsException.Throw(Errno.EISDIR);
                }

                if (existing.Node is TmpfsDirectory d && d.Count != 0)
                {
                    VfsException.Throw(Errno.ENOTEMPTY);
                }

                dst.RemoveEntry(newName, existing.Node);
            }

            _children.Remove(oldName);
            dst._children[newName] = (src, dst._nextSerial++);
            var now = Fs.Now();
            if (src is TmpfsDirectory moved && dst != this)
            {
                Nlink--;
                dst.Nlink++;
                moved.Parent = dst;
            }

            src.Ctime = now;
            Mtime = Ctime = now;
            dst.Mtime = dst.Ctime = now;
            return default;
        }
    }

    public override ValueTask<IFileHandle> OpenAsync(OpenFlags flags, CancellationToken ct = default)
    {
        if (flags.CanWrite())
        {
            VfsException.Throw(Errno.EISDIR);
        }

        return ValueTask.FromResult<IFileHandle>(new DirHandle(this));
    }

    internal IReadOnlyList<DirEntry> ReadDir(long cookie, int max)
    {
        lock (Fs.Sync)
        {
            return [.. _children
                .Where(kv => kv.Value.Serial + 1 > cookie)
                .OrderBy(kv => kv.Value.Serial)
                .Take(max)
                .Select(kv => new DirEntry(kv.Key, kv.Value.Node.Type, kv.Value.Node.Ino, kv.Value.Serial + 1))];
        }
    }

    private TmpfsNode Get(string name) =>
        _children.TryGetValue(name, out var e) ? e.Node : throw new VfsException(Errno.ENOENT);

    private TmpfsNode Add(string name, Func<TmpfsNode> make, bool charge = true)
    {
        CheckName(name);
        lock (Fs.Sync)
        {
            Fs.CheckWritable();
            if (Dead)
            {
                VfsException.Throw(Errno.ENOENT);
            }

            if (_children.ContainsKey(name))
            {
                VfsException.Throw(Errno.EEXIST);
            }

            if (charge)
            {
                Fs.ChargeInode();
            }

            var node = make();
            node.Nlink = node is TmpfsDirectory ? 2u : node.Nlink + 1;
            _children[name] = (node, _nextSerial++);
            if (node is TmpfsDirectory)
            {
                Nlink++;
            }

            Mtime = Ctime = Fs.Now();
            return node;
        }
    }

    private void RemoveEntry(string name, TmpfsNode node)
    {
        _children.Remove(name);
        var now = Fs.Now();
        if (node is TmpfsDirectory dir)
        {
            Nlink--;
            dir.Nlink = 0;
            dir.Dead = true;
        }
        else
        {
            node.Nlink--;
        }

        if (node.Nlink == 0)
        {
            // Data stays reachable through open handles; only the accounting of the name's inode ends here.
            Fs.UnchargeInode();
        }

        node.Ctime = now;
        Mtime = Ctime = now;
    }

    private static void CheckName(string name)
    {
        if (name.Length == 0 || name is "." or ".." || name.Contains('/', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
        {
            VfsException.Throw(Errno.EINVAL);
        }

        if (System.Text.Encoding.UTF8.GetByteCount(name) > TmpfsFileSystem.MaxNameLength)
        {
            VfsException.Throw(Errno.ENAMETOOLONG);
        }
    }

    private sealed class DirHandle(TmpfsDirectory dir) : IFileHandle
    {
        public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken ct = default) => throw new VfsException(Errno.EISDIR);

        public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken ct = default) => throw new VfsException(Errno.EISDIR);

        public ValueTask<IReadOnlyList<DirEntry>> ReadDirAsync(long cookie, int max, CancellationToken ct = default) =>
            ValueTask.FromResult(dir.ReadDir(cookie, max));

        public ValueTask FsyncAsync(CancellationToken ct = default) => default;

        public ValueTask DisposeAsync() => default;
    }
}
