namespace Gofer.Sandbox.Vfs;

/// <summary>The POSIX-like API. Paths are absolute or relative to the current directory.</summary>
internal sealed partial class MountNamespace
{
    private const int ReadDirPage = 256;

    public async ValueTask ChdirAsync(string path, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var loc = await ResolveAsync(st, path, follow: true, ct).ConfigureAwait(false);
        if (loc.Node.Type != FileType.Directory)
        {
            VfsException.Throw(Errno.ENOTDIR);
        }

        // The working directory is held like an open directory, so the dentry cache never releases it.
        Pin(loc.Dentry);
        var old = Cwd;
        Cwd = loc;
        await UnpinAsync(old.Dentry).ConfigureAwait(false);
    }

    public string Getcwd() => PathOf(Cwd);

    public async ValueTask<OpenFile> OpenAsync(string path, OpenFlags flags, uint perm = 0x1B6 /* 0666 */, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var start = Cwd;
        bool created = false;
        Location loc;
        while (true)
        {
            if ((flags & OpenFlags.Create) == 0)
            {
                loc = await ResolveAsync(start, path, follow: (flags & OpenFlags.NoFollow) == 0, st, ct).ConfigureAwait(false);
                break;
            }

            var pn = await ResolveParentAsync(start, path, st, ct).ConfigureAwait(false);
            if (pn.IsDot)
            {
                // O_CREAT on an existing directory: EISDIR (Linux).
                VfsException.Throw(Errno.EISDIR);
            }

            CheckName(pn.Name);
            Location? existing = await TryLookupLastAsync(pn, st, ct).ConfigureAwait(false);
            if (existing is { } e)
            {
                if ((flags & OpenFlags.Exclusive) != 0)
                {
                    VfsException.Throw(Errno.EEXIST);
                }

                var visible = CrossDown(e);
                if (visible.Node.Type == FileType.Symlink)
                {
                    if ((flags & OpenFlags.NoFollow) != 0)
                    {
                        VfsException.Throw(Errno.ELOOP);
                    }

                    // O_CREAT through a symlink creates its target if missing: resolve the target as a new path.
                    if (++st.Symlinks > MaxSymlinks)
                    {
                        VfsException.Throw(Errno.ELOOP);
                    }

                    path = await visible.Node.ReadLinkAsync(ct).ConfigureAwait(false);
                    if (path.Length == 0)
                    {
                        VfsException.Throw(Errno.ENOENT);
                    }

                    start = pn.Parent;
                    continue;
                }

                if (pn.TrailingSlash && visible.Node.Type != FileType.Directory)
                {
                    VfsException.Throw(Errno.ENOTDIR);
                }

                loc = visible;
                break;
            }

            if (pn.TrailingSlash)
            {
                VfsException.Throw(Errno.EISDIR);
            }

            CheckWritable(pn.Parent.Mount);
            var node = await pn.Parent.Node.CreateAsync(pn.Name, perm & ~Umask & Mode.PermMask, Credentials, ct).ConfigureAwait(false);
            var d = await AddChildAsync(pn.Parent.Dentry, pn.Name, node, pn.Parent.Mount.FileSystem, st).ConfigureAwait(false);
            loc = new Location(pn.Parent.Mount, d);
            created = true;
            break;
        }

        return await OpenLocationAsync(loc, flags, created, ct).ConfigureAwait(false);
    }

