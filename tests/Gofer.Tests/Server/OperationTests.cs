using System.Text;
using P9.Protocol.Wire;
using static Gofer.Tests.Server.P9TestClient;

namespace Gofer.Tests.Server;

/// <summary>Every 9P2000.L operation against a real temporary directory, over a real socket.</summary>
public sealed class OperationTests : IDisposable
{
    private const uint S_IFIFO = 0x1000;
    private readonly ServerFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void Walk_SixteenNames_PartialWalk_DotDotAtRoot_FromOpenedFid()
    {
        string deep = string.Join('/', Enumerable.Range(0, 17).Select(i => "d" + i));
        Directory.CreateDirectory(_f.Path_(deep));
        using var c = _f.Connect().Start();

        var names16 = Enumerable.Range(0, 16).Select(i => "d" + i).ToArray();
        var qids = c.WalkOk(0, 1, names16);
        Assert.All(qids, q => Assert.Equal(QidType.Dir, q.Type));
        Assert.Equal(16, qids.Distinct().Count());

        // 17 names: refused, nothing created.
        var names17 = Enumerable.Range(0, 17).Select(i => "d" + i).ToArray();
        AssertError(LinuxErrno.EINVAL, RawWalk(c, 0, 2, names17));
        AssertError(LinuxErrno.EBADF, c.GetAttr(2));

        // Partial: the first two succeed, the third does not exist → Rwalk with 2 qids, newfid not created.
        var r = c.Walk(0, 3, "d0", "d1", "missing", "d3");
        AssertType(P9MessageType.Rwalk, r);
        Rwalk.TryDecode(r, out var m);
        Assert.Equal(2, m.Qids.Count);
        AssertError(LinuxErrno.EBADF, c.GetAttr(3));

        // First name fails: an error.
        AssertError(LinuxErrno.ENOENT, c.Walk(0, 3, "missing"));

        // ".." at the root stays at the root.
        var root = c.GetAttrOf(c.GetAttr(0)).Qid;
        var up = c.WalkOk(0, 4, "..", "..", "..");
        Assert.Equal(root, up[^1]);

        // Walking from an opened directory fid works (Linux ls -l does it).
        c.WalkOk(0, 5);
        c.LopenOk(5, LopenFlags.ReadOnly);
        c.WalkOk(5, 6, "d0");

        // newfid == fid replaces the fid in place.
        c.WalkOk(6, 6, "d1");
        Assert.Equal(qids[1], c.GetAttrOf(c.GetAttr(6)).Qid);

        // newfid in use → EINVAL; names with '/' → EINVAL; walking from a file → ENOTDIR.
        AssertError(LinuxErrno.EINVAL, c.Walk(0, 5, "d0"));
        AssertError(LinuxErrno.EINVAL, c.Walk(0, 7, "d0/d1"));
        File.WriteAllText(_f.Path_("file"), "x");
        c.WalkOk(0, 8, "file");
        AssertError(LinuxErrno.ENOTDIR, c.Walk(8, 9, "x"));
    }

    [Fact]
    public void Lcreate_Write_Read_Getattr_Setattr_Fsync()
    {
        using var c = _f.Connect().Start();
        c.WalkOk(0, 1);
        var r = c.Lcreate(1, "new.txt", LopenFlags.ReadWrite, 0x1A4);
        AssertType(P9MessageType.Rlcreate, r);
        // The fid is now the open new file.
        Assert.Equal(5u, c.WriteBytes(1, 0, "hello"u8));
        Assert.Equal("hello", Encoding.UTF8.GetString(c.ReadBytes(1, 0, 100)));
        Assert.Equal("llo", Encoding.UTF8.GetString(c.ReadBytes(1, 2, 100)));
        Assert.Empty(c.ReadBytes(1, 5, 100));
        Assert.Equal("hello", File.ReadAllText(_f.Path_("new.txt")));
        AssertType(P9MessageType.Rfsync, c.Rpc((w, t) => Tfsync.Encode(w, t, 1, 0)));

        var a = c.GetAttrOf(c.GetAttr(1, GetattrMask.All));
        Assert.Equal(5ul, a.Size);
        Assert.Equal(0x81A4u, a.Mode);
        Assert.True(a.Valid.HasFlag(GetattrMask.Basic));

        // Setattr honours only the valid bits: size 2 is applied, the junk mode is not.
        var s = c.Rpc((w, t) => Tsetattr.Encode(w, t, 1, SetattrMask.Size, 0x1FF, 12345, 12345, 2, 1, 1, 1, 1));
        AssertType(P9MessageType.Rsetattr, s);
        a = c.GetAttrOf(c.GetAttr(1));
        Assert.Equal(2ul, a.Size);
        Assert.Equal(0x81A4u, a.Mode);
        s = c.Rpc((w, t) => Tsetattr.Encode(w, t, 1, SetattrMask.Mode | SetattrMask.Mtime | SetattrMask.MtimeSet, 0x180, 0, 0, 0, 0, 0, 1_000_000, 5));
        AssertType(P9MessageType.Rsetattr, s);
        a = c.GetAttrOf(c.GetAttr(1));
        Assert.Equal(0x8180u, a.Mode);
        Assert.Equal(1_000_000ul, a.MtimeSec);

        // Creating over an existing name: EEXIST.
        c.WalkOk(0, 2);
        AssertError(LinuxErrno.EEXIST, c.Lcreate(2, "new.txt", LopenFlags.ReadWrite));
    }

