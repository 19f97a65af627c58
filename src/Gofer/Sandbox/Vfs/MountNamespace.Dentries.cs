namespace Gofer.Sandbox.Vfs;

internal sealed partial class MountNamespace
{
    /// <summary>Per-filesystem dentry tree and LRU of evictable dentries (unpinned leaves).</summary>
    private sealed class FsTree(IFileSystem fs)
    {
        public IFileSystem Fs { get; } = fs;

        public Dentry Root { get; } = new(null, "/", fs.Root) { Pins = 1 };

        public LinkedList<Dentry> Lru { get; } = new();
    }

    /// <summary>Count of dentries currently evictable for a filesystem (for tests and diagnostics).</summary>
    internal int CachedEvictableCount(IFileSystem fs)
    {
        lock (_tree)
        {
            return _trees.TryGetValue(fs, out var t) ? t.Lru.Count : 0;
        }
    }

    private FsTree TreeOf(IFileSystem fs)
    {
        lock (_tree)
        {
            if (!_trees.TryGetValue(fs, out var t))
            {
                t = new FsTree(fs);
                _trees[fs] = t;
            }

            return t;
        }
    }

    /// <summary>
    /// The child dentry for <paramref name="name"/>: from the cache (revalidated if the filesystem asks), else
    /// looked up in the filesystem and cached. ENOENT propagates (negative entries are not cached).
    /// </summary>
    private async ValueTask<Dentry> LookupChildAsync(Location dir, string name, WalkState st, CancellationToken ct)
    {
        var fs = dir.Mount.FileSystem;
        Dentry? cached;
        lock (_tree)
        {
            cached = dir.Dentry.Children?.GetValueOrDefault(name);
            if (cached is not null)
            {
                st.Hold(cached);
            }
        }

        if (cached is not null)
        {
            if (!fs.CachePolicy.RevalidateOnWalk || cached.IsSynthetic || IsMountPointDentry(cached))
            {
                Touch(cached);
                return cached;
            }

            if (st.Validated?.Contains(cached) == true)
            {
                Touch(cached);
                return cached;
            }

            var chain = CollectCachedChain(cached, name, st);
            int valid = await fs.RevalidateAsync(dir.Node, [.. chain.Select(d => new RevalidateStep(d.Name, d.Node))], ct).ConfigureAwait(false);
            valid = Math.Clamp(valid, 0, chain.Count);
            st.Validated ??= new HashSet<Dentry>(ReferenceEqualityComparer.Instance);
            for (int k = 0; k < valid; k++)
            {
                st.Validated.Add(chain[k]);
            }

            if (valid < chain.Count)
            {
                // The first stale dentry goes with its cached subtree; the walk will look it up afresh.
                await DetachAsync(chain[valid]).ConfigureAwait(false);
            }

            if (valid >= 1)
            {
                Touch(cached);
                return cached;
            }
        }

        var node = await dir.Node.LookupAsync(name, ct).ConfigureAwait(false);
        return await AddChildAsync(dir.Dentry, name, node, fs, st).ConfigureAwait(false);
    }

    /// <summary>
    /// gVisor's batching: from a cached child, the chain of already-cached dentries along the rest of the path,
    /// stopping at anything that is not a plain cached directory entry (a symlink, a mount point, a synthetic
    /// dentry, "." or "..").
    /// </summary>
    private List<Dentry> CollectCachedChain(Dentry first, string name, WalkState st)
    {
        var chain = new List<Dentry> { first };
        if (st.Comps is not { } comps || st.Index >= comps.Length || comps[st.Index] != name)
        {
            return chain;
        }

        lock (_tree)
        {
            var prev = first;
            for (int j = st.Index + 1; j < comps.Length; j++)
            {
                string n = comps[j];
                if (n is "." or ".." || prev.Node.Type != FileType.Directory || prev.MountCount > 0)
                {
                    break;
                }

                var next = prev.Children?.GetValueOrDefault(n);
                if (next is null || next.IsSynthetic || next.MountCount > 0)
                {
                    break;
                }

                chain.Add(next);
                prev = next;
            }
        }

        return chain;
    }

    private bool IsMountPointDentry(Dentry d)
    {
        lock (_tree)
        {
            // gVisor's revalidation also stops at mount points: a mount must not vanish under a walk.
            return d.MountCount > 0;
        }
    }

    /// <summary>Caches a node under its parent (or returns the dentry a concurrent lookup cached first).</summary>
    private async ValueTask<Dentry> AddChildAsync(Dentry parent, string name, INode node, IFileSystem fs, WalkState st, bool synthetic = false)
    {
        Dentry result;
        List<INode>? release = null;
        INode? duplicate = null;
        lock (_tree)
        {
            parent.Children ??= new Dictionary<string, Dentry>(StringComparer.Ordinal);
            if (parent.Children.TryGetValue(name, out var existing) && existing.Node != node)
            {
                if (synthetic)
                {
                    throw new VfsException(Errno.EEXIST);
                }

                duplicate = node;
                result = existing;
                st.Hold(result);
            }
            else if (existing is not null)
            {
                result = existing;
                st.Hold(result);
            }
            else
            {
                result = new Dentry(parent, name, node) { IsSynthetic = synthetic, Pins = synthetic ? 1 : 0 };
                parent.Children[name] = result;
                var tree = _trees[fs];
                RemoveFromLru(tree, parent);
                // Held by the operation (not in the LRU until it ends), so this eviction cannot take it.
                st.Hold(result);
                release = EvictLocked(tree);
            }
        }

        if (duplicate is not null)
        {
            await duplicate.ReleaseAsync().ConfigureAwait(false);
        }

        await ReleaseAllAsync(release).ConfigureAwait(false);
        return result;
    }

