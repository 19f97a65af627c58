using System.Text;
using P9.Protocol.Wire;
using static Gofer.Tests.Server.P9TestClient;

namespace Gofer.Tests.Server;

public sealed class XattrAndDirTests : IDisposable
{
    private readonly ServerFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void Xattr_Set_Get_List_Remove_ExactSizes()
    {
        File.WriteAllText(_f.Path_("f"), "x");
        using var c = _f.Connect().Start();

        // Set: Txattrcreate turns the fid into the value, Twrite fills it, Tclunk applies it.
        c.WalkOk(0, 1, "f");
        AssertType(P9MessageType.Rxattrcreate, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 1, "user.color", 4, 0)));
        Assert.Equal(4u, c.WriteBytes(1, 0, "blue"u8));
        AssertType(P9MessageType.Rclunk, c.Clunk(1));

        // Get: size probe then read.
        c.WalkOk(0, 2, "f");
        var r = c.Rpc((w, t) => Txattrwalk.Encode(w, t, 2, 3, "user.color"));
        AssertType(P9MessageType.Rxattrwalk, r);
        Rxattrwalk.TryDecode(r, out var xw);
        Assert.Equal(4ul, xw.Size);
        Assert.Equal("blue", Encoding.UTF8.GetString(c.ReadBytes(3, 0, 100)));
        Assert.Equal("ue", Encoding.UTF8.GetString(c.ReadBytes(3, 2, 100)));
        c.Clunk(3);

        // List: empty name.
        r = c.Rpc((w, t) => Txattrwalk.Encode(w, t, 2, 4, ""));
        AssertType(P9MessageType.Rxattrwalk, r);
        Assert.Contains("user.color\0", Encoding.UTF8.GetString(c.ReadBytes(4, 0, 1000)));
        c.Clunk(4);

        // Missing attribute: ENODATA.
        AssertError(LinuxErrno.ENODATA, c.Rpc((w, t) => Txattrwalk.Encode(w, t, 2, 5, "user.none")));

        // Unwritten parts of a declared value are zeros; a write past attr_size is refused.
        c.WalkOk(0, 6, "f");
        AssertType(P9MessageType.Rxattrcreate, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 6, "user.zeros", 3, 0)));
        AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Twrite.Encode(w, t, 6, 2, "toolong"u8)));
        AssertType(P9MessageType.Rclunk, c.Clunk(6));
        c.Rpc((w, t) => Txattrwalk.Encode(w, t, 2, 7, "user.zeros"));
        Assert.Equal(new byte[3], c.ReadBytes(7, 0, 10));
        c.Clunk(7);

        // Remove: attr_size 0.
        c.WalkOk(0, 8, "f");
        AssertType(P9MessageType.Rxattrcreate, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 8, "user.color", 0, 0)));
        AssertType(P9MessageType.Rclunk, c.Clunk(8));
        AssertError(LinuxErrno.ENODATA, c.Rpc((w, t) => Txattrwalk.Encode(w, t, 2, 9, "user.color")));

        // Limits: more than 64 KiB is E2BIG; XATTR_CREATE on an existing name fails at clunk, and the fid is gone.
        c.WalkOk(0, 10, "f");
        AssertError(LinuxErrno.E2BIG, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 10, "user.big", (64 * 1024) + 1, 0)));
        AssertType(P9MessageType.Rxattrcreate, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 10, "user.zeros", 1, XattrFlags.Create)));
        AssertError(LinuxErrno.EEXIST, c.Clunk(10));
        AssertError(LinuxErrno.EBADF, c.Clunk(10));
    }

    [Fact]
    public void Readdir_CookiesReplayAfterSeek_WholeEntriesOnly()
    {
        Directory.CreateDirectory(_f.Path_("d"));
        for (int i = 0; i < 300; i++)
            File.WriteAllText(_f.Path_($"d/entry-with-a-longish-name-{i:D4}"), "");
        using var c = _f.Connect().Start();
        c.WalkOk(0, 1, "d");
        c.LopenOk(1, LopenFlags.ReadOnly);
        var all = c.ReadDirAll(1, count: 700); // small counts: many replies, entries never split
        var names = all.Select(e => e.Name).ToList();
        Assert.Contains(".", names);
        Assert.Contains("..", names);
        Assert.Equal(302, names.Count);
        Assert.Equal(302, names.Distinct().Count());

        // Replay from a cookie in the middle (a seek back): the same tail comes again.
        int k = 123;
        var tail = c.ReadDirAll(1, count: 4096, start: all[k].Offset);
        Assert.Equal(all.Skip(k + 1).Select(e => e.Name), tail.Select(e => e.Name));
        // And from 0 again.
        Assert.Equal(names, c.ReadDirAll(1, count: 8192).Select(e => e.Name));

        // A count too small for even one entry is an error, not an "end of directory".
        AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Treaddir.Encode(w, t, 1, 0, 10)));
    }

    [Fact]
    public void Readdir_HundredThousandEntries_AreAllListed()
    {
        string dir = _f.Path_("many");
        Directory.CreateDirectory(dir);
        for (int i = 0; i < 100_000; i++)
            File.Create(Path.Combine(dir, i.ToString(System.Globalization.CultureInfo.InvariantCulture))).Dispose();
        using var c = _f.Connect().Start(msize: 1 << 20);
        c.WalkOk(0, 1, "many");
        c.LopenOk(1, LopenFlags.ReadOnly);
        var all = c.ReadDirAll(1, count: (1 << 20) - 24);
        Assert.Equal(100_002, all.Count);
        Assert.Equal(100_002, all.Select(e => e.Name).Distinct().Count());
        Assert.Equal(100_002, all.Select(e => e.Qid.Path).Distinct().Count());
    }
}
