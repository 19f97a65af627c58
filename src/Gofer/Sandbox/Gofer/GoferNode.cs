using Gofer.Sandbox.Vfs;
using P9.Protocol.Client;
using P9.Protocol.Wire;

namespace Gofer.Sandbox.Gofer;

/// <summary>
/// One walked, unopened fid (a dentry's view of a file). Operations map one-to-one onto 9P2000.L requests; in
/// exclusive mode the shared <see cref="GoferInode"/> answers from cache where it can. Every failure is a
/// <see cref="VfsException"/> carrying the Rlerror errno.
/// </summary>
internal sealed class GoferNode : INode
{
    private readonly GoferFileSystem _fs;
    private P9Fid _fid;
    private int _released;

    internal GoferNode(GoferFileSystem fs, P9Fid fid, GoferInode inode, FileType type, GoferInode? parent = null, string name = "")
    {
        _fs = fs;
        _fid = fid;
        Inode = inode;
        Type = type;
        Parent = parent;
        Name = name;
        lock (fs.Lock)
        {
            inode.Nodes.Add(this);
        }
    }

    /// <summary>The node's walked fid. Replaced (once per rename of this entry) by a fid walked to the new name.</summary>
    public P9Fid Fid => Volatile.Read(ref _fid);

    /// <summary>The directory and name this node was walked by (guarded by the filesystem's lock).</summary>
    internal GoferInode? Parent { get; private set; }

    internal string Name { get; private set; }

    public Qid Qid => Fid.Qid;

    public GoferInode Inode { get; }

    public IFileSystem FileSystem => _fs;

    public FileType Type { get; }

    internal static InodeAttr ToInodeAttr(P9Attr a) => new(
        a.Qid.Path,
        a.Mode,
        (uint)Math.Min(a.Nlink, uint.MaxValue),
        a.Uid,
        a.Gid,
        a.Rdev,
        (long)Math.Min(a.Size, long.MaxValue),
        (long)Math.Min(a.Blocks, long.MaxValue),
        new Timespec((long)a.AtimeSec, (long)a.AtimeNsec),
        new Timespec((long)a.MtimeSec, (long)a.MtimeNsec),
        new Timespec((long)a.CtimeSec, (long)a.CtimeNsec));

    // ---- attributes --------------------------------------------------------------------------------------------

    public async ValueTask<InodeAttr> GetAttrAsync(CancellationToken ct = default)
    {
        if (_fs.Exclusive)
        {
            lock (_fs.Lock)
            {
                if (Inode.Attr is { } cached)
                {
                    return cached;
                }
            }
        }

        try
        {
            var attr = ToInodeAttr(await Fid.GetAttrAsync(GetattrMask.Basic, ct).ConfigureAwait(false));
            Inode.StoreAttr(attr, _fs);
            return attr;
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }
    }

