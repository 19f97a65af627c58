using System.Text;
using Gofer.Sandbox.Vfs;

namespace Gofer.Sandbox.Tmpfs;

/// <summary>An inode of <see cref="TmpfsFileSystem"/>. Fields are guarded by the filesystem's lock.</summary>
internal abstract class TmpfsNode : INode
{
    private Dictionary<string, byte[]>? _xattrs;

    protected TmpfsNode(TmpfsFileSystem fs, uint mode, Credentials owner, ulong rdev = 0)
    {
        Fs = fs;
        Ino = fs.NextIno();
        ModeBits = mode;
        Uid = owner.Uid;
        Gid = owner.Gid;
        Rdev = rdev;
        Atime = Mtime = Ctime = fs.Now();
    }

    internal TmpfsFileSystem Fs { get; }

    public IFileSystem FileSystem => Fs;

    public FileType Type => Mode.TypeOf(ModeBits);

    internal ulong Ino { get; }

    internal uint ModeBits { get; set; }

    internal uint Uid { get; set; }

    internal uint Gid { get; set; }

    internal ulong Rdev { get; }

    internal uint Nlink { get; set; }

    internal Timespec Atime { get; set; }

    internal Timespec Mtime { get; set; }

    internal Timespec Ctime { get; set; }

    internal virtual long Size => 0;

    internal virtual long Blocks => 0;

    public ValueTask<InodeAttr> GetAttrAsync(CancellationToken ct = default)
    {
        lock (Fs.Sync)
        {
            return ValueTask.FromResult(new InodeAttr(Ino, ModeBits, Nlink, Uid, Gid, Rdev, Size, Blocks, Atime, Mtime, Ctime));
        }
    }

    public ValueTask SetAttrAsync(SetAttr attr, CancellationToken ct = default)
    {
        lock (Fs.Sync)
        {
            Fs.CheckWritable();
            var now = Fs.Now();
            if (attr.Has(SetAttrMask.Size))
            {
                if (Type == FileType.Directory)
                {
                    VfsException.Throw(Errno.EISDIR);
                }

                if (this is not TmpfsFile file)
                {
                    VfsException.Throw(Errno.EINVAL);
                    return default;
                }

                if (attr.Size < 0)
                {
                    VfsException.Throw(Errno.EINVAL);
                }

                if (file.Truncate(attr.Size))
                {
                    Mtime = now;
                }
            }

            if (attr.Has(SetAttrMask.Mode))
            {
                ModeBits = (ModeBits & Mode.TypeMask) | (attr.Mode & Mode.PermMask);
            }

            if (attr.Has(SetAttrMask.Uid))
            {
                Uid = attr.Uid;
            }

            if (attr.Has(SetAttrMask.Gid))
            {
                Gid = attr.Gid;
            }

            if (attr.Has(SetAttrMask.Atime))
            {
                Atime = attr.Has(SetAttrMask.AtimeSet) ? attr.Atime : now;
            }

            if (attr.Has(SetAttrMask.Mtime))
            {
                Mtime = attr.Has(SetAttrMask.MtimeSet) ? attr.Mtime : now;
            }

            Ctime = now;
            return default;
        }
    }

