using System.Net.Sockets;
using Gofer.HostFs;
using Gofer.HostFs.Native;

namespace Gofer.Tests.HostFs;

public sealed class ConfinementTests : HostFsTestBase
{
    private HostNode MakeEscapes()
    {
        // Created through HostFs itself (a sandbox can do this) and on the host.
        Assert.Equal(Errno.None, Root.Symlink(U("abs"), U(CanaryPath), uint.MaxValue, uint.MaxValue, out Qid q));
        Assert.Equal(P9L.QtSymlink, q.Type);
        Assert.Equal(Errno.None, Root.Symlink(U("rel"), U("../outside/canary"), uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.None, Root.Symlink(U("dirlink"), U("../outside"), uint.MaxValue, uint.MaxValue, out _));
        File.CreateSymbolicLink(InExport("hostabs"), OutsideDir);
        return Root;
    }

    [Fact]
    public void Symlinks_pointing_outside_can_be_created_read_and_listed()
    {
        MakeEscapes();
        Span<byte> buf = stackalloc byte[4096];
        using HostNode abs = WalkOk(Root, "abs");
        Assert.Equal(Errno.None, abs.ReadLink(buf, out int n));
        Assert.Equal(CanaryPath, System.Text.Encoding.UTF8.GetString(buf[..n]));
        using HostNode rel = WalkOk(Root, "rel");
        Assert.Equal(Errno.None, rel.ReadLink(buf, out n));
        Assert.Equal("../outside/canary", System.Text.Encoding.UTF8.GetString(buf[..n]));

        using HostNode dir = OpenOk(Root, P9L.ORdOnly);
        var names = DirTests.ReadAll(dir, 8192).ToDictionary(e => e.Name, e => e.Type);
        Assert.Equal(P9L.DtLnk, names["abs"]);
        Assert.Equal(P9L.DtLnk, names["rel"]);
        Assert.Equal(P9L.DtLnk, names["dirlink"]);
        AssertCanaryIntact();
    }

    [Fact]
    public void Symlinks_pointing_outside_are_never_followed()
    {
        MakeEscapes();
        foreach (string name in new[] { "abs", "rel", "dirlink", "hostabs" })
        {
            using HostNode l = WalkOk(Root, name);
            Assert.Equal(NodeKind.Symlink, l.Kind);
            // walk through it
            Assert.Equal(Errno.ENOTDIR, l.Walk(U("canary"), out _));
            // open it (read, write, truncate)
            Assert.Equal(Errno.ELOOP, l.Open(P9L.ORdOnly, out _, out _));
            Assert.Equal(Errno.ELOOP, l.Open(P9L.ORdWr | P9L.OTrunc, out _, out _));
            Assert.False(l.IsOpen);
            // create through it
            using HostNode c = l.Clone();
            Assert.Equal(Errno.ENOTDIR, c.Create(U("new"), P9L.ORdWr, 0x1A4, uint.MaxValue, uint.MaxValue, out _));
            Assert.Equal(Errno.ENOTDIR, l.Mkdir(U("new"), 0x1ED, uint.MaxValue, uint.MaxValue, out _));
            // setattr: mode refused, size refused, times and owner land on the link itself
            Assert.Equal(Errno.EOPNOTSUPP, l.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrMode, Mode = 0x1FF }));
            Assert.Equal(Errno.EINVAL, l.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrSize, Size = 0 }));
            Assert.Equal(Errno.None, l.SetAttr(new SetAttrRequest
            {
                Valid = P9L.SetAttrAtime | P9L.SetAttrMtime | P9L.SetAttrAtimeSet | P9L.SetAttrMtimeSet,
                AtimeSec = 5,
                MtimeSec = 5,
            }));
            Assert.Equal(5, HostLstat(InExport(name)).Mtime.Sec);
            Assert.Equal(Errno.None, l.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrUid | P9L.SetAttrGid, Uid = 4321, Gid = 4321 }));
            Assert.Equal(4321u, HostLstat(InExport(name)).Uid);
            // xattrs: user.* cannot live on a symlink; the target's must not be touched either
            Assert.Equal(Errno.EPERM, l.SetXattr(U("user.evil"), U("x"), 0));
            Assert.NotEqual(Errno.None, l.GetXattr(U("user.evil"), default, out _));
            // getattr describes the link, not the target
            Assert.Equal(Errno.None, l.GetAttr(P9L.GetAttrAll, out HostAttr a));
            Assert.Equal(Libc.S_IFLNK, a.Mode & Libc.S_IFMT);
        }

        // rename of a link moves the link, not the target
        Assert.Equal(Errno.None, Root.RenameAt(U("abs"), Root, U("abs2")));
        Assert.True(File.Exists(CanaryPath));
        using (HostNode rel = WalkOk(Root, "rel"))
        {
            Assert.Equal(Errno.None, rel.Rename(Root, U("rel2")));
        }

        // link of a symlink links the symlink itself
        using (HostNode rel2 = WalkOk(Root, "rel2"))
        {
            Assert.Equal(Errno.None, Root.Link(rel2, U("rel3")));
        }

        Assert.Equal(Libc.S_IFLNK, HostLstat(InExport("rel3")).Mode & Libc.S_IFMT);
        Assert.Equal(1u, HostLstat(CanaryPath).Nlink);
        AssertCanaryIntact();
    }

    [Fact]
    public void Directory_replaced_by_symlink_between_calls_does_not_let_the_next_call_out()
    {
        Directory.CreateDirectory(InExport("d"));
        File.WriteAllText(InExport("d/inner"), "inner");
        using HostNode d = WalkOk(Root, "d");

        // Between two requests the host (or another client) swaps the directory for a symlink outward.
        Directory.Move(InExport("d"), InExport("d.old"));
        File.CreateSymbolicLink(InExport("d"), OutsideDir);

        // The held node still means the original directory (moved, still inside).
        Assert.Equal(Errno.ENOENT, d.Walk(U("canary"), out _));
        using (HostNode inner = WalkOk(d, "inner"))
        {
            Assert.Equal(NodeKind.Regular, inner.Kind);
        }

        Assert.Equal(Errno.ENOENT, d.UnlinkAt(U("canary"), 0));
        Assert.Equal(Errno.None, d.Mkdir(U("m"), 0x1ED, uint.MaxValue, uint.MaxValue, out _));
        Assert.True(Directory.Exists(InExport("d.old/m")));

        // A fresh walk by name sees the symlink and stops there.
        using HostNode again = WalkOk(Root, "d");
        Assert.Equal(NodeKind.Symlink, again.Kind);
        Assert.Equal(Errno.ENOTDIR, again.Walk(U("canary"), out _));
        Assert.Equal(Errno.ENOTDIR, again.Mkdir(U("m"), 0x1ED, uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.ENOTDIR, again.UnlinkAt(U("canary"), 0));
        AssertCanaryIntact();
    }

    [Fact]
    public void Directory_moved_out_of_the_export_cannot_be_climbed_with_dotdot()
    {
        Directory.CreateDirectory(InExport("d/sub"));
        using HostNode sub = WalkOk(Root, "d", "sub");
        Directory.Move(InExport("d"), Path.Combine(OutsideDir, "d"));
        Assert.Equal(Errno.EACCES, sub.Walk(U(".."), out HostNode? up));
        Assert.Null(up);
        Directory.Move(Path.Combine(OutsideDir, "d"), InExport("d"));
        AssertCanaryIntact();
    }

    [Fact]
    public void Special_files_are_walkable_but_never_opened()
    {
        // FIFO created on the host: opening it for read would block forever without a writer.
        Assert.Equal(0, Mkfifo("fifo"));
        using HostNode fifo = WalkOk(Root, "fifo");
        Assert.Equal(NodeKind.Fifo, fifo.Kind);
        Assert.Equal(Errno.EPERM, fifo.Open(P9L.ORdOnly, out _, out _));
        Assert.Equal(Errno.EPERM, fifo.Open(P9L.OWrOnly, out _, out _));
        Assert.Equal(Errno.EINVAL, fifo.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrSize }));

        // A listening unix socket on the host.
        using var sock = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        sock.Bind(new UnixDomainSocketEndPoint(InExport("sock")));
        using HostNode s = WalkOk(Root, "sock");
        Assert.Equal(NodeKind.Socket, s.Kind);
        Assert.Equal(Errno.ENXIO, s.Open(P9L.ORdWr, out _, out _));

        // A host character device (like /dev/null, 1:3) made by root inside the export.
        using HostNode dev = MakeCharDev("null", 1, 3);
        Assert.Equal(NodeKind.CharDevice, dev.Kind);
        Assert.Equal(Errno.EPERM, dev.Open(P9L.ORdOnly, out _, out _));
        Assert.Equal(Errno.EPERM, dev.Open(P9L.ORdWr, out _, out _));
        Assert.Equal(Errno.None, dev.GetAttr(P9L.GetAttrBasic, out HostAttr a));
        Assert.Equal(0x103ul, a.Rdev);
        Assert.Equal(Libc.S_IFCHR, a.Mode & Libc.S_IFMT);
    }

    [Fact]
    public void Mknod_creates_fifos_and_sockets_but_refuses_devices()
    {
        Assert.Equal(Errno.None, Root.Mknod(U("f"), Libc.S_IFIFO | 0x1A4, 0, 0, uint.MaxValue, uint.MaxValue, out Qid qf));
        Assert.Equal(Errno.None, Root.Mknod(U("s"), Libc.S_IFSOCK | 0x1A4, 0, 0, uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.None, Root.Mknod(U("r"), Libc.S_IFREG | 0x1A4, 0, 0, uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.EPERM, Root.Mknod(U("c"), Libc.S_IFCHR | 0x1A4, 1, 3, uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.EPERM, Root.Mknod(U("b"), Libc.S_IFBLK | 0x1A4, 8, 0, uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.EINVAL, Root.Mknod(U("d"), Libc.S_IFDIR | 0x1A4, 0, 0, uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Libc.S_IFIFO, HostLstat(InExport("f")).Mode & Libc.S_IFMT);
        Assert.Equal(Libc.S_IFSOCK, HostLstat(InExport("s")).Mode & Libc.S_IFMT);
        Assert.False(File.Exists(InExport("c")));
        Assert.False(File.Exists(InExport("b")));
        Assert.Equal(HostLstat(InExport("f")).Ino, qf.Path & 0xFFFF_FFFF_FFFF);
        using HostNode f = WalkOk(Root, "f");
        Assert.Equal(Errno.EPERM, f.Open(P9L.ORdOnly, out _, out _));
    }

    [Fact]
    public void Walk_and_create_stay_confined_without_openat2()
    {
        MakeEscapes();
        HostExport.Openat2Unavailable = true; // as on a pre-5.6 kernel or under a seccomp filter answering ENOSYS
        try
        {
            using HostNode l = WalkOk(Root, "dirlink");
            Assert.Equal(NodeKind.Symlink, l.Kind);
            Assert.Equal(Errno.ENOTDIR, l.Walk(U("canary"), out _));
            using HostNode abs = WalkOk(Root, "abs");
            Assert.Equal(Errno.ELOOP, abs.Open(P9L.ORdWr, out _, out _));
            using HostNode c = Root.Clone();
            Assert.Equal(Errno.EEXIST, c.Create(U("abs"), P9L.ORdWr | P9L.OTrunc, 0x1A4, uint.MaxValue, uint.MaxValue, out _));
            Assert.Equal(Errno.None, c.Create(U("plain"), P9L.ORdWr, 0x1A4, uint.MaxValue, uint.MaxValue, out _));
        }
        finally
        {
            HostExport.Openat2Unavailable = false;
        }

        AssertCanaryIntact();
    }

    [Fact]
    public void Renaming_a_directory_into_itself_is_refused()
    {
        Directory.CreateDirectory(InExport("a/b"));
        using HostNode a = WalkOk(Root, "a");
        using HostNode b = WalkOk(Root, "a", "b");
        Assert.Equal(Errno.EINVAL, Root.RenameAt(U("a"), b, U("a")));
        Assert.Equal(Errno.EINVAL, a.Rename(b, U("x")));
        Assert.True(Directory.Exists(InExport("a/b")));
    }

    private HostNode MakeCharDev(string name, uint major, uint minor)
    {
        unsafe
        {
            byte[] n = U(name + "\0");
            fixed (byte* p = n)
            {
                Assert.Equal(0, Libc.mknodat(Root.PathFd, p, Libc.S_IFCHR | 0x1B6, HostNode.MakeDev(major, minor)));
            }
        }

        return WalkOk(Root, name);
    }

    private unsafe int Mkfifo(string name)
    {
        byte[] p = U(name + "\0");
        fixed (byte* pp = p)
        {
            return Libc.mknodat(Root.PathFd, pp, Libc.S_IFIFO | 0x1A4, 0);
        }
    }
}
