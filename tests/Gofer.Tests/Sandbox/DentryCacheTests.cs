using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;
using static Gofer.Tests.Sandbox.VfsTestHelpers;

namespace Gofer.Tests.Sandbox;

/// <summary>
/// The hooks a gofer filesystem relies on, checked with a filesystem that behaves like one: every lookup makes a
/// new node (a new fid), a released node refuses use (a clunked fid), and revalidation compares identities.
/// </summary>
public class DentryCacheTests
{
    private sealed class ProbeFs(TmpfsFileSystem inner, DentryCachePolicy policy) : IFileSystem
    {
        public int Lookups;
        public int Released;
        public int Revalidations;
        public int LastBatch;

        public TmpfsFileSystem Inner => inner;

        public string TypeName => "probe";

        public bool IsReadOnly => false;

        public DentryCachePolicy CachePolicy => policy;

        public INode Root => field ??= new ProbeNode(this, inner.Root);

        public ValueTask<StatFs> StatFsAsync(CancellationToken ct = default) => inner.StatFsAsync(ct);

        public async ValueTask<int> RevalidateAsync(INode start, IReadOnlyList<RevalidateStep> steps, CancellationToken ct = default)
        {
            Interlocked.Increment(ref Revalidations);
            LastBatch = steps.Count;
            INode dir = ((ProbeNode)start).Inner;
            int valid = 0;
            foreach (var s in steps)
            {
                INode now;
                try
                {
                    now = await dir.LookupAsync(s.Name, ct);
                }
                catch (VfsException)
                {
                    break;
                }

                if (!ReferenceEquals(now, ((ProbeNode)s.Cached).Inner))
                {
                    break;
                }

                valid++;
                dir = now;
            }

            return valid;
        }
    }

    private sealed class ProbeNode(ProbeFs fs, INode inner) : INode
    {
        private bool _released;

        public INode Inner
        {
            get
            {
                if (_released)
                {
                    // A gofer node whose fid was clunked cannot be used again: that would be a use-after-release.
                    throw new VfsException(Errno.EBADF, "use of a released node");
                }

                return inner;
            }
        }

        public IFileSystem FileSystem => fs;

        public FileType Type => inner.Type;

        private ProbeNode Wrap(INode n) => new(fs, n);

        public ValueTask<InodeAttr> GetAttrAsync(CancellationToken ct = default) => Inner.GetAttrAsync(ct);

        public ValueTask SetAttrAsync(SetAttr attr, CancellationToken ct = default) => Inner.SetAttrAsync(attr, ct);

        public async ValueTask<INode> LookupAsync(string name, CancellationToken ct = default)
        {
            Interlocked.Increment(ref fs.Lookups);
            return Wrap(await Inner.LookupAsync(name, ct));
        }

        public async ValueTask<INode> CreateAsync(string name, uint perm, Credentials owner, CancellationToken ct = default) => Wrap(await Inner.CreateAsync(name, perm, owner, ct));

        public async ValueTask<INode> MkdirAsync(string name, uint perm, Credentials owner, CancellationToken ct = default) => Wrap(await Inner.MkdirAsync(name, perm, owner, ct));

        public async ValueTask<INode> SymlinkAsync(string name, string target, Credentials owner, CancellationToken ct = default) => Wrap(await Inner.SymlinkAsync(name, target, owner, ct));

        public async ValueTask<INode> MknodAsync(string name, uint mode, ulong rdev, Credentials owner, CancellationToken ct = default) => Wrap(await Inner.MknodAsync(name, mode, rdev, owner, ct));

        public ValueTask LinkAsync(string name, INode target, CancellationToken ct = default) => Inner.LinkAsync(name, ((ProbeNode)target).Inner, ct);

        public ValueTask UnlinkAsync(string name, CancellationToken ct = default) => Inner.UnlinkAsync(name, ct);

        public ValueTask RmdirAsync(string name, CancellationToken ct = default) => Inner.RmdirAsync(name, ct);

        public ValueTask RenameAsync(string oldName, INode newDir, string newName, RenameFlags flags, CancellationToken ct = default) =>
            Inner.RenameAsync(oldName, ((ProbeNode)newDir).Inner, newName, flags, ct);

        public ValueTask<string> ReadLinkAsync(CancellationToken ct = default) => Inner.ReadLinkAsync(ct);

        public ValueTask<IFileHandle> OpenAsync(OpenFlags flags, CancellationToken ct = default) => Inner.OpenAsync(flags, ct);

        public ValueTask<byte[]> GetXattrAsync(string name, CancellationToken ct = default) => Inner.GetXattrAsync(name, ct);

        public ValueTask SetXattrAsync(string name, ReadOnlyMemory<byte> value, XattrSetFlags flags, CancellationToken ct = default) => Inner.SetXattrAsync(name, value, flags, ct);

        public ValueTask<IReadOnlyList<string>> ListXattrAsync(CancellationToken ct = default) => Inner.ListXattrAsync(ct);

