using Gofer.HostFs;
using Gofer.HostFs.Native;

namespace Gofer.Tests.HostFs;

public sealed class NameAndWalkTests : HostFsTestBase
{
    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("/abs")]
    [InlineData("../x")]
    [InlineData("a\0b")]
    public void Bad_names_are_EINVAL_everywhere(string name)
    {
        byte[] n = U(name);
        Assert.Equal(Errno.EINVAL, NameValidator.ValidateWalk(n));
        Assert.Equal(Errno.EINVAL, Root.Walk(n, out HostNode? c));
        Assert.Null(c);
        Assert.Equal(Errno.EINVAL, Root.Mkdir(n, 0x1ED, uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.EINVAL, Root.Symlink(n, U("t"), uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.EINVAL, Root.Mknod(n, Libc.S_IFIFO | 0x1A4, 0, 0, uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.EINVAL, Root.UnlinkAt(n, 0));
        Assert.Equal(Errno.EINVAL, Root.RenameAt(n, Root, U("x")));
        Assert.Equal(Errno.EINVAL, Root.RenameAt(U("x"), Root, n));
        using HostNode clone = Root.Clone();
        Assert.Equal(Errno.EINVAL, clone.Create(n, P9L.ORdWr, 0x1A4, uint.MaxValue, uint.MaxValue, out _));
        AssertCanaryIntact();
    }

    [Fact]
    public void Name_length_limit_is_255_bytes()
    {
        Assert.Equal(Errno.None, NameValidator.ValidateEntry(U(new string('a', 255))));
        Assert.Equal(Errno.EINVAL, NameValidator.ValidateEntry(U(new string('a', 256))));
        // Multi-byte UTF-8: 128 × 'é' is 256 bytes though only 128 chars.
        Assert.Equal(Errno.EINVAL, NameValidator.ValidateEntry(U(new string('é', 128))));
        Assert.Equal(Errno.None, Root.Mkdir(U(new string('b', 255)), 0x1ED, uint.MaxValue, uint.MaxValue, out _));
    }

    [Fact]
    public void Dot_and_dotdot_are_walkable_but_not_entry_names()
    {
        foreach (string n in new[] { ".", ".." })
        {
            Assert.Equal(Errno.EINVAL, NameValidator.ValidateEntry(U(n)));
            Assert.Equal(Errno.EINVAL, Root.Mkdir(U(n), 0x1ED, uint.MaxValue, uint.MaxValue, out _));
            Assert.Equal(Errno.EINVAL, Root.UnlinkAt(U(n), P9L.AtRemoveDir));
        }

        using HostNode dot = WalkOk(Root, ".");
        Assert.Equal(Root.Qid, dot.Qid);
    }

    [Fact]
    public void Dotdot_clamps_at_export_root()
    {
        Directory.CreateDirectory(InExport("a/b"));
        using HostNode up = WalkOk(Root, "..");
        Assert.Equal(Root.Qid, up.Qid);
        using HostNode upup = WalkOk(Root, "..", "..", "..");
        Assert.Equal(Root.Qid, upup.Qid);
        using HostNode b = WalkOk(Root, "a", "b");
        using HostNode a = WalkOk(b, "..");
        Assert.Equal(HostLstat(InExport("a")).Ino & 0xFFFF_FFFF_FFFF, a.Qid.Path & 0xFFFF_FFFF_FFFF);
        using HostNode top = WalkOk(b, "..", "..", "..", "..");
        Assert.Equal(Root.Qid, top.Qid);
        // From the clamped root nothing outside is reachable by name.
        Assert.Equal(Errno.ENOENT, top.Walk(U("outside"), out _));
    }

    [Fact]
    public void Walk_returns_types_and_errors()
    {
        Directory.CreateDirectory(InExport("d"));
        File.WriteAllText(InExport("f"), "x");
        File.CreateSymbolicLink(InExport("l"), "f");
        using HostNode d = WalkOk(Root, "d");
        using HostNode f = WalkOk(Root, "f");
        using HostNode l = WalkOk(Root, "l");
        Assert.Equal((NodeKind.Directory, P9L.QtDir), (d.Kind, d.Qid.Type));
        Assert.Equal((NodeKind.Regular, P9L.QtFile), (f.Kind, f.Qid.Type));
        Assert.Equal((NodeKind.Symlink, P9L.QtSymlink), (l.Kind, l.Qid.Type));
        Assert.Equal(Errno.ENOENT, Root.Walk(U("missing"), out _));
        Assert.Equal(Errno.ENOTDIR, f.Walk(U("x"), out _));
        Assert.Equal(Errno.ENOTDIR, l.Walk(U("x"), out _));
    }

    [Fact]
    public void Walk_from_an_opened_node_works()
    {
        Directory.CreateDirectory(InExport("d"));
        File.WriteAllText(InExport("d/f"), "x");
        using HostNode d = OpenOk(Root, P9L.ORdOnly, "d");
        using HostNode f = WalkOk(d, "f");
        Assert.Equal(NodeKind.Regular, f.Kind);
        Assert.False(f.IsOpen);
    }

    [Fact]
    public void A_disposed_node_answers_EBADF()
    {
        File.WriteAllText(InExport("f"), "x");
        HostNode f = OpenOk(Root, P9L.ORdWr, "f");
        f.Dispose();
        f.Dispose(); // double clunk is harmless
        Assert.Equal(Errno.EBADF, f.Read(0, new byte[4], out _));
        Assert.Equal(Errno.EBADF, f.Write(0, new byte[4], out _));
        Assert.Equal(Errno.EBADF, f.GetAttr(P9L.GetAttrBasic, out _));
        Assert.Equal(Errno.EBADF, f.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrSize }));
        Assert.Equal(Errno.EBADF, f.ListXattr(default, out _));
        Assert.Equal(Errno.EBADF, f.Lock(P9L.LockTypeRead, 0, 0, 0, out _));
        Assert.Equal(Errno.EBADF, f.Open(P9L.ORdOnly, out _, out _));
        Assert.Equal("x", File.ReadAllText(InExport("f")));
    }
}
