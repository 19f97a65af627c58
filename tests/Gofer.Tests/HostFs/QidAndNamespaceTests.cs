using System.Text;
using Gofer.HostFs;
using Gofer.HostFs.Native;

namespace Gofer.Tests.HostFs;

public sealed class QidAndNamespaceTests : HostFsTestBase
{
    [Fact]
    public void Qids_are_unique_and_hard_links_share_one()
    {
        File.WriteAllText(InExport("a"), "a");
        File.WriteAllText(InExport("b"), "b");
        Directory.CreateDirectory(InExport("d"));
        using HostNode a = WalkOk(Root, "a");
        using HostNode b = WalkOk(Root, "b");
        using HostNode d = WalkOk(Root, "d");
        Assert.Equal(Errno.None, Root.Link(a, U("c")));
        using HostNode c = WalkOk(Root, "c");
        Assert.Equal(a.Qid, c.Qid);
        Assert.Equal(2u, HostLstat(InExport("a")).Nlink);
        Assert.Equal(4, new[] { a.Qid.Path, b.Qid.Path, d.Qid.Path, Root.Qid.Path }.Distinct().Count());
        Assert.Equal(0u, a.Qid.Version); // default policy: version 0
        Assert.Equal(Errno.EPERM, Root.Link(d, U("dirlink")));
    }

    [Fact]
    public void Qid_map_separates_devices_and_never_truncates_inodes()
    {
        var map = new QidMap();
        ulong p1 = map.PathOf(10, 5);
        ulong p2 = map.PathOf(11, 5);
        Assert.NotEqual(p1, p2);
        Assert.Equal(p1, map.PathOf(10, 5));
        ulong big1 = map.PathOf(10, 1UL << 50);
        ulong big2 = map.PathOf(10, (1UL << 50) + (1UL << 48)); // same low 48 bits
        Assert.NotEqual(big1, big2);
        Assert.Equal(big1, map.PathOf(10, 1UL << 50));
        Assert.DoesNotContain(big1, new[] { p1, p2, map.PathOf(10, 1UL << 50 & 0xFFFF_FFFF_FFFF) });
        // Different devices with low-bit-equal inodes never collide either.
        var seen = new HashSet<ulong>();
        for (ulong dev = 0; dev < 50; dev++)
        {
            for (ulong ino = 1; ino < 50; ino++)
            {
                Assert.True(seen.Add(map.PathOf(dev + 100, ino)));
            }
        }
    }

    [Fact]
    public void Qids_differ_across_a_mounted_subtree()
    {
        Directory.CreateDirectory(InExport("mnt"));
        File.WriteAllText(InExport("x"), "x");
        if (!TryMountTmpfs(InExport("mnt")))
        {
            // Unprivileged CI: the QidMap unit test above covers the mapping itself.
            return;
        }

        try
        {
            File.WriteAllText(InExport("mnt/y"), "y");
            using HostNode x = WalkOk(Root, "x");
            using HostNode y = WalkOk(Root, "mnt", "y");
            using HostNode m = WalkOk(Root, "mnt");
            Assert.NotEqual(HostLstat(InExport("x")).Dev, HostLstat(InExport("mnt/y")).Dev);
            Assert.NotEqual(x.Qid.Path >> 48, y.Qid.Path >> 48);
            Assert.Equal(y.Qid.Path >> 48, m.Qid.Path >> 48);
            Assert.NotEqual(x.Qid.Path, y.Qid.Path);
        }
        finally
        {
            System.Diagnostics.Process.Start("umount", InExport("mnt"))!.WaitForExit();
        }
    }

