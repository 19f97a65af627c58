using System.Text;
using Gofer.Sandbox.Vfs;

namespace Gofer.Sandbox.Synthetic;

/// <summary>
/// A small read-only tree built in code: directories, symlinks, and files whose content is generated when opened
/// (so /proc/mounts reflects the mount table at open time). Used for proc, sysfs and devpts. Changes are EPERM,
/// as Linux's procfs refuses them; the mount itself is not read-only.
/// </summary>
internal sealed class SyntheticFileSystem : IFileSystem
{
    private long _nextIno = 1;

    public SyntheticFileSystem(string typeName, ulong magic, uint rootPerm = 0x16D /* 0555 */)
    {
        TypeName = typeName;
        Magic = magic;
        RootDir = new SynthDir(this, rootPerm);
    }

    public string TypeName { get; }

    public ulong Magic { get; }

    public bool IsReadOnly => false;

    public DentryCachePolicy CachePolicy => DentryCachePolicy.Authoritative;

    public SynthDir RootDir { get; }

    public INode Root => RootDir;

    internal ulong NextIno() => (ulong)Interlocked.Increment(ref _nextIno);

    public ValueTask<StatFs> StatFsAsync(CancellationToken ct = default) =>
        ValueTask.FromResult(new StatFs(Magic, 4096, 0, 0, 0, 0, 0, 255));

    public ValueTask<int> RevalidateAsync(INode start, IReadOnlyList<RevalidateStep> steps, CancellationToken ct = default) =>
        ValueTask.FromResult(steps.Count);
}

/// <summary>Base of synthetic nodes: fixed attributes, every change EPERM, no xattrs.</summary>
internal abstract class SynthNode : INode
{
    private readonly SyntheticFileSystem _fs;
    private readonly Timespec _created = Timespec.Now();

    protected SynthNode(SyntheticFileSystem fs, uint mode)
    {
        _fs = fs;
        ModeBits = mode;
        Ino = fs.NextIno();
    }

    public IFileSystem FileSystem => _fs;

    internal SyntheticFileSystem Fs => _fs;

    public FileType Type => Mode.TypeOf(ModeBits);

    internal uint ModeBits { get; }

    internal ulong Ino { get; }

    protected virtual long Size => 0;

    protected virtual uint Nlink => 1;

    public ValueTask<InodeAttr> GetAttrAsync(CancellationToken ct = default) =>
        ValueTask.FromResult(new InodeAttr(Ino, ModeBits, Nlink, 0, 0, 0, Size, 0, _created, _created, _created));

    public ValueTask SetAttrAsync(SetAttr attr, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public virtual ValueTask<INode> LookupAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.ENOTDIR);

