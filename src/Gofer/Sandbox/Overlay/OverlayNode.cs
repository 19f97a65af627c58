using Gofer.Sandbox.Vfs;

namespace Gofer.Sandbox.Overlay;

/// <summary>
/// A name in the overlay. <see cref="Upper"/> is set once the entry exists in the upper layer (created there or
/// copied up); <see cref="Lower"/> is where content comes from before copy-up, and for a directory the lower
/// directory merged under it (null when opaque). <see cref="Covers"/> records that the lower layer has an entry
/// at this name, so removing or moving this one must leave a whiteout.
/// </summary>
internal sealed class OverlayNode : INode
{
    private readonly OverlayFileSystem _fs;

    // Children handed out, so a name has one node (its copy-up state and parent link are shared) and rename can
    // re-parent the node the VFS holds. Entries leave on removal, rename and release.
    private readonly Dictionary<string, OverlayNode> _children = new(StringComparer.Ordinal);

    internal OverlayNode(OverlayFileSystem fs, OverlayNode? parent, string name, FileType type, INode? upper, INode? lower, bool covers)
    {
        _fs = fs;
        Parent = parent;
        Name = name;
        Type = type;
        Upper = upper;
        Lower = lower;
        Covers = covers;
    }

    public IFileSystem FileSystem => _fs;

    public FileType Type { get; }

    internal OverlayNode? Parent { get; private set; }

    internal string Name { get; private set; }

    internal INode? Upper { get; private set; }

    internal INode? Lower { get; private set; }

    internal bool Covers { get; private set; }

    private INode Current => Upper ?? Lower ?? throw new VfsException(Errno.ENOENT);

    public ValueTask<InodeAttr> GetAttrAsync(CancellationToken ct = default) => Current.GetAttrAsync(ct);

    public async ValueTask SetAttrAsync(SetAttr attr, CancellationToken ct = default)
    {
        await using var _ = await LockAsync(ct).ConfigureAwait(false);
        await CopyUpAsync(ct).ConfigureAwait(false);
        await Upper!.SetAttrAsync(attr, ct).ConfigureAwait(false);
    }

    public async ValueTask<INode> LookupAsync(string name, CancellationToken ct = default)
    {
        await using var _ = await LockAsync(ct).ConfigureAwait(false);
        return await LookupLockedAsync(name, ct).ConfigureAwait(false);
    }

    private async ValueTask<OverlayNode> LookupLockedAsync(string name, CancellationToken ct)
    {
        if (Type != FileType.Directory)
        {
            VfsException.Throw(Errno.ENOTDIR);
        }

        if (_children.TryGetValue(name, out var known))
        {
            return known;
        }

        return await TryLookupLockedAsync(name, ct).ConfigureAwait(false) ?? throw new VfsException(Errno.ENOENT);
    }

    private async ValueTask<OverlayNode?> TryLookupLockedAsync(string name, CancellationToken ct)
    {
        if (_children.TryGetValue(name, out var known))
        {
            return known;
        }

        var u = await OverlayFileSystem.TryLookupAsync(Upper, name, ct).ConfigureAwait(false);
        if (u is not null && await OverlayFileSystem.IsWhiteoutAsync(u, ct).ConfigureAwait(false))
        {
            return null;
        }

        var l = await OverlayFileSystem.TryLookupAsync(Lower, name, ct).ConfigureAwait(false);
        if (u is null && l is null)
        {
            return null;
        }

        bool covers = l is not null;
        INode? content = l;
        if (u is not null)
        {
            // An upper non-directory hides the lower entry; an upper directory merges with a lower directory
            // unless it is opaque.
            bool merge = u.Type == FileType.Directory && l is { Type: FileType.Directory }
                && !await OverlayFileSystem.IsOpaqueAsync(u, ct).ConfigureAwait(false);
            content = merge ? l : null;
        }

        var node = new OverlayNode(_fs, this, name, (u ?? l)!.Type, u, content, covers);
        _children[name] = node;
        return node;
    }

    public ValueTask<INode> CreateAsync(string name, uint perm, Credentials owner, CancellationToken ct = default) =>
        CreateChildAsync(name, FileType.Regular, (dir, c) => dir.CreateAsync(name, perm, owner, c), ct);