    public async ValueTask SetAttrAsync(SetAttr attr, CancellationToken ct = default)
    {
        CheckWritable();
        if (attr.Has(SetAttrMask.Size) && Type == FileType.Directory)
        {
            VfsException.Throw(Errno.EISDIR);
        }

        if (attr.Has(SetAttrMask.Size) && attr.Size < 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        var p = new P9SetAttr
        {
            // The VFS's mask bits are Tsetattr's valid bits (see SetAttrMask).
            Valid = (SetattrMask)(uint)attr.Mask,
            Mode = attr.Mode,
            Uid = attr.Uid,
            Gid = attr.Gid,
            Size = (ulong)Math.Max(attr.Size, 0),
            AtimeSec = (ulong)attr.Atime.Sec,
            AtimeNsec = (ulong)attr.Atime.Nsec,
            MtimeSec = (ulong)attr.Mtime.Sec,
            MtimeNsec = (ulong)attr.Mtime.Nsec,
        };
        try
        {
            await Fid.SetAttrAsync(p, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }
        finally
        {
            lock (_fs.Lock)
            {
                Inode.ForgetAttrLocked();
                if (attr.Has(SetAttrMask.Size))
                {
                    Inode.DataGen++;
                    _fs.DropPagesLocked(Inode);
                }
            }
        }
    }

    // ---- lookup and creation -----------------------------------------------------------------------------------

    public async ValueTask<INode> LookupAsync(string name, CancellationToken ct = default)
    {
        EnsureDirectory();
        if (_fs.Exclusive)
        {
            lock (_fs.Lock)
            {
                if (Inode.Absent?.Contains(name) == true)
                {
                    // A negative dentry: in exclusive mode nobody else creates files, so "absent" stays true.
                    VfsException.Throw(Errno.ENOENT);
                }
            }
        }

        P9Fid child;
        try
        {
            child = await Fid.WalkAsync([name], ct).ConfigureAwait(false);
        }
        catch (P9Exception e) when (e.Errno == LinuxErrno.ENOENT && _fs.Exclusive)
        {
            lock (_fs.Lock)
            {
                (Inode.Absent ??= new HashSet<string>(StringComparer.Ordinal)).Add(name);
            }

            throw GoferErrors.Map(e);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }

        return await AdoptAsync(child, name, null, ct).ConfigureAwait(false);
    }

    /// <summary>Wraps a freshly walked fid for <paramref name="name"/> in a node; owns the fid (clunked on failure).</summary>
    private async ValueTask<GoferNode> AdoptAsync(P9Fid fid, string name, FileType? knownType, CancellationToken ct)
    {
        var inode = _fs.AcquireInode(fid.Qid);
        try
        {
            FileType type;
            InodeAttr? cached;
            lock (_fs.Lock)
            {
                cached = _fs.Exclusive ? inode.Attr : null;
            }

            if (knownType is { } k)
            {
                type = k;
            }
            else if ((fid.Qid.Type & QidType.Dir) != 0)
            {
                type = FileType.Directory;
            }
            else if ((fid.Qid.Type & QidType.Symlink) != 0)
            {
                type = FileType.Symlink;
            }
            else if (cached is { } c)
            {
                type = c.Type;
            }
            else
            {
                // The qid type does not tell a regular file from a fifo or a device: the mode does.
                var attr = ToInodeAttr(await fid.GetAttrAsync(GetattrMask.Basic, ct).ConfigureAwait(false));
                inode.StoreAttr(attr, _fs);
                type = attr.Type;
            }

            if (_fs.Exclusive)
            {
                lock (_fs.Lock)
                {
                    (Inode.Children ??= new Dictionary<string, ulong>(StringComparer.Ordinal))[name] = fid.Qid.Path;
                    Inode.Absent?.Remove(name);
                }
            }

            return new GoferNode(_fs, fid, inode, type, Inode, name);
        }
        catch (IOException e)
        {
            await fid.DisposeAsync().ConfigureAwait(false);
            await _fs.ReleaseInodeAsync(inode).ConfigureAwait(false);
            throw GoferErrors.Map(e);
        }
        catch
        {
            await fid.DisposeAsync().ConfigureAwait(false);
            await _fs.ReleaseInodeAsync(inode).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>After a create-like request: walk a fresh unopened fid to the new entry and make it a node.</summary>
    private async ValueTask<GoferNode> WalkNewAsync(string name, FileType type, CancellationToken ct)
    {
        DirectoryChanged(name, present: true);
        P9Fid child;
        try
        {
            child = await Fid.WalkAsync([name], ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }

        return await AdoptAsync(child, name, type, ct).ConfigureAwait(false);
    }

    public async ValueTask<INode> CreateAsync(string name, uint perm, Credentials owner, CancellationToken ct = default)
    {
        CheckWritable();
        EnsureDirectory();
        P9Fid opened;
        try
        {
            // Tlcreate on a clone of this directory's fid: the clone becomes the new, open file.
            opened = await Fid.CreateAsync(name, LopenFlags.ReadWrite, perm & Mode.PermMask, owner.Gid, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }

        GoferNode node;
        try
        {
            node = await WalkNewAsync(name, FileType.Regular, ct).ConfigureAwait(false);
        }
        catch
        {
            await opened.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        bool kept = false;
        if (_fs.Exclusive)
        {
            // The open-for-create fid is kept for reuse: the open that follows O_CREAT costs nothing.
            lock (_fs.Lock)
            {
                if (node.Inode.OpenFids[(int)OpenFlags.ReadWrite] is null)
                {
                    node.Inode.OpenFids[(int)OpenFlags.ReadWrite] = opened;
                    kept = true;
                }
            }
        }

        if (!kept)
        {
            opened.Dispose();
        }

        return node;
    }

    public async ValueTask<INode> MkdirAsync(string name, uint perm, Credentials owner, CancellationToken ct = default)
    {
        CheckWritable();
        EnsureDirectory();
        try
        {
            await Fid.MkdirAsync(name, perm & Mode.PermMask, owner.Gid, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }

        return await WalkNewAsync(name, FileType.Directory, ct).ConfigureAwait(false);
    }

    public async ValueTask<INode> SymlinkAsync(string name, string target, Credentials owner, CancellationToken ct = default)
    {
        CheckWritable();
        EnsureDirectory();
        try
        {
            await Fid.SymlinkAsync(name, target, owner.Gid, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }

        var node = await WalkNewAsync(name, FileType.Symlink, ct).ConfigureAwait(false);
        if (_fs.Exclusive)
        {
            lock (_fs.Lock)
            {
                node.Inode.LinkTarget = target;
            }
        }

        return node;
    }

    public async ValueTask<INode> MknodAsync(string name, uint mode, ulong rdev, Credentials owner, CancellationToken ct = default)
    {
        CheckWritable();
        EnsureDirectory();
        // Linux's dev_t encoding (new_encode_dev): 12 bits of major above 8 bits of minor, the rest further up.
        uint major = (uint)(((rdev >> 8) & 0xfff) | ((rdev >> 32) & 0xfffff000));
        uint minor = (uint)((rdev & 0xff) | ((rdev >> 12) & 0xffffff00));
        try
        {
            await Fid.MknodAsync(name, mode, major, minor, owner.Gid, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }

        return await WalkNewAsync(name, Mode.TypeOf(mode), ct).ConfigureAwait(false);
    }

    public async ValueTask LinkAsync(string name, INode target, CancellationToken ct = default)
    {
        CheckWritable();
        EnsureDirectory();
        if (target is not GoferNode t || t._fs != _fs)
        {
            VfsException.Throw(Errno.EXDEV);
            return;
        }

        try
        {
            await Fid.LinkAsync(name, t.Fid, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }

        DirectoryChanged(name, present: true, childPath: t.Qid.Path);
        lock (_fs.Lock)
        {
            t.Inode.ForgetAttrLocked(); // nlink and ctime changed
        }
    }

    public ValueTask UnlinkAsync(string name, CancellationToken ct = default) => RemoveAsync(name, 0, ct);

    public ValueTask RmdirAsync(string name, CancellationToken ct = default) => RemoveAsync(name, UnlinkatFlags.RemoveDir, ct);

    private async ValueTask RemoveAsync(string name, uint flags, CancellationToken ct)
    {
        CheckWritable();
        EnsureDirectory();
        try
        {
            await Fid.UnlinkAtAsync(name, flags, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }

        DirectoryChanged(name, present: false);
    }

    public async ValueTask RenameAsync(string oldName, INode newDir, string newName, RenameFlags flags, CancellationToken ct = default)
    {
        CheckWritable();
        EnsureDirectory();
        if (newDir is not GoferNode nd || nd._fs != _fs)
        {
            VfsException.Throw(Errno.EXDEV);
            return;
        }

        if ((flags & RenameFlags.Exchange) != 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        try
        {
            if ((flags & RenameFlags.NoReplace) != 0)
            {
                // 9P2000.L has no renameat2 flags: check first (racy against other writers, exact in exclusive mode).
                try
                {
                    await using var existing = await nd.Fid.WalkAsync([newName], ct).ConfigureAwait(false);
                    VfsException.Throw(Errno.EEXIST);
                }
                catch (P9Exception e) when (e.Errno == LinuxErrno.ENOENT)
                {
                }
            }

            try
            {
                await Fid.RenameAtAsync(oldName, nd.Fid, newName, ct).ConfigureAwait(false);
            }
            catch (P9Exception e) when (e.Errno is LinuxErrno.EOPNOTSUPP or LinuxErrno.ENOSYS)
            {
                // A server without Trenameat: walk to the file and Trename it, as older Linux clients do.
                await using var moving = await Fid.WalkAsync([oldName], ct).ConfigureAwait(false);
                await moving.RenameAsync(nd.Fid, newName, ct).ConfigureAwait(false);
            }
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }

        await RebindMovedNodeAsync(oldName, nd, newName, ct).ConfigureAwait(false);
        ulong? moved = null;
        if (_fs.Exclusive)
        {
            lock (_fs.Lock)
            {
                if (Inode.Children?.Remove(oldName, out var p) == true)
                {
                    moved = p;
                }
            }
        }

        DirectoryChanged(oldName, present: false);
        nd.DirectoryChanged(newName, present: true, childPath: moved);
        if (moved is { } path)
        {
            lock (_fs.Lock)
            {
                _fs.FindInodeLocked(path)?.ForgetAttrLocked(); // ctime changed
            }
        }
    }

    /// <summary>
    /// Servers whose fids name paths (diod) leave the moved node's fid on the old name; fd-based servers (ours,
    /// gVisor's) move it with the file. Either way the node gets a fid walked to the new name, so later operations
    /// on the renamed dentry reach the file on every server. Costs one Twalk and a background Tclunk per rename.
    /// A moved directory's cached descendants are not rebound (on path-based servers they go stale).
    /// </summary>
    private async ValueTask RebindMovedNodeAsync(string oldName, GoferNode newDir, string newName, CancellationToken ct)
    {
        P9Fid fresh;
        try
        {
            fresh = await newDir.Fid.WalkAsync([newName], ct).ConfigureAwait(false);
        }
        catch (IOException)
        {
            return; // gone again already: the next lookup reports it
        }

        P9Fid stale = fresh;
        lock (_fs.Lock)
        {
            var node = _fs.FindInodeLocked(fresh.Qid.Path)?.Nodes.Find(n => n.Parent == Inode && n.Name == oldName);
            if (node is not null)
            {
                stale = Interlocked.Exchange(ref node._fid, fresh);
                node.Parent = newDir.Inode;
                node.Name = newName;
            }
        }

        stale.Dispose();
    }

    /// <summary>
    /// Our own change to this directory: its attributes (mtime, nlink) and listing are stale; in exclusive mode the
    /// negative cache learns the name's new state and a replaced or removed child's attributes (nlink) are dropped.
    /// </summary>
    private void DirectoryChanged(string name, bool present, ulong? childPath = null)
    {
        lock (_fs.Lock)
        {
            Inode.ForgetAttrLocked();
            Inode.Listing = null;
            Inode.DataGen++;
            if (!_fs.Exclusive)
            {
                return;
            }

            if (Inode.Children is { } children && children.Remove(name, out var old))
            {
                _fs.FindInodeLocked(old)?.ForgetAttrLocked();
            }

            if (present)
            {
                Inode.Absent?.Remove(name);
                if (childPath is { } p)
                {
                    (Inode.Children ??= new Dictionary<string, ulong>(StringComparer.Ordinal))[name] = p;
                }
            }
            else
            {
                (Inode.Absent ??= new HashSet<string>(StringComparer.Ordinal)).Add(name);
            }
        }
    }

    // ---- symlinks, open ----------------------------------------------------------------------------------------

    public async ValueTask<string> ReadLinkAsync(CancellationToken ct = default)
    {
        if (Type != FileType.Symlink)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        if (_fs.Exclusive)
        {
            lock (_fs.Lock)
            {
                if (Inode.LinkTarget is { } t)
                {
                    return t;
                }
            }
        }

        try
        {
            string target = await Fid.ReadLinkAsync(ct).ConfigureAwait(false);
            if (_fs.Exclusive)
            {
                lock (_fs.Lock)
                {
                    Inode.LinkTarget = target;
                }
            }

            return target;
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }
    }

    public async ValueTask<IFileHandle> OpenAsync(OpenFlags flags, CancellationToken ct = default)
    {
        if (Type is not (FileType.Regular or FileType.Directory))
        {
            VfsException.Throw(Errno.ENXIO);
        }

        var access = flags & OpenFlags.AccessMask;
        if (access == OpenFlags.AccessMask)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        if (flags.CanWrite())
        {
            CheckWritable();
            if (Type == FileType.Directory)
            {
                VfsException.Throw(Errno.EISDIR);
            }
        }

        bool append = (flags & OpenFlags.Append) != 0;
        try
        {
            if (!_fs.Exclusive && Type == FileType.Regular)
            {
                // Close-to-open consistency: a file changed on the host since its pages were cached loses them now.
                Inode.StoreAttr(ToInodeAttr(await Fid.GetAttrAsync(GetattrMask.Basic, ct).ConfigureAwait(false)), _fs);
            }

            if (_fs.Exclusive && !append)
            {
                // One opened fid per access mode, kept with the file and shared by its handles.
                P9Fid? shared;
                lock (_fs.Lock)
                {
                    shared = Inode.OpenFids[(int)access];
                    if (shared is not null)
                    {
                        Inode.Refs++;
                        return new GoferHandle(_fs, Inode, shared, owned: false, flags, Type);
                    }
                }

                var fresh = await OpenFidAsync(access, ct).ConfigureAwait(false);
                P9Fid? loser = null;
                GoferHandle handle;
                lock (_fs.Lock)
                {
                    if (Inode.OpenFids[(int)access] is { } winner)
                    {
                        loser = fresh;
                        fresh = winner;
                    }
                    else
                    {
                        Inode.OpenFids[(int)access] = fresh;
                    }

                    Inode.Refs++;
                    handle = new GoferHandle(_fs, Inode, fresh, owned: false, flags, Type);
                }

                loser?.Dispose();
                return handle;
            }

            var own = await OpenFidAsync(access | (append ? OpenFlags.Append : 0), ct).ConfigureAwait(false);
            lock (_fs.Lock)
            {
                Inode.Refs++;
            }

            return new GoferHandle(_fs, Inode, own, owned: true, flags, Type);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }
    }

    /// <summary>Walk-clone + Tlopen: 2 RPCs. The node's own fid stays unopened so it can still be walked from.</summary>
    private async ValueTask<P9Fid> OpenFidAsync(OpenFlags flags, CancellationToken ct)
    {
        var clone = await Fid.CloneAsync(ct).ConfigureAwait(false);
        try
        {
            // OpenFlags and LopenFlags share the Linux x86 values for the access mode and O_APPEND.
            await clone.OpenAsync((LopenFlags)(uint)(flags & (OpenFlags.AccessMask | OpenFlags.Append)), ct).ConfigureAwait(false);
            return clone;
        }
        catch
        {
            await clone.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // ---- xattrs ------------------------------------------------------------------------------------------------

    public async ValueTask<byte[]> GetXattrAsync(string name, CancellationToken ct = default)
    {
        try
        {
            return await Fid.GetXattrAsync(name, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }
    }

    public async ValueTask SetXattrAsync(string name, ReadOnlyMemory<byte> value, XattrSetFlags flags, CancellationToken ct = default)
    {
        CheckWritable();
        try
        {
            // XattrSetFlags are the Linux XATTR_CREATE/XATTR_REPLACE values Txattrcreate carries.
            await Fid.SetXattrAsync(name, value, (uint)flags, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }
    }

    public async ValueTask<IReadOnlyList<string>> ListXattrAsync(CancellationToken ct = default)
    {
        try
        {
            return await Fid.ListXattrsAsync(ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }
    }

    public async ValueTask RemoveXattrAsync(string name, CancellationToken ct = default)
    {
        CheckWritable();
        try
        {
            await Fid.RemoveXattrAsync(name, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }
    }

    // ---- lifetime ----------------------------------------------------------------------------------------------

    /// <summary>The dentry went away (LRU eviction, unlink, stale): clunk the fid so the gofer can close its fd.</summary>
    public async ValueTask ReleaseAsync()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        lock (_fs.Lock)
        {
            Inode.Nodes.Remove(this);
        }

        await Fid.DisposeAsync().ConfigureAwait(false);
        await _fs.ReleaseInodeAsync(Inode).ConfigureAwait(false);
    }

    public override string ToString() => $"gofer node {Fid}";

    private void CheckWritable()
    {
        if (_fs.IsReadOnly)
        {
            VfsException.Throw(Errno.EROFS);
        }
    }

    private void EnsureDirectory()
    {
        if (Type != FileType.Directory)
        {
            VfsException.Throw(Errno.ENOTDIR);
        }
    }
}
