using System.Text;
using Gofer.HostFs;
using Gofer.HostFs.Native;

namespace Gofer.Tests.HostFs;

public sealed class IoTests : HostFsTestBase
{
    [Fact]
    public void Read_and_write_at_offsets_into_spans()
    {
        File.WriteAllText(InExport("f"), "hello world");
        using HostNode f = OpenOk(Root, P9L.ORdWr, "f");
        Span<byte> buf = stackalloc byte[64];
        Assert.Equal(Errno.None, f.Read(6, buf, out int n));
        Assert.Equal("world", Encoding.UTF8.GetString(buf[..n]));
        Assert.Equal(Errno.None, f.Write(0, "HELLO"u8, out n));
        Assert.Equal(5, n);
        Assert.Equal(Errno.None, f.Read(100, buf, out n));
        Assert.Equal(0, n);
        Assert.Equal("HELLO world", File.ReadAllText(InExport("f")));
        Assert.Equal(Errno.EINVAL, f.Read(ulong.MaxValue, buf, out _));
        Assert.Equal(Errno.EFBIG, f.Write(ulong.MaxValue - 2, "abc"u8, out _));
        Assert.Equal(Errno.EFBIG, f.Write(long.MaxValue, "abc"u8, out _));
        Assert.Equal(Errno.None, f.Fsync(dataOnly: false));
        Assert.Equal(Errno.None, f.Fsync(dataOnly: true));
    }

    [Fact]
    public void Unopened_nodes_refuse_io()
    {
        File.WriteAllText(InExport("f"), "x");
        using HostNode f = WalkOk(Root, "f");
        Assert.Equal(Errno.EBADF, f.Read(0, new byte[4], out _));
        Assert.Equal(Errno.EBADF, f.Write(0, new byte[4], out _));
        Assert.Equal(Errno.EBADF, f.Fsync(false));
    }

    [Fact]
    public void Lopen_flags_are_translated_bit_by_bit()
    {
        File.WriteAllText(InExport("f"), "0123456789");
        using (HostNode t = OpenOk(Root, P9L.OWrOnly | P9L.OTrunc | P9L.OLargeFile | P9L.OCloExec | P9L.ONonBlock | P9L.OFasync, "f"))
        {
            Assert.Equal(0, new FileInfo(InExport("f")).Length);
            Assert.Equal(Errno.None, t.Write(0, "ab"u8, out _));
            Assert.Equal(Errno.EBADF, t.Read(0, new byte[4], out _)); // write-only really is write-only
        }

        using (HostNode a = OpenOk(Root, P9L.OWrOnly | P9L.OAppend, "f"))
        {
            // O_APPEND: the host appends whatever offset the client computed.
            Assert.Equal(Errno.None, a.Write(0, "cd"u8, out _));
        }

        Assert.Equal("abcd", File.ReadAllText(InExport("f")));

        using HostNode r = WalkOk(Root, "f");
        Assert.Equal(Errno.EINVAL, r.Open(P9L.ONoAccess, out _, out _));
        Assert.Equal(Errno.ENOTDIR, r.Open(P9L.ORdOnly | P9L.ODirectory, out _, out _));
        Assert.Equal(Errno.None, r.Open(P9L.ORdOnly | P9L.ONoAtime, out Qid q, out uint iounit));
        Assert.Equal(0u, iounit);
        Assert.Equal(r.Qid, q);
        Assert.Equal(Errno.EINVAL, r.Open(P9L.ORdOnly, out _, out _)); // already open
        Assert.Equal(Errno.EBADF, r.Write(0, "x"u8, out _));

        Directory.CreateDirectory(InExport("d"));
        using HostNode d = WalkOk(Root, "d");
        Assert.Equal(Errno.EISDIR, d.Open(P9L.OWrOnly, out _, out _));
        Assert.Equal(Errno.EISDIR, d.Open(P9L.ORdWr, out _, out _));
        Assert.Equal(Errno.None, d.Open(P9L.ORdOnly, out _, out _));
    }

    [Fact]
    public void Lcreate_turns_the_directory_node_into_the_opened_new_file()
    {
        Directory.CreateDirectory(InExport("d"));
        using HostNode n = WalkOk(Root, "d");
        Assert.Equal(Errno.None, n.Create(U("new"), P9L.OWrOnly | P9L.OCreate | P9L.OTrunc | P9L.OLargeFile, Libc.S_IFREG | 0x1A4, 1234, 5678, out Qid q));
        Assert.True(n.IsOpen);
        Assert.Equal(NodeKind.Regular, n.Kind);
        Assert.Equal(q, n.Qid);
        Assert.Equal(Errno.None, n.Write(0, "data"u8, out _));
        Statx st = HostLstat(InExport("d/new"));
        Assert.Equal((1234u, 5678u), (st.Uid, st.Gid));
        Assert.Equal(0x1A4, st.Mode & 0xFFF);
        Assert.Equal("data", File.ReadAllText(InExport("d/new")));
        Assert.Equal(st.Ino, q.Path & 0xFFFF_FFFF_FFFF);

        // The new file's node works like a walked one: getattr, rename by fid.
        Assert.Equal(Errno.None, n.GetAttr(P9L.GetAttrBasic, out HostAttr a));
        Assert.Equal(4ul, a.Size);
        using HostNode d = WalkOk(Root, "d");
        Assert.Equal(Errno.None, n.Rename(d, U("renamed")));
        Assert.True(File.Exists(InExport("d/renamed")));

        // Exclusive always: an existing name is EEXIST, and a dangling symlink is not followed.
        using HostNode d2 = WalkOk(Root, "d");
        Assert.Equal(Errno.EEXIST, d2.Create(U("renamed"), P9L.ORdWr, 0x1A4, uint.MaxValue, uint.MaxValue, out _));
        File.CreateSymbolicLink(InExport("d/dangling"), Path.Combine(OutsideDir, "created-outside"));
        Assert.Equal(Errno.EEXIST, d2.Create(U("dangling"), P9L.ORdWr, 0x1A4, uint.MaxValue, uint.MaxValue, out _));
        Assert.False(File.Exists(Path.Combine(OutsideDir, "created-outside")));
        Assert.False(d2.IsOpen);
        AssertCanaryIntact();
    }

