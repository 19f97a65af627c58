using Gofer.Sandbox.Synthetic;

namespace Gofer.Sandbox.Vfs;

/// <summary>What happened to one spec of <see cref="MountNamespace.ApplyMountsAsync"/>.</summary>
internal sealed record MountResult(MountSpec Spec, Mount? Mount, string? SkippedBecause)
{
    public bool Mounted => Mount is not null;
}

internal sealed partial class MountNamespace
{
    /// <summary>
    /// Applies mount specs in the given order (the caller puts parents before children, as runsc sorts by
    /// destination length), creating missing mount points on the way. A spec with
    /// <see cref="MountCondition.OnlyIfMissingOrEmpty"/> is skipped when its destination is a non-empty directory
    /// or not a directory (runsc's mountTmp). A failure stops the application and propagates.
    /// </summary>
    public async ValueTask<IReadOnlyList<MountResult>> ApplyMountsAsync(IEnumerable<MountSpec> specs, CancellationToken ct = default)
    {
        var results = new List<MountResult>();
        foreach (var spec in specs)
        {
            if (spec.Destination.Length == 0 || spec.Destination[0] != '/')
            {
                throw new VfsException(Errno.EINVAL, $"mount destination must be absolute: \"{spec.Destination}\"");
            }

            if (spec.Condition == MountCondition.OnlyIfMissingOrEmpty)
            {
                string? why = await WhyNotEmptyDirAsync(spec.Destination, ct).ConfigureAwait(false);
                if (why is not null)
                {
                    results.Add(new MountResult(spec, null, why));
                    continue;
                }
            }

            await MakeMountPointAsync(spec.Destination, ct).ConfigureAwait(false);
            results.Add(new MountResult(spec, await MountAsync(spec, ct).ConfigureAwait(false), null));
        }

        return results;
    }

    private async ValueTask<string?> WhyNotEmptyDirAsync(string path, CancellationToken ct)
    {
        Location loc;
        try
        {
            await using var st = new WalkState(this);
            loc = await ResolveAsync(st, path, follow: true, ct).ConfigureAwait(false);
        }
        catch (VfsException e) when (e.Errno == Errno.ENOENT)
        {
            return null;
        }
        catch (VfsException e) when (e.Errno == Errno.ENOTDIR)
        {
            return "a path component is not a directory";
        }

        if (loc.Node.Type != FileType.Directory)
        {
            return "exists and is not a directory";
        }

        return (await ReadDirAsync(path, ct).ConfigureAwait(false)).Count != 0 ? "exists and is not empty" : null;
    }

    /// <summary>
    /// Makes every missing directory of <paramref name="path"/>. Where the filesystem can create one it does
    /// (ignoring the mount's ro flag, as runsc lifts it during setup); where it cannot (a read-only filesystem, a
    /// synthetic tree) a synthetic directory is placed in the dentry tree instead, pinned for the namespace's life.
    /// </summary>
    public async ValueTask MakeMountPointAsync(string path, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var cur = Root;
        foreach (var name in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            try
            {
                cur = await StepAsync(cur, name, follow: true, mustBeDir: false, st, ct).ConfigureAwait(false);
                continue;
            }
            catch (VfsException e) when (e.Errno == Errno.ENOENT && cur.Node.Type == FileType.Directory && name is not ("." or ".."))
            {
                // Missing (a dangling symlink also lands here and is left alone: we create beside it, not through it).
                if (CachedChild(cur.Dentry, name) is not null || await ExistsAsync(cur, name, ct).ConfigureAwait(false))
                {
                    throw;
                }
            }

            Dentry made;
            var fs = cur.Mount.FileSystem;
            INode? node = null;
            if (!fs.IsReadOnly)
            {
                try
                {
                    node = await cur.Node.MkdirAsync(name, 0x1ED /* 0755 */, Credentials, ct).ConfigureAwait(false);
                }
                catch (VfsException e) when (e.Errno is Errno.EROFS or Errno.EPERM or Errno.EACCES or Errno.EOPNOTSUPP)
                {
                    node = null;
                }
            }

            made = node is not null
                ? await AddChildAsync(cur.Dentry, name, node, fs, st).ConfigureAwait(false)
                : await AddChildAsync(cur.Dentry, name, new SyntheticMountpointNode(fs), fs, st, synthetic: true).ConfigureAwait(false);
            cur = CrossDown(new Location(cur.Mount, made));
        }

        if (cur.Node.Type != FileType.Directory)
        {
            // Mounting a filesystem on a file is allowed only for file binds; a directory fs on a file is ENOTDIR.
            VfsException.Throw(Errno.ENOTDIR);
        }
    }

    private static async ValueTask<bool> ExistsAsync(Location dir, string name, CancellationToken ct)
    {
        try
        {
            await dir.Node.LookupAsync(name, ct).ConfigureAwait(false);
            return true;
        }
        catch (VfsException e) when (e.Errno == Errno.ENOENT)
        {
            return false;
        }
    }

    /// <summary>
    /// The standard sandbox mounts in runsc's order: /proc, /sys, /dev, /dev/pts, then a 01777 tmpfs on /tmp if it
    /// is missing or empty. Callers add the spec's own mounts between /dev/pts and /tmp.
    /// </summary>
    public async ValueTask<IReadOnlyList<MountSpec>> StandardMountsAsync(CancellationToken ct = default)
    {
        var dev = await StandardFileSystems.CreateDevAsync(ct).ConfigureAwait(false);
        return
        [
            new MountSpec("/proc", StandardFileSystems.CreateProc(() => this)) { Source = "proc", Flags = MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec },
            new MountSpec("/sys", StandardFileSystems.CreateSys()) { Source = "sysfs", Flags = MountFlags.ReadOnly | MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec },
            new MountSpec("/dev", dev) { Source = "none", Flags = MountFlags.NoSuid },
            new MountSpec("/dev/pts", StandardFileSystems.CreateDevpts()) { Source = "devpts", Flags = MountFlags.NoSuid | MountFlags.NoExec },
        ];
    }

    /// <summary>runsc's mountTmp as a spec: tmpfs, mode 01777, applied only if /tmp is missing or empty.</summary>
    public static MountSpec TmpSpec() =>
        new("/tmp", new Tmpfs.TmpfsFileSystem(new Tmpfs.TmpfsOptions { RootMode = 0x3FF }))
        {
            Source = "tmpfs",
            Condition = MountCondition.OnlyIfMissingOrEmpty,
            ExtraOptions = ["mode=1777"],
        };
}