    [Fact]
    public void Lopen_Flags_And_Directories()
    {
        File.WriteAllText(_f.Path_("f"), "0123456789");
        using var c = _f.Connect().Start();
        c.WalkOk(0, 1, "f");
        c.LopenOk(1, LopenFlags.WriteOnly | LopenFlags.Trunc);
        Assert.Equal(0, new FileInfo(_f.Path_("f")).Length);
        AssertError(LinuxErrno.EINVAL, c.Lopen(1, LopenFlags.ReadOnly)); // already open
        c.WalkOk(0, 2);
        AssertError(LinuxErrno.EISDIR, c.Lopen(2, LopenFlags.WriteOnly));
        c.LopenOk(2, LopenFlags.ReadOnly | LopenFlags.Directory);
        AssertError(LinuxErrno.EBADF, c.Rpc((w, t) => Tread.Encode(w, t, 0, 0, 10))); // never opened
    }

    [Fact]
    public void Mkdir_Symlink_Readlink_Link_Mknod_Statfs()
    {
        using var c = _f.Connect().Start();
        var r = c.Rpc((w, t) => Tmkdir.Encode(w, t, 0, "dir", 0x1ED, 0));
        AssertType(P9MessageType.Rmkdir, r);
        Assert.True(Directory.Exists(_f.Path_("dir")));

        r = c.Rpc((w, t) => Tsymlink.Encode(w, t, 0, "link", "dir/../../outside", 0));
        AssertType(P9MessageType.Rsymlink, r);
        c.WalkOk(0, 1, "link"); // returned as itself, never followed
        r = c.Rpc((w, t) => Treadlink.Encode(w, t, 1));
        AssertType(P9MessageType.Rreadlink, r);
        Rreadlink.TryDecode(r, out var rl);
        Assert.Equal("dir/../../outside", Encoding.UTF8.GetString(rl.Target));
        AssertError(LinuxErrno.ELOOP, c.Lopen(1, LopenFlags.ReadOnly));

        File.WriteAllText(_f.Path_("orig"), "data");
        c.WalkOk(0, 2, "orig");
        AssertType(P9MessageType.Rlink, c.Rpc((w, t) => Tlink.Encode(w, t, 0, 2, "hard")));
        Assert.Equal("data", File.ReadAllText(_f.Path_("hard")));
        c.WalkOk(0, 3, "hard");
        Assert.Equal(c.GetAttrOf(c.GetAttr(2)).Qid.Path, c.GetAttrOf(c.GetAttr(3)).Qid.Path); // hard links share a qid.path

        r = c.Rpc((w, t) => Tmknod.Encode(w, t, 0, "fifo", S_IFIFO | 0x1A4, 0, 0, 0));
        AssertType(P9MessageType.Rmknod, r);
        c.WalkOk(0, 4, "fifo");
        AssertError(LinuxErrno.EPERM, c.Lopen(4, LopenFlags.ReadOnly)); // special files are never opened on the host

        r = c.Rpc((w, t) => Tstatfs.Encode(w, t, 0));
        AssertType(P9MessageType.Rstatfs, r);
        Rstatfs.TryDecode(r, out var sf);
        Assert.True(sf.Bsize > 0);
        Assert.Equal(255u, sf.Namelen);
    }