    public ValueTask<INode> MkdirAsync(string name, uint perm, Credentials owner, CancellationToken ct = default) =>
        CreateChildAsync(name, FileType.Directory, (dir, c) => dir.MkdirAsync(name, perm, owner, c), ct);

    public ValueTask<INode> SymlinkAsync(string name, string target, Credentials owner, CancellationToken ct = default) =>
        CreateChildAsync(name, FileType.Symlink, (dir, c) => dir.SymlinkAsync(name, target, owner, c), ct);

    public ValueTask<INode> MknodAsync(string name, uint mode, ulong rdev, Credentials owner, CancellationToken ct = default) =>
        CreateChildAsync(name, Mode.TypeOf(mode), (dir, c) => dir.MknodAsync(name, mode, rdev, owner, c), ct);

    private async ValueTask<INode> CreateChildAsync(string name, FileType type, Func<INode, CancellationToken, ValueTask<INode>> make, CancellationToken ct)
    {
        await using var _ = await LockAsync(ct).ConfigureAwait(false);
        if (Type != FileType.Directory)
        {
            VfsException.Throw(Errno.ENOTDIR);
        }

        if (await TryLookupLockedAsync(name, ct).ConfigureAwait(false) is not null)
        {
            VfsException.Throw(Errno.EEXIST);
        }

        await CopyUpAsync(ct).ConfigureAwait(false);
        bool whiteout = await RemoveWhiteoutAsync(name, ct).ConfigureAwait(false);
        var u = await make(Upper!, ct).ConfigureAwait(false);
        if (whiteout && type == FileType.Directory)
        {
            // Something was deleted here in the lower layer: the new directory must not show its old content.
            await u.SetXattrAsync(OverlayFileSystem.OpaqueXattr, "y"u8.ToArray(), XattrSetFlags.Any, ct).ConfigureAwait(false);
        }

        var node = new OverlayNode(_fs, this, name, u.Type, u, null, covers: whiteout);
        _children[name] = node;
        return node;
    }

    public async ValueTask LinkAsync(string name, INode target, CancellationToken ct = default)
    {
        if (target is not OverlayNode t || t._fs != _fs)
        {
            VfsException.Throw(Errno.EXDEV);
            return;
        }

        await using var _ = await LockAsync(ct).ConfigureAwait(false);
        if (await TryLookupLockedAsync(name, ct).ConfigureAwait(false) is not null)
        {
            VfsException.Throw(Errno.EEXIST);
        }

        await t.CopyUpAsync(ct).ConfigureAwait(false);
        await CopyUpAsync(ct).ConfigureAwait(false);
        bool whiteout = await RemoveWhiteoutAsync(name, ct).ConfigureAwait(false);
        await Upper!.LinkAsync(name, t.Upper!, ct).ConfigureAwait(false);
        _children[name] = new OverlayNode(_fs, this, name, t.Type, t.Upper, null, covers: whiteout);
    }

    public async ValueTask UnlinkAsync(string name, CancellationToken ct = default)
    {
        await using var _ = await LockAsync(ct).ConfigureAwait(false);
        var child = await LookupLockedAsync(name, ct).ConfigureAwait(false);
        if (child.Type == FileType.Directory)
        {
            VfsException.Throw(Errno.EISDIR);
        }

        await RemoveChildAsync(child, ct).ConfigureAwait(false);
    }

    public async ValueTask RmdirAsync(string name, CancellationToken ct = default)
    {
        await using var _ = await LockAsync(ct).ConfigureAwait(false);
        var child = await LookupLockedAsync(name, ct).ConfigureAwait(false);
        if (child.Type != FileType.Directory)
        {
            VfsException.Throw(Errno.ENOTDIR);
        }

        if ((await child.MergedEntriesAsync(ct).ConfigureAwait(false)).Count != 0)
        {
            VfsException.Throw(Errno.ENOTEMPTY);
        }

        await RemoveChildAsync(child, ct).ConfigureAwait(false);
    }

