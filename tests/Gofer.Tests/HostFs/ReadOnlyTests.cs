using Gofer.HostFs;
using Gofer.HostFs.Native;

namespace Gofer.Tests.HostFs;

public sealed class ReadOnlyTests : HostFsTestBase
{
    public ReadOnlyTests()
        : base(readOnly: true)
    {
    }

    [Fact]
    public void Every_mutation_is_EROFS_and_reads_still_work()
    {
        File.WriteAllText(InExport("f"), "data");
        Directory.CreateDirectory(InExport("d"));
        File.CreateSymbolicLink(InExport("l"), "f");
        string before = Snapshot();

        using HostNode f = WalkOk(Root, "f");
        using HostNode d = WalkOk(Root, "d");
        foreach (uint flags in new[] { P9L.OWrOnly, P9L.ORdWr, P9L.ORdOnly | P9L.OTrunc, P9L.OWrOnly | P9L.OAppend })
        {
            Assert.Equal(Errno.EROFS, f.Open(flags, out _, out _));
        }

        using (HostNode c = d.Clone())
        {
            Assert.Equal(Errno.EROFS, c.Create(U("n"), P9L.ORdOnly, 0x1A4, uint.MaxValue, uint.MaxValue, out _));
            Assert.Equal(Errno.EROFS, c.Create(U("n"), P9L.ORdWr, 0x1A4, uint.MaxValue, uint.MaxValue, out _));
        }

        Assert.Equal(Errno.EROFS, f.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrMode, Mode = 0x1FF }));
        Assert.Equal(Errno.EROFS, f.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrSize }));
        Assert.Equal(Errno.EROFS, f.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrAtime | P9L.SetAttrMtime }));
        Assert.Equal(Errno.EROFS, f.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrUid, Uid = 5 }));
        Assert.Equal(Errno.EROFS, f.SetXattr(U("user.x"), U("v"), 0));
        Assert.Equal(Errno.EROFS, f.RemoveXattr(U("user.x")));
        Assert.Equal(Errno.EROFS, Root.Link(f, U("hard")));
        Assert.Equal(Errno.EROFS, Root.RenameAt(U("f"), Root, U("g")));
        Assert.Equal(Errno.EROFS, f.Rename(Root, U("g")));
        Assert.Equal(Errno.EROFS, Root.UnlinkAt(U("f"), 0));
        Assert.Equal(Errno.EROFS, Root.UnlinkAt(U("d"), P9L.AtRemoveDir));
        Assert.Equal(Errno.EROFS, f.Remove());
        Assert.Equal(Errno.EROFS, Root.Mknod(U("n"), Libc.S_IFIFO | 0x1A4, 0, 0, uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.EROFS, Root.Symlink(U("n"), U("t"), uint.MaxValue, uint.MaxValue, out _));
        Assert.Equal(Errno.EROFS, Root.Mkdir(U("n"), 0x1ED, uint.MaxValue, uint.MaxValue, out _));

        // Reading, listing, getattr, xattr get, read locks still work.
        using HostNode r = OpenOk(Root, P9L.ORdOnly, "f");
        Assert.Equal(Errno.None, r.Read(0, new byte[8], out int n));
        Assert.Equal(4, n);
        Assert.Equal(Errno.EROFS, r.Write(0, "x"u8, out _));
        Assert.Equal(Errno.None, r.Lock(P9L.LockTypeRead, 0, 0, 0, out LockStatus s));
        Assert.Equal(LockStatus.Success, s);
        Assert.Equal(Errno.EROFS, r.Lock(P9L.LockTypeWrite, 0, 0, 0, out _));
        Assert.Equal(Errno.None, r.GetAttr(P9L.GetAttrBasic, out _));
        Assert.Equal(Errno.None, r.ListXattr(default, out _));
        using HostNode dir = OpenOk(Root, P9L.ORdOnly);
        Assert.Equal(5, DirTests.ReadAll(dir, 4096).Count);

        Assert.Equal(before, Snapshot());
        AssertCanaryIntact();
    }

    private string Snapshot() => string.Join("|", Directory.GetFileSystemEntries(ExportDir, "*", SearchOption.AllDirectories)
        .Order(StringComparer.Ordinal)
        .Select(p => p + ":" + HostLstat(p).Mode + ":" + HostLstat(p).Size + ":" + HostLstat(p).Mtime.Sec));
}