    public virtual ValueTask<INode> LookupAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.ENOTDIR);

    public virtual ValueTask<INode> CreateAsync(string name, uint perm, Credentials owner, CancellationToken ct = default) => throw new VfsException(Errno.ENOTDIR);

    public virtual ValueTask<INode> MkdirAsync(string name, uint perm, Credentials owner, CancellationToken ct = default) => throw new VfsException(Errno.ENOTDIR);

    public virtual ValueTask<INode> SymlinkAsync(string name, string target, Credentials owner, CancellationToken ct = default) => throw new VfsException(Errno.ENOTDIR);

    public virtual ValueTask<INode> MknodAsync(string name, uint mode, ulong rdev, Credentials owner, CancellationToken ct = default) => throw new VfsException(Errno.ENOTDIR);

    public virtual ValueTask LinkAsync(string name, INode target, CancellationToken ct = default) => throw new VfsException(Errno.ENOTDIR);

    public virtual ValueTask UnlinkAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.ENOTDIR);

    public virtual ValueTask RmdirAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.ENOTDIR);

    public virtual ValueTask RenameAsync(string oldName, INode newDir, string newName, RenameFlags flags, CancellationToken ct = default) => throw new VfsException(Errno.ENOTDIR);

    public virtual ValueTask<string> ReadLinkAsync(CancellationToken ct = default) => throw new VfsException(Errno.EINVAL);

    public virtual ValueTask<IFileHandle> OpenAsync(OpenFlags flags, CancellationToken ct = default) => throw new VfsException(Errno.ENXIO);

    public ValueTask<byte[]> GetXattrAsync(string name, CancellationToken ct = default)
    {
        CheckXattrName(name);
        lock (Fs.Sync)
        {
            return _xattrs is not null && _xattrs.TryGetValue(name, out var v)
                ? ValueTask.FromResult(v.ToArray())
                : throw new VfsException(Errno.ENODATA);
        }
    }

    public ValueTask SetXattrAsync(string name, ReadOnlyMemory<byte> value, XattrSetFlags flags, CancellationToken ct = default)
    {
        CheckXattrName(name);
        if (value.Length > TmpfsFileSystem.MaxXattrValue)
        {
            VfsException.Throw(Errno.E2BIG);
        }

        lock (Fs.Sync)
        {
            Fs.CheckWritable();
            _xattrs ??= new Dictionary<string, byte[]>(StringComparer.Ordinal);
            bool exists = _xattrs.ContainsKey(name);
            if (flags == XattrSetFlags.Create && exists)
            {
                VfsException.Throw(Errno.EEXIST);
            }

            if (flags == XattrSetFlags.Replace && !exists)
            {
                VfsException.Throw(Errno.ENODATA);
            }

            _xattrs[name] = value.ToArray();
            Ctime = Fs.Now();
            return default;
        }
    }

    public ValueTask<IReadOnlyList<string>> ListXattrAsync(CancellationToken ct = default)
    {
        lock (Fs.Sync)
        {
            IReadOnlyList<string> names = _xattrs is null ? [] : [.. _xattrs.Keys.Order(StringComparer.Ordinal)];
            return ValueTask.FromResult(names);
        }
    }

    public ValueTask RemoveXattrAsync(string name, CancellationToken ct = default)
    {
        CheckXattrName(name);
        lock (Fs.Sync)
        {
            Fs.CheckWritable();
            if (_xattrs is null || !_xattrs.Remove(name))
            {
                VfsException.Throw(Errno.ENODATA);
            }

            Ctime = Fs.Now();
            return default;
        }
    }

    public ValueTask ReleaseAsync() => default;

    /// <summary>Like Linux's tmpfs: user., trusted. and security. namespaces; anything else is EOPNOTSUPP.</summary>
    private static void CheckXattrName(string name)
    {
        if (Encoding.UTF8.GetByteCount(name) > TmpfsFileSystem.MaxNameLength)
        {
            VfsException.Throw(Errno.ERANGE);
        }

        string[] prefixes = ["user.", "trusted.", "security."];
        foreach (var p in prefixes)
        {
            if (name.StartsWith(p, StringComparison.Ordinal))
            {
                if (name.Length == p.Length)
                {
                    VfsException.Throw(Errno.EINVAL);
                }

                return;
            }
        }

        VfsException.Throw(Errno.EOPNOTSUPP);
    }
}

/// <summary>A symlink: the target is stored, never interpreted here.</summary>
internal sealed class TmpfsSymlink : TmpfsNode
{
    public TmpfsSymlink(TmpfsFileSystem fs, string target, Credentials owner)
        : base(fs, Mode.Make(FileType.Symlink, 0x1FF), owner) => Target = target;

    internal string Target { get; }

    internal override long Size => Encoding.UTF8.GetByteCount(Target);

    public override ValueTask<string> ReadLinkAsync(CancellationToken ct = default) => ValueTask.FromResult(Target);
}

/// <summary>Device, fifo or socket node: inert here; the VFS maps device numbers to emulated devices.</summary>
internal sealed class TmpfsSpecial : TmpfsNode
{
    public TmpfsSpecial(TmpfsFileSystem fs, uint mode, ulong rdev, Credentials owner)
        : base(fs, mode, owner, rdev)
    {
    }
}