    private async ValueTask<OpenFile> OpenLocationAsync(Location loc, OpenFlags flags, bool created, CancellationToken ct)
    {
        var node = loc.Node;
        var type = node.Type;
        bool write = flags.CanWrite();
        if ((flags & OpenFlags.AccessMask) == OpenFlags.AccessMask)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        if (type == FileType.Symlink)
        {
            // Only reachable with O_NOFOLLOW on a final symlink.
            VfsException.Throw(Errno.ELOOP);
        }

        if ((flags & OpenFlags.Directory) != 0 && type != FileType.Directory)
        {
            VfsException.Throw(Errno.ENOTDIR);
        }

        if (type == FileType.Directory && (write || (flags & OpenFlags.Truncate) != 0))
        {
            VfsException.Throw(Errno.EISDIR);
        }

        IFileHandle handle;
        switch (type)
        {
            case FileType.CharDevice:
                if ((loc.Mount.Flags & MountFlags.NoDev) != 0)
                {
                    VfsException.Throw(Errno.EACCES);
                }

                // A device's data is not the filesystem's: a read-only mount still lets /dev/null be written.
                var attr = await node.GetAttrAsync(ct).ConfigureAwait(false);
                handle = Devices.OpenChar(attr.Rdev, flags);
                break;
            case FileType.BlockDevice:
                if ((loc.Mount.Flags & MountFlags.NoDev) != 0)
                {
                    VfsException.Throw(Errno.EACCES);
                }

                handle = VfsException.Throw<IFileHandle>(Errno.ENXIO);
                break;
            case FileType.Fifo:
            case FileType.Socket:
                // Inert nodes: no pipe or socket emulation in this VFS.
                handle = VfsException.Throw<IFileHandle>(Errno.ENXIO);
                break;
            default:
                if (write || (!created && (flags & OpenFlags.Truncate) != 0))
                {
                    CheckWritable(loc.Mount);
                }

                if (!created && (flags & OpenFlags.Truncate) != 0 && type == FileType.Regular)
                {
                    await node.SetAttrAsync(new SetAttr(SetAttrMask.Size | SetAttrMask.Mtime | SetAttrMask.Ctime, Size: 0), ct).ConfigureAwait(false);
                }

                handle = await node.OpenAsync(flags & (OpenFlags.AccessMask | OpenFlags.Append), ct).ConfigureAwait(false);
                break;
        }

        Pin(loc.Dentry);
        return new OpenFile(this, loc, handle, flags);
    }

    public async ValueTask<InodeAttr> StatAsync(string path, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        return await (await ResolveAsync(st, path, follow: true, ct).ConfigureAwait(false)).Node.GetAttrAsync(ct).ConfigureAwait(false);
    }

    public async ValueTask<InodeAttr> LstatAsync(string path, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        return await (await ResolveAsync(st, path, follow: false, ct).ConfigureAwait(false)).Node.GetAttrAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The mount flags in effect at a path (for noexec/nosuid/nodev decisions).</summary>
    public async ValueTask<MountFlags> GetMountFlagsAsync(string path, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        return (await ResolveAsync(st, path, follow: true, ct).ConfigureAwait(false)).Mount.Flags;
    }

    /// <summary>
    /// access(2) for the namespace's credentials: W on a read-only mount is EROFS, X on a noexec mount or a file
    /// with no execute bit is EACCES. Permission bits are otherwise not enforced (the sandbox runs as one user).
    /// </summary>
    public async ValueTask AccessAsync(string path, AccessMode mode, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var loc = await ResolveAsync(st, path, follow: true, ct).ConfigureAwait(false);
        var attr = await loc.Node.GetAttrAsync(ct).ConfigureAwait(false);
        if ((mode & AccessMode.Write) != 0 && attr.Type is FileType.Regular or FileType.Directory or FileType.Symlink)
        {
            CheckWritable(loc.Mount);
        }

        if ((mode & AccessMode.Execute) != 0 && attr.Type != FileType.Directory)
        {
            if ((loc.Mount.Flags & MountFlags.NoExec) != 0 || (attr.Mode & 0x49) == 0)
            {
                VfsException.Throw(Errno.EACCES);
            }
        }
    }

    /// <summary>All entries of a directory (without "." and ".."), plus synthetic mount points made in it.</summary>
    public async ValueTask<IReadOnlyList<DirEntry>> ReadDirAsync(string path, CancellationToken ct = default)
    {
        await using var f = await OpenAsync(path, OpenFlags.ReadOnly | OpenFlags.Directory, ct: ct).ConfigureAwait(false);
        var all = new List<DirEntry>();
        long cookie = 0;
        while (true)
        {
            var page = await f.ReadDirAsync(cookie, ReadDirPage, ct).ConfigureAwait(false);
            if (page.Count == 0)
            {
                break;
            }

            all.AddRange(page);
            cookie = page[^1].Cookie;
        }

        var names = all.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var s in SyntheticChildren(f.Location.Dentry))
        {
            if (names.Add(s.Name))
            {
                all.Add(new DirEntry(s.Name, FileType.Directory, 0, cookie));
            }
        }

        return all;
    }