    /// <summary>Removes a child's upper entry (if any) and leaves a whiteout if the lower layer has the name.</summary>
    private async ValueTask RemoveChildAsync(OverlayNode child, CancellationToken ct)
    {
        await CopyUpAsync(ct).ConfigureAwait(false);
        if (child.Upper is not null)
        {
            if (child.Type == FileType.Directory)
            {
                await child.ClearWhiteoutsAsync(ct).ConfigureAwait(false);
                await Upper!.RmdirAsync(child.Name, ct).ConfigureAwait(false);
            }
            else
            {
                await Upper!.UnlinkAsync(child.Name, ct).ConfigureAwait(false);
            }
        }

        if (child.Covers)
        {
            await MakeWhiteoutAsync(child.Name, ct).ConfigureAwait(false);
        }

        _children.Remove(child.Name);
    }

    public async ValueTask RenameAsync(string oldName, INode newDir, string newName, RenameFlags flags, CancellationToken ct = default)
    {
        if (newDir is not OverlayNode dstDir || dstDir._fs != _fs)
        {
            VfsException.Throw(Errno.EXDEV);
            return;
        }

        if ((flags & RenameFlags.Exchange) != 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        await using var _ = await LockAsync(ct).ConfigureAwait(false);
        var src = await LookupLockedAsync(oldName, ct).ConfigureAwait(false);
        if (src.Type == FileType.Directory && (src.Lower is not null || (src.Upper is null)))
        {
            // Without redirect_dir, Linux overlayfs cannot move a directory that has lower content.
            VfsException.Throw(Errno.EXDEV);
        }

        var dst = await dstDir.TryLookupLockedAsync(newName, ct).ConfigureAwait(false);
        if (dst == src)
        {
            return;
        }

        if (dst is not null)
        {
            if ((flags & RenameFlags.NoReplace) != 0)
            {
                VfsException.Throw(Errno.EEXIST);
            }

            if (src.Type == FileType.Directory && dst.Type != FileType.Directory)
            {
                VfsException.Throw(Errno.ENOTDIR);
            }

            if (src.Type != FileType.Directory && dst.Type == FileType.Directory)
            {
                VfsException.Throw(Errno.EISDIR);
            }

            if (dst.Type == FileType.Directory && (await dst.MergedEntriesAsync(ct).ConfigureAwait(false)).Count != 0)
            {
                VfsException.Throw(Errno.ENOTEMPTY);
            }
        }

        await src.CopyUpAsync(ct).ConfigureAwait(false);
        await dstDir.CopyUpAsync(ct).ConfigureAwait(false);
        bool newCovers;
        if (dst is not null)
        {
            newCovers = dst.Covers;
            if (dst.Upper is not null)
            {
                if (dst.Type == FileType.Directory)
                {
                    await dst.ClearWhiteoutsAsync(ct).ConfigureAwait(false);
                    await dstDir.Upper!.RmdirAsync(newName, ct).ConfigureAwait(false);
                }
                else
                {
                    await dstDir.Upper!.UnlinkAsync(newName, ct).ConfigureAwait(false);
                }
            }

            dstDir._children.Remove(newName);
        }
        else
        {
            newCovers = await dstDir.RemoveWhiteoutAsync(newName, ct).ConfigureAwait(false);
        }

        if (src.Type == FileType.Directory && newCovers)
        {
            await src.Upper!.SetXattrAsync(OverlayFileSystem.OpaqueXattr, "y"u8.ToArray(), XattrSetFlags.Any, ct).ConfigureAwait(false);
        }

        await Upper!.RenameAsync(oldName, dstDir.Upper!, newName, flags, ct).ConfigureAwait(false);
        bool oldCovers = src.Covers;
        _children.Remove(oldName);
        if (oldCovers)
        {
            await MakeWhiteoutAsync(oldName, ct).ConfigureAwait(false);
        }

        src.Parent = dstDir;
        src.Name = newName;
        src.Covers = newCovers;
        src.Lower = null;
        dstDir._children[newName] = src;
    }

    public ValueTask<string> ReadLinkAsync(CancellationToken ct = default) => Current.ReadLinkAsync(ct);

    public async ValueTask<IFileHandle> OpenAsync(OpenFlags flags, CancellationToken ct = default)
    {
        if (Type == FileType.Directory)
        {
            if (flags.CanWrite())
            {
                VfsException.Throw(Errno.EISDIR);
            }

            await using var _ = await LockAsync(ct).ConfigureAwait(false);
            return new MergedDirHandle(await MergedEntriesAsync(ct).ConfigureAwait(false));
        }

        if (flags.CanWrite())
        {
            await using var _ = await LockAsync(ct).ConfigureAwait(false);
            await CopyUpAsync(ct).ConfigureAwait(false);
        }

        return await Current.OpenAsync(flags, ct).ConfigureAwait(false);
    }

    public ValueTask<byte[]> GetXattrAsync(string name, CancellationToken ct = default)
    {
        CheckPublicXattr(name);
        return Current.GetXattrAsync(name, ct);
    }

    public async ValueTask SetXattrAsync(string name, ReadOnlyMemory<byte> value, XattrSetFlags flags, CancellationToken ct = default)
    {
        CheckPublicXattr(name);
        await using var _ = await LockAsync(ct).ConfigureAwait(false);
        await CopyUpAsync(ct).ConfigureAwait(false);
        await Upper!.SetXattrAsync(name, value, flags, ct).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<string>> ListXattrAsync(CancellationToken ct = default)
    {
        var all = await Current.ListXattrAsync(ct).ConfigureAwait(false);
        return [.. all.Where(n => !n.StartsWith(OverlayFileSystem.PrivatePrefix, StringComparison.Ordinal))];
    }

    public async ValueTask RemoveXattrAsync(string name, CancellationToken ct = default)
    {
        CheckPublicXattr(name);
        await using var _ = await LockAsync(ct).ConfigureAwait(false);
        await CopyUpAsync(ct).ConfigureAwait(false);
        await Upper!.RemoveXattrAsync(name, ct).ConfigureAwait(false);
    }

    public async ValueTask ReleaseAsync()
    {
        // The VFS no longer caches this name: forget it, and let the lower node go (a gofer lower clunks its fid).
        // A node that still has cached children stays, since they hold their parent link.
        await using var _ = await LockAsync(default).ConfigureAwait(false);
        if (_children.Count == 0 && Parent is not null && Parent._children.TryGetValue(Name, out var me) && me == this)
        {
            Parent._children.Remove(Name);
            if (Lower is not null)
            {
                await Lower.ReleaseAsync().ConfigureAwait(false);
            }
        }
    }

    private static void CheckPublicXattr(string name)
    {
        if (name.StartsWith(OverlayFileSystem.PrivatePrefix, StringComparison.Ordinal))
        {
            VfsException.Throw(Errno.EPERM);
        }
    }

    private async ValueTask<LockHolder> LockAsync(CancellationToken ct)
    {
        await _fs.Lock.WaitAsync(ct).ConfigureAwait(false);
        return new LockHolder(_fs.Lock);
    }

    private readonly struct LockHolder(SemaphoreSlim s) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            s.Release();
            return default;
        }
    }