    [Fact]
    public void Open_unlinked_and_open_renamed_files_keep_working()
    {
        File.WriteAllText(InExport("f"), "0123456789");
        using HostNode f = OpenOk(Root, P9L.ORdWr, "f");
        using HostNode ro = OpenOk(Root, P9L.ORdOnly, "f");
        Assert.Equal(Errno.None, Root.UnlinkAt(U("f"), 0));
        Assert.False(File.Exists(InExport("f")));

        Span<byte> buf = stackalloc byte[16];
        Assert.Equal(Errno.None, f.Read(0, buf, out int n));
        Assert.Equal("0123456789", Encoding.UTF8.GetString(buf[..n]));
        Assert.Equal(Errno.None, f.Write(10, "AB"u8, out _));
        Assert.Equal(Errno.None, f.GetAttr(P9L.GetAttrBasic, out HostAttr a));
        Assert.Equal((12ul, 0ul), (a.Size, a.Nlink));
        // setattr size through a node opened read-only: re-open of the inode, not the (gone) name.
        Assert.Equal(Errno.None, ro.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrSize, Size = 3 }));
        Assert.Equal(Errno.None, f.GetAttr(P9L.GetAttrSize, out a));
        Assert.Equal(3ul, a.Size);
        Assert.Equal(Errno.None, ro.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrMode, Mode = 0x180 }));
        Assert.Equal(Errno.None, ro.GetAttr(P9L.GetAttrMode, out a));
        Assert.Equal(0x180u, a.Mode & 0xFFF);

        // Renamed (by the host) while open and while merely walked.
        File.WriteAllText(InExport("g"), "gee");
        using HostNode g = OpenOk(Root, P9L.ORdOnly, "g");
        using HostNode gw = WalkOk(Root, "g");
        File.Move(InExport("g"), InExport("g2"));
        Assert.Equal(Errno.None, g.Read(0, buf, out n));
        Assert.Equal("gee", Encoding.UTF8.GetString(buf[..n]));
        Assert.Equal(Errno.None, gw.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrSize, Size = 1 }));
        Assert.Equal("g", File.ReadAllText(InExport("g2")));
        // The fid-based rename sees that its remembered name is gone.
        Assert.Equal(Errno.ENOENT, gw.Rename(Root, U("g3")));
    }
}

public sealed class HotPathAllocationTests : HostFsTestBase
{
    [Fact]
    public void Read_write_getattr_and_readdir_allocate_nothing_in_steady_state()
    {
        File.WriteAllBytes(InExport("f"), new byte[8192]);
        for (int i = 0; i < 50; i++)
        {
            File.WriteAllText(InExport("e" + i), "x");
        }

        using HostNode f = OpenOk(Root, P9L.ORdWr, "f");
        using HostNode dir = OpenOk(Root, P9L.ORdOnly);
        byte[] buf = new byte[4096];
        byte[] dirBuf = new byte[65536];

        // No Assert inside the measured loop: xunit's comparers box. Failures are counted instead.
        int failures = 0;
        void Once()
        {
            failures += f.Read(0, buf, out _) == Errno.None ? 0 : 1;
            failures += f.Write(4096, buf, out _) == Errno.None ? 0 : 1;
            failures += f.GetAttr(P9L.GetAttrBasic, out _) == Errno.None ? 0 : 1;
            var w = new RreaddirWriter(dirBuf);
            failures += dir.ReadDir(0, ref w) == Errno.None && w.Count >= 52 ? 0 : 1;
        }

        for (int i = 0; i < 200; i++)
        {
            Once(); // warm up: JIT tiers, the directory's getdents buffer
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Once();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, failures);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void A_created_file_without_its_own_path_descriptor_still_does_everything_and_can_be_cloned()
    {
        using HostNode n = Root.Clone();
        Assert.Equal(Errno.None, n.Create(U("lazy"), P9L.ORdWr, Libc.S_IFREG | 0x1A4, uint.MaxValue, uint.MaxValue, out Qid q));
        Assert.Equal(Errno.None, n.Write(0, "0123456789"u8, out _));
        Assert.Equal(Errno.None, n.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrSize | P9L.SetAttrMode, Size = 4, Mode = 0x180 }));
        Assert.Equal(Errno.None, n.GetAttr(P9L.GetAttrBasic, out HostAttr a));
        Assert.Equal(4ul, a.Size);
        Assert.Equal(0x180u, a.Mode & 0xFFF);
        Assert.Equal(Errno.None, n.SetXattr(U("user.k"), U("v"), 0));

        // The clone gets an O_PATH descriptor of its own, made from the open one: it outlives the creating node.
        HostNode clone = n.Clone();
        Assert.Equal(q, clone.Qid);
        n.Dispose();
        using (clone)
        {
            Assert.Equal(Errno.None, clone.Open(P9L.ORdOnly, out _, out _));
            var buf = new byte[16];
            Assert.Equal(Errno.None, clone.Read(0, buf, out int count));
            Assert.Equal("0123", System.Text.Encoding.UTF8.GetString(buf, 0, count));
        }

        Assert.Equal("0123", File.ReadAllText(InExport("lazy")));
    }
}