        public ValueTask RemoveXattrAsync(string name, CancellationToken ct = default) => Inner.RemoveXattrAsync(name, ct);

        public ValueTask ReleaseAsync()
        {
            Assert.False(_released, "released twice");
            _released = true;
            Interlocked.Increment(ref fs.Released);
            return default;
        }
    }

    private static async Task<(MountNamespace Ns, ProbeFs Fs)> ProbeNamespaceAsync(DentryCachePolicy policy, int files)
    {
        var inner = new TmpfsFileSystem();
        for (int i = 0; i < files; i++)
        {
            await inner.Root.CreateAsync($"f{i}", 0x1A4, Credentials.Root);
        }

        await inner.Root.MkdirAsync("dir", 0x1ED, Credentials.Root);
        var fs = new ProbeFs(inner, policy);
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.MkdirAsync("/m");
        await ns.MountAsync(new MountSpec("/m", fs));
        return (ns, fs);
    }

    [Fact]
    public async Task Lru_evicts_beyond_capacity_and_releases_each_evicted_node_once()
    {
        var (ns, fs) = await ProbeNamespaceAsync(new DentryCachePolicy(false, 3), 10);
        for (int i = 0; i < 10; i++)
        {
            await ns.StatAsync($"/m/f{i}");
        }

        Assert.Equal(10, fs.Lookups);
        Assert.Equal(7, fs.Released);
        Assert.Equal(3, ns.CachedEvictableCount(fs));

        // The most recent ones are cached: no lookup. The oldest was evicted: looked up again.
        await ns.StatAsync("/m/f9");
        Assert.Equal(10, fs.Lookups);
        await ns.StatAsync("/m/f0");
        Assert.Equal(11, fs.Lookups);
        Assert.Equal(8, fs.Released);
    }

    [Fact]
    public async Task Open_files_pin_their_dentry_until_closed()
    {
        var (ns, fs) = await ProbeNamespaceAsync(new DentryCachePolicy(false, 2), 10);
        var held = await ns.OpenAsync("/m/f0", OpenFlags.ReadWrite);
        for (int i = 1; i < 10; i++)
        {
            await ns.StatAsync($"/m/f{i}");
        }

        // Still usable: its node was not released.
        await held.WriteAsync("still here"u8.ToArray());
        Assert.Equal(10, (await held.StatAsync()).Size);
        int released = fs.Released;
        await held.CloseAsync();
        Assert.Equal(2, ns.CachedEvictableCount(fs));
        Assert.Equal(released + 1, fs.Released);
    }

    [Fact]
    public async Task Parents_become_evictable_after_their_children_go()
    {
        var (ns, fs) = await ProbeNamespaceAsync(new DentryCachePolicy(false, 1), 3);
        await ns.WriteFileAsync("/m/dir/x", "x");
        await ns.StatAsync("/m/f0");
        await ns.StatAsync("/m/f1");
        await ns.StatAsync("/m/f2");
        Assert.Equal(1, ns.CachedEvictableCount(fs));

        // dir and dir/x both went: looking dir/x up again walks two names.
        int before = fs.Lookups;
        Assert.Equal("x", await ns.ReadFileAsync("/m/dir/x"));
        Assert.Equal(before + 2, fs.Lookups);
    }

    [Fact]
    public async Task Revalidating_mounts_see_host_changes_and_drop_stale_dentries()
    {
        var (ns, fs) = await ProbeNamespaceAsync(new DentryCachePolicy(true, 0), 1);
        var first = await ns.StatAsync("/m/f0");
        Assert.Equal(1, fs.Lookups);
        await ns.StatAsync("/m/f0");
        Assert.Equal(1, fs.Lookups);
        Assert.Equal(1, fs.Revalidations);

        // Someone on the host replaces the file.
        await fs.Inner.Root.UnlinkAsync("f0");
        await fs.Inner.Root.CreateAsync("f0", 0x1A4, Credentials.Root);
        var second = await ns.StatAsync("/m/f0");
        Assert.NotEqual(first.Ino, second.Ino);
        Assert.Equal(2, fs.Lookups);
        Assert.Equal(1, fs.Released);

        // And removes it.
        await fs.Inner.Root.UnlinkAsync("f0");
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/m/f0"));
        Assert.Equal(2, fs.Released);
    }

    [Fact]
    public async Task Revalidation_of_a_cached_path_is_one_batch_and_stale_tails_are_walked_again()
    {
        var (ns, fs) = await ProbeNamespaceAsync(new DentryCachePolicy(true, 0), 0);
        var setup = fs.Inner.Root;
        var a = await setup.MkdirAsync("a", 0x1ED, Credentials.Root);
        var b = await a.MkdirAsync("b", 0x1ED, Credentials.Root);
        await b.CreateAsync("c", 0x1A4, Credentials.Root);
        await ns.StatAsync("/m/a/b/c");
        Assert.Equal(3, fs.Lookups);
        Assert.Equal(0, fs.Revalidations);

        // All three cached: one RPC-shaped call checks the whole chain, no lookups.
        await ns.StatAsync("/m/a/b/c");
        Assert.Equal(1, fs.Revalidations);
        Assert.Equal(3, fs.LastBatch);
        Assert.Equal(3, fs.Lookups);

        // The host replaces b: a stays valid, b and below are dropped and walked again.
        await a.RenameAsync("b", a, "old-b", RenameFlags.None);
        var nb = await a.MkdirAsync("b", 0x1ED, Credentials.Root);
        await nb.CreateAsync("c", 0x1A4, Credentials.Root);
        await ns.StatAsync("/m/a/b/c");
        Assert.Equal(2, fs.Revalidations);
        Assert.Equal(5, fs.Lookups);
        Assert.Equal(2, fs.Released); // old b and old c, each once
    }