    /// <summary>Makes this entry exist in the upper layer with the lower entry's data, mode, owner, times, xattrs.</summary>
    private async ValueTask CopyUpAsync(CancellationToken ct)
    {
        if (Upper is not null)
        {
            return;
        }

        if (_fs.IsReadOnly)
        {
            VfsException.Throw(Errno.EROFS);
        }

        var parent = Parent!;
        await parent.CopyUpAsync(ct).ConfigureAwait(false);
        var lower = Lower!;
        var attr = await lower.GetAttrAsync(ct).ConfigureAwait(false);
        var owner = new Credentials(attr.Uid, attr.Gid);
        INode u = Type switch
        {
            FileType.Directory => await parent.Upper!.MkdirAsync(Name, attr.Perm, owner, ct).ConfigureAwait(false),
            FileType.Regular => await parent.Upper!.CreateAsync(Name, attr.Perm, owner, ct).ConfigureAwait(false),
            FileType.Symlink => await parent.Upper!.SymlinkAsync(Name, await lower.ReadLinkAsync(ct).ConfigureAwait(false), owner, ct).ConfigureAwait(false),
            _ => await parent.Upper!.MknodAsync(Name, attr.Mode, attr.Rdev, owner, ct).ConfigureAwait(false),
        };
        if (Type == FileType.Regular)
        {
            await OverlayFileSystem.CopyDataAsync(lower, u, ct).ConfigureAwait(false);
        }

        foreach (var x in await lower.ListXattrAsync(ct).ConfigureAwait(false))
        {
            if (!x.StartsWith(OverlayFileSystem.PrivatePrefix, StringComparison.Ordinal))
            {
                await u.SetXattrAsync(x, await lower.GetXattrAsync(x, ct).ConfigureAwait(false), XattrSetFlags.Any, ct).ConfigureAwait(false);
            }
        }

        if (Type != FileType.Symlink)
        {
            // Mode again: create applies only permission bits the upper accepts; setuid/setgid/sticky must survive.
            await u.SetAttrAsync(new SetAttr(
                SetAttrMask.Mode | SetAttrMask.Uid | SetAttrMask.Gid | SetAttrMask.Atime | SetAttrMask.AtimeSet | SetAttrMask.Mtime | SetAttrMask.MtimeSet,
                Mode: attr.Perm,
                Uid: attr.Uid,
                Gid: attr.Gid,
                Atime: attr.Atime,
                Mtime: attr.Mtime), ct).ConfigureAwait(false);
        }

        Upper = u;
        if (Type != FileType.Directory)
        {
            Lower = null;
        }
    }

