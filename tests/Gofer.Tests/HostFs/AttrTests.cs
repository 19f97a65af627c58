using Gofer.HostFs;
using Gofer.HostFs.Native;

namespace Gofer.Tests.HostFs;

public sealed class AttrTests : HostFsTestBase
{
    [Fact]
    public void Getattr_fills_every_basic_field_from_the_host()
    {
        File.WriteAllBytes(InExport("f"), new byte[10000]);
        using HostNode f = WalkOk(Root, "f");
        Assert.Equal(Errno.None, f.GetAttr(P9L.GetAttrAll, out HostAttr a));
        Statx st = HostLstat(InExport("f"));
        Assert.Equal(P9L.GetAttrBasic, a.Valid & P9L.GetAttrBasic);
        Assert.Equal(0ul, a.Valid & (P9L.GetAttrGen | P9L.GetAttrDataVersion));
        Assert.Equal(st.Mode, a.Mode);
        Assert.Equal((st.Uid, st.Gid, (ulong)st.Nlink), (a.Uid, a.Gid, a.Nlink));
        Assert.Equal(10000ul, a.Size);
        Assert.Equal(st.Blocks, a.Blocks); // 512-byte units
        Assert.True(a.Blocks * 512 >= 10000);
        Assert.Equal((ulong)st.Mtime.Sec, a.MtimeSec);
        Assert.Equal(f.Qid.Path, a.Qid.Path);
        Assert.True(a.Blksize > 0);
        if ((a.Valid & P9L.GetAttrBtime) != 0)
        {
            Assert.True(a.BtimeSec > 0);
        }

        // Not asking for btime does not report it.
        Assert.Equal(Errno.None, f.GetAttr(P9L.GetAttrBasic, out a));
        Assert.Equal(0ul, a.Valid & P9L.GetAttrBtime);
    }

    [Fact]
    public void Rdev_uses_the_linux_new_encoding()
    {
        Assert.Equal(0x103ul, HostNode.MakeDev(1, 3));
        Assert.Equal(0x0801ul, HostNode.MakeDev(8, 1));
        // minor ≥ 256 splits: low 8 bits stay, the rest moves to bits 20+.
        Assert.Equal((0x12ul << 20) | (0x103ul & 0xFF00) | 0x34, HostNode.MakeDev(1, 0x1234));
    }

    [Fact]
    public void Setattr_honours_valid_bits_only()
    {
        File.WriteAllText(InExport("f"), "0123456789");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(InExport("f"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        using HostNode f = WalkOk(Root, "f");
        Statx before = HostLstat(InExport("f"));

        // The kernel fills every field; with only SIZE valid, the junk mode/uid/gid/times must be ignored.
        Assert.Equal(Errno.None, f.SetAttr(new SetAttrRequest
        {
            Valid = P9L.SetAttrSize,
            Size = 4,
            Mode = 0xFFF,
            Uid = 999,
            Gid = 999,
            AtimeSec = 1,
            MtimeSec = 1,
        }));
        Statx st = HostLstat(InExport("f"));
        Assert.Equal(4ul, st.Size);
        Assert.Equal(before.Mode, st.Mode);
        Assert.Equal((before.Uid, before.Gid), (st.Uid, st.Gid));
        Assert.NotEqual(1, st.Mtime.Sec);

        // chmod: MODE|CTIME, type bits ignored.
        Assert.Equal(Errno.None, f.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrMode | P9L.SetAttrCtime, Mode = Libc.S_IFDIR | 0x1C0 }));
        Assert.Equal(Libc.S_IFREG | 0x1C0u, HostLstat(InExport("f")).Mode);

        // chown of one id leaves the other.
        Assert.Equal(Errno.None, f.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrUid, Uid = 1111, Gid = 2222 }));
        st = HostLstat(InExport("f"));
        Assert.Equal((1111u, before.Gid), (st.Uid, st.Gid));

        // Explicit times (_SET) and "now" (no _SET).
        Assert.Equal(Errno.None, f.SetAttr(new SetAttrRequest
        {
            Valid = P9L.SetAttrAtime | P9L.SetAttrMtime | P9L.SetAttrAtimeSet | P9L.SetAttrMtimeSet,
            AtimeSec = 1000,
            AtimeNsec = 5,
            MtimeSec = 2000,
            MtimeNsec = 7,
        }));
        st = HostLstat(InExport("f"));
        Assert.Equal((1000L, 5u, 2000L, 7u), (st.Atime.Sec, st.Atime.Nsec, st.Mtime.Sec, st.Mtime.Nsec));
        Assert.Equal(Errno.None, f.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrMtime, MtimeSec = 3 }));
        st = HostLstat(InExport("f"));
        Assert.True(st.Mtime.Sec > 1_000_000_000, "mtime set to now, not to the field value");
        Assert.Equal(1000L, st.Atime.Sec); // atime not in valid: omitted

        Assert.Equal(Errno.EINVAL, f.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrMtime | P9L.SetAttrMtimeSet, MtimeNsec = 1_000_000_000 }));
        Assert.Equal(Errno.EFBIG, f.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrSize, Size = ulong.MaxValue }));
        Assert.Equal(Errno.None, f.SetAttr(new SetAttrRequest { Valid = 0 }));

        Directory.CreateDirectory(InExport("d"));
        using HostNode d = WalkOk(Root, "d");
        Assert.Equal(Errno.EISDIR, d.SetAttr(new SetAttrRequest { Valid = P9L.SetAttrSize }));
    }

    [Fact]
    public void Statfs_reports_the_host_filesystem()
    {
        Assert.Equal(Errno.None, Root.StatFs(out HostStatFs s));
        Assert.True(s.Bsize > 0);
        Assert.True(s.Blocks > 0);
        Assert.Equal(255u, s.Namelen);
    }
}
