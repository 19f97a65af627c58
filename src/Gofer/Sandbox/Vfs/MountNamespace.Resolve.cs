using System.Text;

namespace Gofer.Sandbox.Vfs;

internal sealed partial class MountNamespace
{
    /// <summary>
    /// One path operation's state: symlinks followed so far (Linux counts across nested resolutions), and the
    /// dentries it reached, pinned until the operation ends so the LRU cannot evict (and release the node of) a
    /// dentry an operation is still using, even with concurrent operations filling the cache.
    /// </summary>
    private sealed class WalkState(MountNamespace ns) : IAsyncDisposable
    {
        private List<Dentry>? _held;

        public int Symlinks { get; set; }

        /// <summary>The components being walked and the index of the current one: the rest of the path, which
        /// lets a revalidating filesystem check every cached dentry ahead in one batch.</summary>
        public string[]? Comps { get; set; }

        public int Index { get; set; }

        /// <summary>Dentries a batch already revalidated during this operation.</summary>
        public HashSet<Dentry>? Validated { get; set; }

        /// <summary>Pins a dentry for the rest of the operation. Caller may hold the tree lock.</summary>
        public void Hold(Dentry d)
        {
            ns.Pin(d);
            (_held ??= []).Add(d);
        }

        public async ValueTask DisposeAsync()
        {
            if (_held is null)
            {
                return;
            }

            foreach (var d in _held)
            {
                await ns.UnpinAsync(d).ConfigureAwait(false);
            }

            _held = null;
        }
    }

    /// <summary>A path split into "everything but the last name" and the last name.</summary>
    /// <param name="Name">The last component: a real name, ".", or ".." ("." also for "/").</param>
    /// <param name="TrailingSlash">The path ended in '/': the result must be a directory.</param>
    internal readonly record struct ParentAndName(Location Parent, string Name, bool TrailingSlash)
    {
        public bool IsDot => Name is "." or "..";
    }

    /// <summary>Resolves a whole path; <paramref name="follow"/> says whether a final symlink is followed.</summary>
    private ValueTask<Location> ResolveAsync(WalkState st, string path, bool follow, CancellationToken ct) =>
        ResolveAsync(Cwd, path, follow, st, ct);

    private ValueTask<ParentAndName> ResolveParentAsync(WalkState st, string path, CancellationToken ct) =>
        ResolveParentAsync(Cwd, path, st, ct);

    private async ValueTask<Location> ResolveAsync(Location start, string path, bool follow, WalkState st, CancellationToken ct)
    {
        var pn = await ResolveParentAsync(start, path, st, ct).ConfigureAwait(false);
        return await StepAsync(pn.Parent, pn.Name, follow || pn.TrailingSlash, pn.TrailingSlash, st, ct).ConfigureAwait(false);
    }

    private async ValueTask<ParentAndName> ResolveParentAsync(Location start, string path, WalkState st, CancellationToken ct)
    {
        if (path.Length == 0)
        {
            VfsException.Throw(Errno.ENOENT);
        }

        if (path.Length >= MaxPathLength)
        {
            VfsException.Throw(Errno.ENAMETOOLONG);
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            VfsException.Throw(Errno.EINVAL);
        }

        var cur = path[0] == '/' ? Root : start;
        string[] comps = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        bool trailingSlash = path.Length > 1 && path[^1] == '/';
        if (comps.Length == 0)
        {
            return new ParentAndName(cur, ".", true);
        }

        for (int i = 0; i < comps.Length - 1; i++)
        {
            st.Comps = comps;
            st.Index = i;
            cur = await StepAsync(cur, comps[i], follow: true, mustBeDir: true, st, ct).ConfigureAwait(false);
        }

        st.Comps = comps;
        st.Index = comps.Length - 1;

        if (cur.Node.Type != FileType.Directory)
        {
            VfsException.Throw(Errno.ENOTDIR);
        }

        return new ParentAndName(cur, comps[^1], trailingSlash);
    }

    /// <summary>One component from a directory: ".", "..", or a name (crossing mounts, maybe following a symlink).</summary>
    private async ValueTask<Location> StepAsync(Location dir, string name, bool follow, bool mustBeDir, WalkState st, CancellationToken ct)
    {
        if (dir.Node.Type != FileType.Directory)
        {
            VfsException.Throw(Errno.ENOTDIR);
        }

        Location loc;
        if (name == ".")
        {
            loc = dir;
        }
        else if (name == "..")
        {
            loc = Parent(dir);
            st.Hold(loc.Dentry);
        }
        else
        {
            CheckName(name);
            var child = await LookupChildAsync(dir, name, st, ct).ConfigureAwait(false);
            loc = CrossDown(new Location(dir.Mount, child));
            if (follow && loc.Node.Type == FileType.Symlink)
            {
                loc = await FollowAsync(dir, loc, st, ct).ConfigureAwait(false);
            }
        }

        if (mustBeDir && loc.Node.Type != FileType.Directory)
        {
            VfsException.Throw(Errno.ENOTDIR);
        }

        return loc;
    }

    /// <summary>Follows a symlink found in <paramref name="dir"/>: absolute targets from the namespace root.</summary>
    private async ValueTask<Location> FollowAsync(Location dir, Location link, WalkState st, CancellationToken ct)
    {
        // The 41st link in one resolution fails, as Linux's MAXSYMLINKS = 40.
        if (++st.Symlinks > MaxSymlinks)
        {
            VfsException.Throw(Errno.ELOOP);
        }

        string target = await link.Node.ReadLinkAsync(ct).ConfigureAwait(false);
        if (target.Length == 0)
        {
            VfsException.Throw(Errno.ENOENT);
        }

        return await ResolveAsync(dir, target, follow: true, st, ct).ConfigureAwait(false);
    }

    internal static void CheckName(string name)
    {
        if (Encoding.UTF8.GetByteCount(name) > MaxNameLength)
        {
            VfsException.Throw(Errno.ENAMETOOLONG);
        }
    }

    /// <summary>Looks up the last name of a split path without following it (ENOENT if absent).</summary>
    private async ValueTask<Location> LookupLastAsync(ParentAndName pn, WalkState st, CancellationToken ct)
    {
        var child = await LookupChildAsync(pn.Parent, pn.Name, st, ct).ConfigureAwait(false);
        return new Location(pn.Parent.Mount, child);
    }

    /// <summary>Like <see cref="LookupLastAsync"/> but null when absent.</summary>
    private async ValueTask<Location?> TryLookupLastAsync(ParentAndName pn, WalkState st, CancellationToken ct)
    {
        try
        {
            return await LookupLastAsync(pn, st, ct).ConfigureAwait(false);
        }
        catch (VfsException e) when (e.Errno == Errno.ENOENT)
        {
            return null;
        }
    }
}