    public async ValueTask MkdirAsync(string path, uint perm = 0x1FF /* 0777 */, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var pn = await ResolveParentAsync(st, path, ct).ConfigureAwait(false);
        await CheckCreateAsync(pn, st, ct).ConfigureAwait(false);
        var node = await pn.Parent.Node.MkdirAsync(pn.Name, perm & ~Umask & Mode.PermMask, Credentials, ct).ConfigureAwait(false);
        await AddChildAsync(pn.Parent.Dentry, pn.Name, node, pn.Parent.Mount.FileSystem, st).ConfigureAwait(false);
    }

    public async ValueTask SymlinkAsync(string target, string linkPath, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var pn = await ResolveParentAsync(st, linkPath, ct).ConfigureAwait(false);
        if (pn.TrailingSlash)
        {
            await CheckCreateAsync(pn, st, ct).ConfigureAwait(false);
            VfsException.Throw(Errno.ENOENT);
        }

        await CheckCreateAsync(pn, st, ct).ConfigureAwait(false);
        var node = await pn.Parent.Node.SymlinkAsync(pn.Name, target, Credentials, ct).ConfigureAwait(false);
        await AddChildAsync(pn.Parent.Dentry, pn.Name, node, pn.Parent.Mount.FileSystem, st).ConfigureAwait(false);
    }

    public async ValueTask MknodAsync(string path, uint mode, ulong rdev = 0, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var pn = await ResolveParentAsync(st, path, ct).ConfigureAwait(false);
        await CheckCreateAsync(pn, st, ct).ConfigureAwait(false);
        if (Mode.TypeOf(mode) == FileType.Directory)
        {
            VfsException.Throw(Errno.EPERM);
        }

        uint m = (mode & Mode.TypeMask) | (mode & ~Umask & Mode.PermMask);
        var node = await pn.Parent.Node.MknodAsync(pn.Name, m, rdev, Credentials, ct).ConfigureAwait(false);
        await AddChildAsync(pn.Parent.Dentry, pn.Name, node, pn.Parent.Mount.FileSystem, st).ConfigureAwait(false);
    }

    public async ValueTask<string> ReadLinkAsync(string path, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var loc = await ResolveAsync(st, path, follow: false, ct).ConfigureAwait(false);
        if (loc.Node.Type != FileType.Symlink)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        return await loc.Node.ReadLinkAsync(ct).ConfigureAwait(false);
    }

    public async ValueTask LinkAsync(string oldPath, string newPath, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var src = await ResolveAsync(st, oldPath, follow: false, ct).ConfigureAwait(false);
        var pn = await ResolveParentAsync(st, newPath, ct).ConfigureAwait(false);
        await CheckCreateAsync(pn, st, ct).ConfigureAwait(false);
        if (src.Mount != pn.Parent.Mount)
        {
            VfsException.Throw(Errno.EXDEV);
        }

        if (src.Node.Type == FileType.Directory)
        {
            VfsException.Throw(Errno.EPERM);
        }

        await pn.Parent.Node.LinkAsync(pn.Name, src.Node, ct).ConfigureAwait(false);
    }