    [Fact]
    public void Rename_Renameat_Unlinkat_Remove()
    {
        Directory.CreateDirectory(_f.Path_("src"));
        Directory.CreateDirectory(_f.Path_("dst"));
        File.WriteAllText(_f.Path_("src/a"), "a");
        File.WriteAllText(_f.Path_("src/b"), "b");
        using var c = _f.Connect().Start();
        c.WalkOk(0, 1, "src");
        c.WalkOk(0, 2, "dst");
        c.WalkOk(1, 3, "a");
        AssertType(P9MessageType.Rrename, c.Rpc((w, t) => Trename.Encode(w, t, 3, 2, "a2")));
        Assert.True(File.Exists(_f.Path_("dst/a2")));
        Assert.Equal("a", Encoding.UTF8.GetString(ReadAll(c, 3)));

        AssertType(P9MessageType.Rrenameat, c.Rpc((w, t) => Trenameat.Encode(w, t, 1, "b", 2, "b2")));
        Assert.True(File.Exists(_f.Path_("dst/b2")));
        AssertError(LinuxErrno.ENOENT, c.Rpc((w, t) => Trenameat.Encode(w, t, 1, "b", 2, "b3")));

        AssertType(P9MessageType.Runlinkat, c.Rpc((w, t) => Tunlinkat.Encode(w, t, 2, "b2", 0)));
        Assert.False(File.Exists(_f.Path_("dst/b2")));
        AssertError(LinuxErrno.EISDIR, c.Rpc((w, t) => Tunlinkat.Encode(w, t, 0, "src", 0)));
        AssertType(P9MessageType.Runlinkat, c.Rpc((w, t) => Tunlinkat.Encode(w, t, 0, "src", UnlinkatFlags.RemoveDir)));

        // Tremove removes and clunks; on failure (non-empty dir) it still clunks.
        c.WalkOk(0, 4, "dst");
        AssertError(LinuxErrno.ENOTEMPTY, c.Rpc((w, t) => Tremove.Encode(w, t, 4)));
        AssertError(LinuxErrno.EBADF, c.GetAttr(4));
        c.WalkOk(2, 5, "a2");
        AssertType(P9MessageType.Rremove, c.Rpc((w, t) => Tremove.Encode(w, t, 5)));
        Assert.False(File.Exists(_f.Path_("dst/a2")));
        AssertError(LinuxErrno.EBADF, c.Clunk(5));
    }

    [Fact]
    public void OpenUnlinkedAndRenamedFiles_KeepWorkingThroughTheirFids()
    {
        File.WriteAllText(_f.Path_("victim"), "still here");
        using var c = _f.Connect().Start();
        c.WalkOk(0, 1, "victim");
        c.LopenOk(1, LopenFlags.ReadWrite);
        c.WalkOk(0, 2, "victim"); // walked, not opened
        File.Move(_f.Path_("victim"), _f.Path_("moved"));
        Assert.Equal("still here", Encoding.UTF8.GetString(c.ReadBytes(1, 0, 100)));
        File.Delete(_f.Path_("moved"));
        Assert.Equal(3u, c.WriteBytes(1, 0, "STI"u8));
        Assert.Equal("STIll here", Encoding.UTF8.GetString(c.ReadBytes(1, 0, 100)));
        var a = c.GetAttrOf(c.GetAttr(2));
        Assert.Equal(0ul, a.Nlink);
        Assert.Equal(10ul, a.Size);
    }

    [Fact]
    public void ReadOnlyExport_RefusesEveryMutation()
    {
        using var f = new ServerFixture(readOnly: true);
        File.WriteAllText(f.Path_("f"), "x");
        using var c = f.Connect().Start();
        c.WalkOk(0, 1, "f");
        AssertError(LinuxErrno.EROFS, c.Lopen(1, LopenFlags.ReadWrite));
        c.LopenOk(1, LopenFlags.ReadOnly);
        Assert.Equal("x", Encoding.UTF8.GetString(c.ReadBytes(1, 0, 10)));
        c.WalkOk(0, 2);
        AssertError(LinuxErrno.EROFS, c.Lcreate(2, "n", LopenFlags.ReadWrite));
        AssertError(LinuxErrno.EROFS, c.Rpc((w, t) => Tmkdir.Encode(w, t, 0, "d", 0x1ED, 0)));
        AssertError(LinuxErrno.EROFS, c.Rpc((w, t) => Tunlinkat.Encode(w, t, 0, "f", 0)));
        AssertError(LinuxErrno.EROFS, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 2, "user.x", 1, 0)));
    }

    /// <summary>size[4] Twalk tag[2] fid[4] newfid[4] nwname[2] nwname*(wname[s]), built by hand: the codec will not
    /// encode more than 16 names.</summary>
    private static byte[] RawWalk(P9TestClient c, uint fid, uint newfid, string[] names)
    {
        var body = new List<byte>();
        foreach (var n in names)
        {
            var b = Encoding.UTF8.GetBytes(n);
            body.Add((byte)b.Length);
            body.Add((byte)(b.Length >> 8));
            body.AddRange(b);
        }
        var frame = new byte[17 + body.Count];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)frame.Length);
        frame[4] = (byte)P9MessageType.Twalk;
        ushort tag = c.NextTag();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(5), tag);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(7), fid);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(11), newfid);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(15), (ushort)names.Length);
        body.CopyTo(frame, 17);
        c.SendRaw(frame);
        var r = c.ReceiveFrame();
        Assert.Equal(tag, TagOf(r));
        return r;
    }

    private static byte[] ReadAll(P9TestClient c, uint fid)
    {
        c.WalkOk(fid, 100);
        c.LopenOk(100, LopenFlags.ReadOnly);
        var data = c.ReadBytes(100, 0, 4000);
        c.Clunk(100);
        return data;
    }
}