    private static void RemoveFromLru(FsTree tree, Dentry d)
    {
        if (d.LruNode is not null)
        {
            tree.Lru.Remove(d.LruNode);
            d.LruNode = null;
        }
    }

    /// <summary>Puts a dentry in the LRU if it is evictable: unpinned, attached, childless, not a filesystem root.</summary>
    private void MaybeMakeEvictableLocked(Dentry d, bool front = false)
    {
        if (d.Pins == 0 && !d.Detached && !d.HasChildren && d.Parent is not null && d.LruNode is null)
        {
            var lru = _trees[d.Node.FileSystem].Lru;
            d.LruNode = front ? lru.AddFirst(d) : lru.AddLast(d);
        }
    }

    private List<INode>? EvictLocked(FsTree tree)
    {
        int max = tree.Fs.CachePolicy.MaxCachedDentries;
        if (max <= 0)
        {
            return null;
        }

        List<INode>? release = null;
        while (tree.Lru.Count > max)
        {
            var victim = tree.Lru.First!.Value;
            RemoveFromLru(tree, victim);
            var parent = victim.Parent!;
            parent.Children!.Remove(victim.Name);
            victim.Detached = true;
            (release ??= []).Add(victim.Node);
            // The parent was last used before its child: it goes to the old end of the list.
            MaybeMakeEvictableLocked(parent, front: true);
        }

        return release;
    }

    private void Touch(Dentry d)
    {
        lock (_tree)
        {
            if (d.LruNode is not null)
            {
                var lru = d.LruNode.List!;
                lru.Remove(d.LruNode);
                lru.AddLast(d.LruNode);
            }
        }
    }

    private void Pin(Dentry d)
    {
        lock (_tree)
        {
            d.Pins++;
            if (d.LruNode is not null)
            {
                _trees[d.Node.FileSystem].Lru.Remove(d.LruNode);
                d.LruNode = null;
            }
        }
    }

    internal async ValueTask UnpinAsync(Dentry d)
    {
        bool release = false;
        List<INode>? evicted = null;
        lock (_tree)
        {
            d.Pins--;
            if (d.Pins == 0)
            {
                if (d.Detached)
                {
                    release = true;
                }
                else
                {
                    MaybeMakeEvictableLocked(d);
                    evicted = EvictLocked(_trees[d.Node.FileSystem]);
                }
            }
        }

        if (release)
        {
            await d.Node.ReleaseAsync().ConfigureAwait(false);
        }

        await ReleaseAllAsync(evicted).ConfigureAwait(false);
    }

    /// <summary>
    /// Drops a dentry and its cached subtree from the tree (unlink, rmdir, replaced by rename, failed revalidation).
    /// Unpinned nodes are released now; pinned ones (open files) when their last pin goes.
    /// </summary>
    private async ValueTask DetachAsync(Dentry d)
    {
        var release = new List<INode>();
        lock (_tree)
        {
            if (d.Parent?.Children is { } siblings && siblings.TryGetValue(d.Name, out var cur) && cur == d)
            {
                siblings.Remove(d.Name);
                MaybeMakeEvictableLocked(d.Parent);
            }

            var stack = new Stack<Dentry>();
            stack.Push(d);
            while (stack.Count > 0)
            {
                var x = stack.Pop();
                x.Detached = true;
                RemoveFromLru(_trees[x.Node.FileSystem], x);
                if (x.Pins == 0)
                {
                    release.Add(x.Node);
                }

                if (x.Children is not null)
                {
                    foreach (var c in x.Children.Values)
                    {
                        stack.Push(c);
                    }

                    x.Children = null;
                }
            }
        }

        await ReleaseAllAsync(release).ConfigureAwait(false);
    }

    private static async ValueTask ReleaseAllAsync(List<INode>? nodes)
    {
        if (nodes is null)
        {
            return;
        }

        foreach (var n in nodes)
        {
            await n.ReleaseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Moves a cached dentry after a successful rename.</summary>
    private void MoveDentry(Dentry d, Dentry newParent, string newName)
    {
        lock (_tree)
        {
            var oldParent = d.Parent!;
            if (oldParent.Children is { } oc && oc.TryGetValue(d.Name, out var cur) && cur == d)
            {
                oc.Remove(d.Name);
            }

            d.Parent = newParent;
            d.Name = newName;
            newParent.Children ??= new Dictionary<string, Dentry>(StringComparer.Ordinal);
            newParent.Children[newName] = d;
            RemoveFromLru(_trees[newParent.Node.FileSystem], newParent);
            MaybeMakeEvictableLocked(oldParent);
        }
    }

    private Dentry? CachedChild(Dentry dir, string name)
    {
        lock (_tree)
        {
            return dir.Children?.GetValueOrDefault(name);
        }
    }

    private List<Dentry> SyntheticChildren(Dentry dir)
    {
        lock (_tree)
        {
            return dir.Children is null ? [] : [.. dir.Children.Values.Where(c => c.IsSynthetic)];
        }
    }
}