    public async ValueTask UnlinkAsync(string path, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var pn = await ResolveParentAsync(st, path, ct).ConfigureAwait(false);
        if (pn.IsDot)
        {
            VfsException.Throw(Errno.EISDIR);
        }

        var victim = await LookupLastAsync(pn, st, ct).ConfigureAwait(false);
        if (victim.Node.Type == FileType.Directory)
        {
            VfsException.Throw(Errno.EISDIR);
        }

        if (pn.TrailingSlash)
        {
            VfsException.Throw(Errno.ENOTDIR);
        }

        if (IsMountPoint(victim))
        {
            VfsException.Throw(Errno.EBUSY);
        }

        CheckWritable(pn.Parent.Mount);
        await pn.Parent.Node.UnlinkAsync(pn.Name, ct).ConfigureAwait(false);
        await DetachAsync(victim.Dentry).ConfigureAwait(false);
    }

    public async ValueTask RmdirAsync(string path, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var pn = await ResolveParentAsync(st, path, ct).ConfigureAwait(false);
        if (pn.Name == ".")
        {
            VfsException.Throw(pn.Parent == Root ? Errno.EBUSY : Errno.EINVAL);
        }

        if (pn.Name == "..")
        {
            VfsException.Throw(Errno.ENOTEMPTY);
        }

        var victim = await LookupLastAsync(pn, st, ct).ConfigureAwait(false);
        if (victim.Node.Type != FileType.Directory)
        {
            VfsException.Throw(Errno.ENOTDIR);
        }

        if (IsMountPoint(victim) || victim.Dentry.IsSynthetic)
        {
            VfsException.Throw(Errno.EBUSY);
        }

        CheckWritable(pn.Parent.Mount);
        await pn.Parent.Node.RmdirAsync(pn.Name, ct).ConfigureAwait(false);
        await DetachAsync(victim.Dentry).ConfigureAwait(false);
    }