    /// <summary>Entries of the merged directory: upper ones minus whiteouts, then lower ones not hidden.</summary>
    private async ValueTask<List<DirEntry>> MergedEntriesAsync(CancellationToken ct)
    {
        var result = new List<DirEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        if (Upper is not null)
        {
            foreach (var e in await OverlayFileSystem.ListAllAsync(Upper, ct).ConfigureAwait(false))
            {
                seen.Add(e.Name);
                if (e.Type == FileType.CharDevice
                    && await OverlayFileSystem.IsWhiteoutAsync(await Upper.LookupAsync(e.Name, ct).ConfigureAwait(false), ct).ConfigureAwait(false))
                {
                    continue;
                }

                result.Add(e with { Cookie = result.Count + 1 });
            }
        }

        if (Lower is not null)
        {
            foreach (var e in await OverlayFileSystem.ListAllAsync(Lower, ct).ConfigureAwait(false))
            {
                if (seen.Add(e.Name))
                {
                    result.Add(e with { Cookie = result.Count + 1 });
                }
            }
        }

        return result;
    }

    /// <summary>Removes whiteouts left in this upper directory (it is about to be removed or replaced).</summary>
    private async ValueTask ClearWhiteoutsAsync(CancellationToken ct)
    {
        foreach (var e in await OverlayFileSystem.ListAllAsync(Upper!, ct).ConfigureAwait(false))
        {
            if (e.Type == FileType.CharDevice)
            {
                await Upper!.UnlinkAsync(e.Name, ct).ConfigureAwait(false);
            }
        }

        _children.Clear();
    }

    private async ValueTask MakeWhiteoutAsync(string name, CancellationToken ct) =>
        await Upper!.MknodAsync(name, (uint)FileType.CharDevice, 0, Credentials.Root, ct).ConfigureAwait(false);

    /// <summary>Deletes a whiteout at name in the upper directory; true if there was one.</summary>
    private async ValueTask<bool> RemoveWhiteoutAsync(string name, CancellationToken ct)
    {
        var u = await OverlayFileSystem.TryLookupAsync(Upper, name, ct).ConfigureAwait(false);
        if (u is not null && await OverlayFileSystem.IsWhiteoutAsync(u, ct).ConfigureAwait(false))
        {
            await Upper!.UnlinkAsync(name, ct).ConfigureAwait(false);
            return true;
        }

        return false;
    }

    private sealed class MergedDirHandle(List<DirEntry> entries) : IFileHandle
    {
        public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken ct = default) => throw new VfsException(Errno.EISDIR);

        public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken ct = default) => throw new VfsException(Errno.EISDIR);

        public ValueTask<IReadOnlyList<DirEntry>> ReadDirAsync(long cookie, int max, CancellationToken ct = default)
        {
            // Cookies are positions in the snapshot taken at open, like a getdents on a merged overlay dir.
            int start = (int)Math.Clamp(cookie, 0, entries.Count);
            IReadOnlyList<DirEntry> page = entries.GetRange(start, Math.Min(Math.Max(max, 0), entries.Count - start));
            return ValueTask.FromResult(page);
        }

        public ValueTask FsyncAsync(CancellationToken ct = default) => default;

        public ValueTask DisposeAsync() => default;
    }
}