    private static bool TryMountTmpfs(string dir)
    {
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("mount", ["-t", "tmpfs", "gofer-test", dir])
            {
                RedirectStandardError = true,
            })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    [Fact]
    public void Mkdir_symlink_readlink_rename_unlink()
    {
        Assert.Equal(Errno.None, Root.Mkdir(U("d"), Libc.S_IFDIR | 0x1C0, 1234, 4321, out Qid qd));
        Assert.Equal(P9L.QtDir, qd.Type);
        Statx st = HostLstat(InExport("d"));
        Assert.Equal((Libc.S_IFDIR | 0x1C0u, 1234u, 4321u), ((uint)st.Mode, st.Uid, st.Gid));
        Assert.Equal(Errno.EEXIST, Root.Mkdir(U("d"), 0x1ED, uint.MaxValue, uint.MaxValue, out _));

        Assert.Equal(Errno.None, Root.Symlink(U("s"), U("d/target"), 77, 88, out _));
        Assert.Equal((77u, 88u), (HostLstat(InExport("s")).Uid, HostLstat(InExport("s")).Gid));
        Assert.Equal(Errno.ENAMETOOLONG, Root.Symlink(U("long"), new byte[4097].Select(_ => (byte)'a').ToArray(), uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.None, Root.Symlink(U("max"), new byte[4095].Select(_ => (byte)'a').ToArray(), uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.ENOENT, Root.Symlink(U("empty"), default, uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.EINVAL, Root.Symlink(U("nul"), U("a\0b"), uint.MaxValue, uint.MaxValue, out _));
        using (HostNode s = WalkOk(Root, "s"))
        {
            byte[] buf = new byte[4097];
            Assert.Equal(Errno.None, s.ReadLink(buf, out int n));
            Assert.Equal("d/target", Encoding.UTF8.GetString(buf, 0, n));
        }

        using (HostNode d = WalkOk(Root, "d"))
        {
            Assert.Equal(Errno.EINVAL, d.ReadLink(new byte[10], out _));
            File.WriteAllText(InExport("f"), "f");
            Assert.Equal(Errno.None, Root.RenameAt(U("f"), d, U("g")));
            Assert.True(File.Exists(InExport("d/g")));
            using HostNode g = WalkOk(d, "g");
            Assert.Equal(Errno.None, g.Rename(Root, U("h")));
            Assert.True(File.Exists(InExport("h")));
            Assert.Equal(Errno.None, g.Rename(d, U("i"))); // the node remembers where it now lives
            Assert.True(File.Exists(InExport("d/i")));
            Assert.Equal(Errno.None, g.Remove());
            Assert.False(File.Exists(InExport("d/i")));
        }

        Assert.Equal(Errno.EINVAL, Root.UnlinkAt(U("d"), 0x100));
        Assert.Equal(Errno.EISDIR, Root.UnlinkAt(U("d"), 0));
        Assert.Equal(Errno.None, Root.UnlinkAt(U("d"), P9L.AtRemoveDir));
        Assert.Equal(Errno.ENOENT, Root.UnlinkAt(U("d"), P9L.AtRemoveDir));
        Assert.Equal(Errno.EBUSY, Root.Remove());
        Assert.Equal(Errno.EBUSY, Root.Rename(Root, U("x")));
        AssertCanaryIntact();
    }

    [Fact]
    public void Link_without_cap_dac_read_search_goes_through_the_magic_link()
    {
        File.WriteAllText(InExport("a"), "a");
        File.CreateSymbolicLink(InExport("s"), CanaryPath);
        using HostNode a = WalkOk(Root, "a");
        using HostNode s = WalkOk(Root, "s");
        HostNode.LinkViaProcOnly = true;
        try
        {
            Assert.Equal(Errno.None, Root.Link(a, U("b")));
            Assert.Equal(Errno.None, Root.Link(s, U("s2")));
        }
        finally
        {
            HostNode.LinkViaProcOnly = false;
        }

        Assert.Equal(HostLstat(InExport("a")).Ino, HostLstat(InExport("b")).Ino);
        // The magic link ends at the symlink itself: the new name is the symlink, not the canary.
        Assert.Equal(HostLstat(InExport("s")).Ino, HostLstat(InExport("s2")).Ino);
        Assert.Equal(1u, HostLstat(CanaryPath).Nlink);
        AssertCanaryIntact();
    }
}