    public async ValueTask RenameAsync(string oldPath, string newPath, RenameFlags flags = RenameFlags.None, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var from = await ResolveParentAsync(st, oldPath, ct).ConfigureAwait(false);
        var to = await ResolveParentAsync(st, newPath, ct).ConfigureAwait(false);
        if (from.IsDot || to.IsDot)
        {
            VfsException.Throw(Errno.EBUSY);
        }

        if (from.Parent.Mount != to.Parent.Mount)
        {
            VfsException.Throw(Errno.EXDEV);
        }

        if ((flags & RenameFlags.Exchange) != 0 || (flags & ~(RenameFlags.NoReplace | RenameFlags.Exchange)) != 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        var src = await LookupLastAsync(from, st, ct).ConfigureAwait(false);
        bool srcIsDir = src.Node.Type == FileType.Directory;
        if (!srcIsDir && (from.TrailingSlash || to.TrailingSlash))
        {
            VfsException.Throw(Errno.ENOTDIR);
        }

        var dst = await TryLookupLastAsync(to, st, ct).ConfigureAwait(false);
        if (dst is { } existing && existing.Dentry == src.Dentry)
        {
            return;
        }

        if (IsMountPoint(src) || (dst is { } d0 && IsMountPoint(d0)))
        {
            VfsException.Throw(Errno.EBUSY);
        }

        if (srcIsDir && IsSelfOrDescendant(to.Parent.Dentry, src.Dentry))
        {
            // A directory cannot move into its own subtree.
            VfsException.Throw(Errno.EINVAL);
        }

        CheckWritable(from.Parent.Mount);
        await from.Parent.Node.RenameAsync(from.Name, to.Parent.Node, to.Name, flags, ct).ConfigureAwait(false);
        if (dst is { } replaced)
        {
            await DetachAsync(replaced.Dentry).ConfigureAwait(false);
        }

        MoveDentry(src.Dentry, to.Parent.Dentry, to.Name);
    }

    private bool IsSelfOrDescendant(Dentry d, Dentry ancestor)
    {
        lock (_tree)
        {
            for (var x = d; x is not null; x = x.Parent)
            {
                if (x == ancestor)
                {
                    return true;
                }
            }

            return false;
        }
    }

    public ValueTask ChmodAsync(string path, uint perm, CancellationToken ct = default) =>
        SetAttrAsync(path, new SetAttr(SetAttrMask.Mode, Mode: perm), follow: true, ct);

    public ValueTask ChownAsync(string path, uint uid, uint gid, bool follow = true, CancellationToken ct = default) =>
        SetAttrAsync(path, new SetAttr(SetAttrMask.Uid | SetAttrMask.Gid, Uid: uid, Gid: gid), follow, ct);

    /// <summary>utimensat(2): null means "now" for that time.</summary>
    public ValueTask UtimesAsync(string path, Timespec? atime, Timespec? mtime, bool follow = true, CancellationToken ct = default)
    {
        var mask = SetAttrMask.Atime | SetAttrMask.Mtime;
        if (atime is not null)
        {
            mask |= SetAttrMask.AtimeSet;
        }

        if (mtime is not null)
        {
            mask |= SetAttrMask.MtimeSet;
        }

        return SetAttrAsync(path, new SetAttr(mask, Atime: atime ?? default, Mtime: mtime ?? default), follow, ct);
    }

    public ValueTask TruncateAsync(string path, long size, CancellationToken ct = default)
    {
        if (size < 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        return SetAttrAsync(path, new SetAttr(SetAttrMask.Size | SetAttrMask.Mtime | SetAttrMask.Ctime, Size: size), follow: true, ct);
    }

    public async ValueTask SetAttrAsync(string path, SetAttr attr, bool follow = true, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var loc = await ResolveAsync(st, path, follow, ct).ConfigureAwait(false);
        if (attr.Has(SetAttrMask.Size) && loc.Node.Type == FileType.Directory)
        {
            VfsException.Throw(Errno.EISDIR);
        }

        CheckWritable(loc.Mount);
        await loc.Node.SetAttrAsync(attr, ct).ConfigureAwait(false);
    }

    public async ValueTask<byte[]> GetXattrAsync(string path, string name, bool follow = true, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        return await (await ResolveAsync(st, path, follow, ct).ConfigureAwait(false)).Node.GetXattrAsync(name, ct).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<string>> ListXattrAsync(string path, bool follow = true, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        return await (await ResolveAsync(st, path, follow, ct).ConfigureAwait(false)).Node.ListXattrAsync(ct).ConfigureAwait(false);
    }

    public async ValueTask SetXattrAsync(string path, string name, ReadOnlyMemory<byte> value, XattrSetFlags flags = XattrSetFlags.Any, bool follow = true, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var loc = await ResolveAsync(st, path, follow, ct).ConfigureAwait(false);
        CheckWritable(loc.Mount);
        await loc.Node.SetXattrAsync(name, value, flags, ct).ConfigureAwait(false);
    }

    public async ValueTask RemoveXattrAsync(string path, string name, bool follow = true, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var loc = await ResolveAsync(st, path, follow, ct).ConfigureAwait(false);
        CheckWritable(loc.Mount);
        await loc.Node.RemoveXattrAsync(name, ct).ConfigureAwait(false);
    }

    public async ValueTask<StatFs> StatFsAsync(string path, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        return await (await ResolveAsync(st, path, follow: true, ct).ConfigureAwait(false)).Mount.FileSystem.StatFsAsync(ct).ConfigureAwait(false);
    }

    private static void CheckWritable(Mount m)
    {
        if (m.IsReadOnly)
        {
            VfsException.Throw(Errno.EROFS);
        }
    }

    /// <summary>For creating ops: "."/".." exist; on a read-only mount an existing name is EEXIST, else EROFS (Linux order).</summary>
    private async ValueTask CheckCreateAsync(ParentAndName pn, WalkState st, CancellationToken ct)
    {
        if (pn.IsDot)
        {
            VfsException.Throw(Errno.EEXIST);
        }

        CheckName(pn.Name);
        if (pn.Parent.Mount.IsReadOnly)
        {
            if (await TryLookupLastAsync(pn, st, ct).ConfigureAwait(false) is not null)
            {
                VfsException.Throw(Errno.EEXIST);
            }

            VfsException.Throw(Errno.EROFS);
        }
    }
}
