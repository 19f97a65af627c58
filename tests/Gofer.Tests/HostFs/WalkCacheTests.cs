using System.Text;
using Gofer.HostFs;
using Gofer.HostFs.Native;

namespace Gofer.Tests.HostFs;

/// <summary>
/// The export's walk cache: a repeated walk is answered from a kept descriptor, but only after the name is shown to
/// still resolve to the same inode; every way the host or a client can change what a name means makes the walk open
/// afresh.
/// </summary>
public sealed class WalkCacheTests : HostFsTestBase
{
    private WalkCache Cache => Export.WalkCache!;

    private string ReadVia(HostNode from, params string[] names)
    {
        using HostNode f = OpenOk(from, P9L.ORdOnly, names);
        var buf = new byte[256];
        Assert.Equal(Errno.None, f.Read(0, buf, out int n));
        return Encoding.UTF8.GetString(buf, 0, n);
    }

    [Fact]
    public void A_repeated_walk_is_a_revalidated_hit_with_the_same_qid()
    {
        Directory.CreateDirectory(InExport("a/b"));
        File.WriteAllText(InExport("a/b/c"), "one");
        using HostNode first = WalkOk(Root, "a", "b", "c");
        long hits = Cache.Hits;
        using HostNode second = WalkOk(Root, "a", "b", "c");
        Assert.Equal(hits + 3, Cache.Hits);
        Assert.Equal(first.Qid, second.Qid);
        Assert.Equal("one", ReadVia(Root, "a", "b", "c"));
    }

    [Fact]
    public void A_file_replaced_on_the_host_is_walked_afresh()
    {
        File.WriteAllText(InExport("f"), "old");
        using (HostNode old = WalkOk(Root, "f"))
        {
        }

        // Keep the old inode alive elsewhere too, so the new file cannot even reuse its number by chance.
        File.Move(InExport("f"), InExport("kept"));
        File.WriteAllText(InExport("f"), "new");
        long hits = Cache.Hits;
        using HostNode n = WalkOk(Root, "f");
        Assert.Equal(hits, Cache.Hits);
        Statx st = HostLstat(InExport("f"));
        Assert.Equal(Export.Qids.PathOf(st.Dev, st.Ino), n.Qid.Path);
        Assert.Equal("new", ReadVia(Root, "f"));
    }

    [Fact]
    public void A_directory_swapped_for_a_symlink_out_of_the_export_is_not_followed()
    {
        Directory.CreateDirectory(InExport("d"));
        File.WriteAllText(InExport("d/x"), "inside");
        Assert.Equal("inside", ReadVia(Root, "d", "x"));
        Directory.Move(InExport("d"), InExport("d2"));
        File.CreateSymbolicLink(InExport("d"), OutsideDir);
        using HostNode link = WalkOk(Root, "d");
        Assert.Equal(NodeKind.Symlink, link.Kind);
        Assert.Equal(Errno.ENOTDIR, link.Walk(U("canary"), out HostNode? through));
        Assert.Null(through);
        AssertCanaryIntact();
    }

    [Fact]
    public void A_name_deleted_on_the_host_is_ENOENT_and_no_longer_held()
    {
        File.WriteAllText(InExport("gone"), "x");
        using (WalkOk(Root, "gone"))
        {
        }

        int before = Cache.Count;
        File.Delete(InExport("gone"));
        Assert.Equal(Errno.ENOENT, Root.Walk(U("gone"), out HostNode? c));
        Assert.Null(c);
        Assert.Equal(before - 1, Cache.Count);
    }

    [Fact]
    public void The_gofers_own_unlink_rename_and_remove_drop_their_entries()
    {
        foreach (string n in new[] { "u", "r", "m", "t" })
            File.WriteAllText(InExport(n), n);
        foreach (string n in new[] { "u", "r", "m", "t" })
        {
            using (WalkOk(Root, n))
            {
            }
        }

        int before = Cache.Count;
        Assert.Equal(Errno.None, Root.UnlinkAt(U("u"), 0));
        Assert.Equal(before - 1, Cache.Count);
        Assert.Equal(Errno.None, Root.RenameAt(U("r"), Root, U("t"))); // drops "r" and the replaced "t"
        Assert.Equal(before - 3, Cache.Count);
        using (HostNode m = WalkOk(Root, "m"))
        {
            Assert.Equal(before - 3, Cache.Count); // a hit: "m" is still the one entry
            Assert.Equal(Errno.None, m.Remove());
        }

        Assert.Equal(before - 4, Cache.Count);
        Assert.Equal("r", ReadVia(Root, "t"));
    }

    [Fact]
    public void A_sweep_drops_entries_not_walked_since_the_previous_one()
    {
        File.WriteAllText(InExport("s"), "s");
        using (WalkOk(Root, "s"))
        {
        }

        Cache.Sweep(); // marks it unused
        Assert.Equal(1, Cache.Count);
        Cache.Sweep(); // not walked since: dropped
        Assert.Equal(0, Cache.Count);
        Assert.Equal("s", ReadVia(Root, "s"));
    }

    [Fact]
    public void A_node_from_the_cache_outlives_the_entry()
    {
        File.WriteAllText(InExport("k"), "kept");
        using HostNode n = WalkOk(Root, "k");
        Cache.Clear();
        Assert.Equal(Errno.None, n.Open(P9L.ORdOnly, out _, out _));
        var buf = new byte[16];
        Assert.Equal(Errno.None, n.Read(0, buf, out int count));
        Assert.Equal("kept", Encoding.UTF8.GetString(buf, 0, count));
    }

    [Fact]
    public void The_cache_never_holds_more_than_its_capacity()
    {
        using var cache = new WalkCache(capacity: 2, sweepPeriodically: false);
        var fds = new List<SharedFd>();
        for (int i = 0; i < 4; i++)
        {
            var fd = new SharedFd(new SafeFd(-1));
            fds.Add(fd);
            cache.Put(1, 2, U("n" + i), fd, 1, (ulong)(10 + i));
        }

        Assert.Equal(2, cache.Count);
        Assert.True(cache.TryGet(1, 2, U("n1"), out SharedFd got, out _, out ulong ino));
        Assert.Equal(11UL, ino);
        got.Release();
        Assert.False(cache.TryGet(1, 2, U("n3"), out _, out _, out _));
        Assert.False(cache.TryGet(1, 3, U("n1"), out _, out _, out _)); // another directory
    }

    [Fact]
    public void The_option_turns_the_cache_off()
    {
        Assert.Equal(Errno.None, HostExport.TryOpen(ExportDir, new HostExportOptions { WalkCache = false }, out HostExport? off));
        using (off)
        {
            Assert.Null(off!.WalkCache);
            File.WriteAllText(InExport("o"), "o");
            using HostNode root = off.Attach();
            Assert.Equal("o", ReadVia(root, "o"));
        }
    }
}