    [Fact]
    public async Task Concurrent_walks_with_a_tiny_cache_never_use_a_released_node()
    {
        var (ns, fs) = await ProbeNamespaceAsync(new DentryCachePolicy(false, 2), 0);
        for (int d = 0; d < 4; d++)
        {
            var dir = await fs.Inner.Root.MkdirAsync($"d{d}", 0x1ED, Credentials.Root);
            for (int f = 0; f < 8; f++)
            {
                await dir.CreateAsync($"f{f}", 0x1A4, Credentials.Root);
            }
        }

        // Each worker walks its own pseudo-random sequence; any use of a released node throws EBADF.
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var rng = new Random(w);
            for (int i = 0; i < 300; i++)
            {
                string path = $"/m/d{rng.Next(4)}/f{rng.Next(8)}";
                await ns.StatAsync(path);
                if (i % 7 == 0)
                {
                    await using var f = await ns.OpenAsync(path, OpenFlags.ReadOnly);
                    await ns.StatAsync($"/m/d{rng.Next(4)}/../d{rng.Next(4)}/f{rng.Next(8)}");
                    await f.StatAsync();
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        Assert.True(fs.Released > 0);
        Assert.True(ns.CachedEvictableCount(fs) <= 2);
    }

    [Fact]
    public async Task An_operation_keeps_what_it_resolved_even_when_its_next_lookup_fills_the_cache()
    {
        // Capacity 1: resolving the rename's second path would evict the first path's parent if the operation
        // did not hold it, and the rename would then run on a released node.
        var (ns, fs) = await ProbeNamespaceAsync(new DentryCachePolicy(false, 1), 0);
        var x = await fs.Inner.Root.MkdirAsync("x", 0x1ED, Credentials.Root);
        await fs.Inner.Root.MkdirAsync("y", 0x1ED, Credentials.Root);
        await x.CreateAsync("a", 0x1A4, Credentials.Root);
        await ns.RenameAsync("/m/x/a", "/m/y/b");
        await ns.StatAsync("/m/y/b");
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/m/x/a"));
        await ns.LinkAsync("/m/y/b", "/m/x/c");
        Assert.Equal(2u, (await ns.StatAsync("/m/x/c")).Nlink);
    }

    [Fact]
    public async Task The_working_directory_is_never_evicted()
    {
        var (ns, fs) = await ProbeNamespaceAsync(new DentryCachePolicy(false, 1), 4);
        await ns.ChdirAsync("/m/dir");
        for (int i = 0; i < 4; i++)
        {
            await ns.StatAsync($"/m/f{i}");
        }

        await ns.WriteFileAsync("here", "relative");
        Assert.Equal("relative", await ns.ReadFileAsync("/m/dir/here"));
        await ns.ChdirAsync("/");
        for (int i = 0; i < 4; i++)
        {
            await ns.StatAsync($"/m/f{i}");
        }

        Assert.True(ns.CachedEvictableCount(fs) <= 1);
    }

    [Fact]
    public async Task Authoritative_mounts_never_revalidate()
    {
        var (ns, fs) = await ProbeNamespaceAsync(DentryCachePolicy.Authoritative, 1);
        var first = await ns.StatAsync("/m/f0");
        await fs.Inner.Root.UnlinkAsync("f0");
        await fs.Inner.Root.CreateAsync("f0", 0x1A4, Credentials.Root);

        // Exclusive mode: the sandbox is the only writer, so the cached dentry is trusted (zero RPCs).
        Assert.Equal(first.Ino, (await ns.StatAsync("/m/f0")).Ino);
        Assert.Equal(0, fs.Revalidations);
        Assert.Equal(1, fs.Lookups);
    }

    [Fact]
    public async Task Unlink_releases_the_node_and_rename_keeps_it()
    {
        var (ns, fs) = await ProbeNamespaceAsync(DentryCachePolicy.Authoritative, 2);
        await ns.StatAsync("/m/f0");
        await ns.StatAsync("/m/f1");
        await ns.RenameAsync("/m/f0", "/m/dir/moved");
        Assert.Equal(0, fs.Released);
        int lookups = fs.Lookups;
        await ns.StatAsync("/m/dir/moved");
        Assert.Equal(lookups, fs.Lookups);
        await ns.UnlinkAsync("/m/f1");
        Assert.Equal(1, fs.Released);
    }
}