    public ValueTask<INode> CreateAsync(string name, uint perm, Credentials owner, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask<INode> MkdirAsync(string name, uint perm, Credentials owner, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask<INode> SymlinkAsync(string name, string target, Credentials owner, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask<INode> MknodAsync(string name, uint mode, ulong rdev, Credentials owner, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask LinkAsync(string name, INode target, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask UnlinkAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask RmdirAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask RenameAsync(string oldName, INode newDir, string newName, RenameFlags flags, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public virtual ValueTask<string> ReadLinkAsync(CancellationToken ct = default) => throw new VfsException(Errno.EINVAL);

    public abstract ValueTask<IFileHandle> OpenAsync(OpenFlags flags, CancellationToken ct = default);

    public ValueTask<byte[]> GetXattrAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.ENODATA);

    public ValueTask SetXattrAsync(string name, ReadOnlyMemory<byte> value, XattrSetFlags flags, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask<IReadOnlyList<string>> ListXattrAsync(CancellationToken ct = default) => ValueTask.FromResult<IReadOnlyList<string>>([]);

    public ValueTask RemoveXattrAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask ReleaseAsync() => default;
}

internal sealed class SynthDir : SynthNode
{
    private readonly List<(string Name, SynthNode Node)> _children = [];

    public SynthDir(SyntheticFileSystem fs, uint perm = 0x16D)
        : base(fs, Mode.Make(FileType.Directory, perm))
    {
    }

    protected override uint Nlink => 2u + (uint)_children.Count(c => c.Node.Type == FileType.Directory);

    public SynthDir AddDir(string name, uint perm = 0x16D) => Add(name, new SynthDir(Fs, perm));

    public SynthFile AddFile(string name, Func<string> content, uint perm = 0x124 /* 0444 */) => Add(name, new SynthFile(Fs, perm, content));

    public SynthSymlink AddSymlink(string name, string target) => Add(name, new SynthSymlink(Fs, target));

    private T Add<T>(string name, T node)
        where T : SynthNode
    {
        lock (_children)
        {
            _children.Add((name, node));
        }

        return node;
    }

    public override ValueTask<INode> LookupAsync(string name, CancellationToken ct = default)
    {
        lock (_children)
        {
            foreach (var (n, node) in _children)
            {
                if (n == name)
                {
                    return ValueTask.FromResult<INode>(node);
                }
            }
        }

        throw new VfsException(Errno.ENOENT);
    }

    public override ValueTask<IFileHandle> OpenAsync(OpenFlags flags, CancellationToken ct = default)
    {
        List<DirEntry> entries;
        lock (_children)
        {
            entries = [.. _children.Select((c, i) => new DirEntry(c.Name, c.Node.Type, c.Node.Ino, i + 1))];
        }

        return ValueTask.FromResult<IFileHandle>(new ListHandle(entries));
    }

    private sealed class ListHandle(List<DirEntry> entries) : IFileHandle
    {
        public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken ct = default) => throw new VfsException(Errno.EISDIR);

        public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken ct = default) => throw new VfsException(Errno.EISDIR);

        public ValueTask<IReadOnlyList<DirEntry>> ReadDirAsync(long cookie, int max, CancellationToken ct = default)
        {
            int start = (int)Math.Clamp(cookie, 0, entries.Count);
            IReadOnlyList<DirEntry> page = entries.GetRange(start, Math.Min(Math.Max(max, 0), entries.Count - start));
            return ValueTask.FromResult(page);
        }

        public ValueTask FsyncAsync(CancellationToken ct = default) => default;

        public ValueTask DisposeAsync() => default;
    }
}

/// <summary>A file whose text is produced at open; writes are EACCES (as a 0444 proc file).</summary>
internal sealed class SynthFile(SyntheticFileSystem fs, uint perm, Func<string> content)
    : SynthNode(fs, Mode.Make(FileType.Regular, perm))
{
    public override ValueTask<IFileHandle> OpenAsync(OpenFlags flags, CancellationToken ct = default)
    {
        if (flags.CanWrite())
        {
            VfsException.Throw(Errno.EACCES);
        }

        return ValueTask.FromResult<IFileHandle>(new Snapshot(Encoding.UTF8.GetBytes(content())));
    }

    private sealed class Snapshot(byte[] data) : IFileHandle
    {
        public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken ct = default)
        {
            if (offset >= data.Length)
            {
                return ValueTask.FromResult(0);
            }

            int n = (int)Math.Min(buffer.Length, data.Length - offset);
            data.AsSpan((int)offset, n).CopyTo(buffer.Span);
            return ValueTask.FromResult(n);
        }

        public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken ct = default) => throw new VfsException(Errno.EACCES);

        public ValueTask<IReadOnlyList<DirEntry>> ReadDirAsync(long cookie, int max, CancellationToken ct = default) => throw new VfsException(Errno.ENOTDIR);

        public ValueTask FsyncAsync(CancellationToken ct = default) => default;

        public ValueTask DisposeAsync() => default;
    }
}

internal sealed class SynthSymlink(SyntheticFileSystem fs, string target)
    : SynthNode(fs, Mode.Make(FileType.Symlink, 0x1FF))
{
    protected override long Size => Encoding.UTF8.GetByteCount(target);

    public override ValueTask<string> ReadLinkAsync(CancellationToken ct = default) => ValueTask.FromResult(target);

    public override ValueTask<IFileHandle> OpenAsync(OpenFlags flags, CancellationToken ct = default) => throw new VfsException(Errno.ELOOP);
}

/// <summary>
/// An empty directory that exists only in the VFS, placed where a mount's destination is missing in a filesystem
/// that cannot create it (a read-only lower, a gofer mount): gVisor's synthetic mount point.
/// </summary>
internal sealed class SyntheticMountpointNode(IFileSystem owner) : INode
{
    private static long s_nextIno = 1L << 40; // far from real inode numbers, to avoid confusing tools
    private readonly ulong _ino = (ulong)Interlocked.Increment(ref s_nextIno);
    private readonly Timespec _created = Timespec.Now();

    public IFileSystem FileSystem => owner;

    public FileType Type => FileType.Directory;

    public ValueTask<InodeAttr> GetAttrAsync(CancellationToken ct = default) =>
        ValueTask.FromResult(new InodeAttr(_ino, Mode.Make(FileType.Directory, 0x1ED), 2, 0, 0, 0, 0, 0, _created, _created, _created));

    public ValueTask SetAttrAsync(SetAttr attr, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask<INode> LookupAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.ENOENT);

    public ValueTask<INode> CreateAsync(string name, uint perm, Credentials o, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask<INode> MkdirAsync(string name, uint perm, Credentials o, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask<INode> SymlinkAsync(string name, string target, Credentials o, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask<INode> MknodAsync(string name, uint mode, ulong rdev, Credentials o, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask LinkAsync(string name, INode target, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask UnlinkAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.ENOENT);

    public ValueTask RmdirAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.ENOENT);

    public ValueTask RenameAsync(string oldName, INode newDir, string newName, RenameFlags flags, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask<string> ReadLinkAsync(CancellationToken ct = default) => throw new VfsException(Errno.EINVAL);

    public ValueTask<IFileHandle> OpenAsync(OpenFlags flags, CancellationToken ct = default) =>
        flags.CanWrite() ? throw new VfsException(Errno.EISDIR) : ValueTask.FromResult<IFileHandle>(new Empty());

    public ValueTask<byte[]> GetXattrAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.ENODATA);

    public ValueTask SetXattrAsync(string name, ReadOnlyMemory<byte> value, XattrSetFlags flags, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask<IReadOnlyList<string>> ListXattrAsync(CancellationToken ct = default) => ValueTask.FromResult<IReadOnlyList<string>>([]);

    public ValueTask RemoveXattrAsync(string name, CancellationToken ct = default) => throw new VfsException(Errno.EPERM);

    public ValueTask ReleaseAsync() => default;

    private sealed class Empty : IFileHandle
    {
        public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken ct = default) => throw new VfsException(Errno.EISDIR);

        public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken ct = default) => throw new VfsException(Errno.EISDIR);

        public ValueTask<IReadOnlyList<DirEntry>> ReadDirAsync(long cookie, int max, CancellationToken ct = default) =>
            ValueTask.FromResult<IReadOnlyList<DirEntry>>([]);

        public ValueTask FsyncAsync(CancellationToken ct = default) => default;

        public ValueTask DisposeAsync() => default;
    }
}
