using System.Buffers.Binary;
using Gofer.Server;
using P9.Protocol.Wire;
using static Gofer.Tests.Server.P9TestClient;

namespace Gofer.Tests.Server;

/// <summary>Version, attach, tags, framing and limits: the session rules (reference §2), over real Unix sockets.</summary>
public sealed class SessionTests
{
    [Fact]
    public void Version_DotL_IsAnsweredWithMinMsize_AnyTag()
    {
        using var f = new ServerFixture(new ServerOptions { MaxMsize = 65536 + 24 });
        using var c = f.Connect();
        c.Send(w => Tversion.Encode(w, 7, 1 << 20, "9P2000.L"));
        var r = c.ReceiveFrame();
        AssertType(P9MessageType.Rversion, r);
        Assert.Equal(7, TagOf(r));
        Rversion.TryDecode(r, out var m);
        Assert.Equal(65536u + 24, m.Msize);
        Assert.True(m.Version.SequenceEqual("9P2000.L"u8));
    }

    [Theory]
    [InlineData("9P2000.L.Google.3", "9P2000.L")]
    [InlineData("9P2000", "unknown")]
    [InlineData("9P2000.u", "unknown")]
    [InlineData("9P2000.Lx", "unknown")]
    public void Version_Strings(string offered, string answered)
    {
        using var f = new ServerFixture();
        using var c = f.Connect();
        var r = c.Version(8192, offered);
        AssertType(P9MessageType.Rversion, r);
        Rversion.TryDecode(r, out var m);
        Assert.Equal(answered, System.Text.Encoding.UTF8.GetString(m.Version));
    }

    [Fact]
    public void Version_MsizeBelow4096_IsAnError()
    {
        using var f = new ServerFixture();
        using var c = f.Connect();
        AssertError(LinuxErrno.EMSGSIZE, c.Version(4095));
        AssertType(P9MessageType.Rversion, c.Version(4096)); // the connection is still usable
    }

    [Fact]
    public void RequestsBeforeVersion_AreRefused_NotCrashed()
    {
        using var f = new ServerFixture();
        using var c = f.Connect();
        var r = c.Rpc((w, t) => Tattach.Encode(w, t, 0, P9Constants.NoFid, "root", "", 0));
        AssertError(LinuxErrno.EPROTO, r);
        c.Start();
    }

    [Fact]
    public void Attach_Aname_RootSlashAndSubdirectory_AndMissing()
    {
        using var f = new ServerFixture();
        Directory.CreateDirectory(f.Path_("a/b"));
        File.WriteAllText(f.Path_("a/b/file"), "x");
        using var c = f.Connect();
        c.Version();
        var root = c.Attach(0, "");
        Assert.Equal(root, c.Attach(1, "/"));
        var sub = c.Attach(2, "/a/b");
        Assert.NotEqual(root, sub);
        Assert.Equal(QidType.Dir, sub.Type);
        c.WalkOk(2, 3, "file");
        AssertError(LinuxErrno.ENOENT, c.Rpc((w, t) => Tattach.Encode(w, t, 4, P9Constants.NoFid, "root", "/nope", 0)));
        // aname is a path inside the export, never a host path: ".." cannot climb out.
        Assert.Equal(root, c.Attach(5, "/../../.."));
        // in-use fid
        AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Tattach.Encode(w, t, 0, P9Constants.NoFid, "root", "", 0)));
    }

    [Fact]
    public void Tauth_IsRefusedLikeDiod()
    {
        using var f = new ServerFixture();
        using var c = f.Connect();
        c.Version();
        AssertError(LinuxErrno.ENOENT, c.Rpc((w, t) => Tauth.Encode(w, t, 1, "root", "", 0)));
    }

    [Fact]
    public void UnknownAndDroppedTypes_GetEopnotsupp_ReplyTypesClose()
    {
        using var f = new ServerFixture();
        using var c = f.Connect().Start();
        // Well-framed unknown type 250 and 9P2000's Tstat (124): answered EOPNOTSUPP, connection lives on.
        foreach (byte type in new byte[] { 250, 124, 112 })
        {
            var frame = new byte[11];
            BinaryPrimitives.WriteUInt32LittleEndian(frame, 11);
            frame[4] = type;
            BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(5), 9);
            c.SendRaw(frame);
            var r = c.ReceiveFrame();
            Assert.Equal(9, TagOf(r));
            AssertError(LinuxErrno.EOPNOTSUPP, r);
        }
        c.GetAttrOf(c.GetAttr(0));

        // An R-message from a client means the stream is not a 9P client: close.
        c.Send(w => Rclunk.Encode(w, 3));
        Assert.True(c.WaitClosed());
    }

    [Fact]
    public void FramingError_ClosesOnlyThatConnection()
    {
        using var f = new ServerFixture();
        using var good = f.Connect().Start();
        using var bad = f.Connect().Start();
        bad.SendRaw([3, 0, 0, 0, 100, 0, 0]); // size 3 < 7
        Assert.True(bad.WaitClosed());
        using var huge = f.Connect().Start();
        huge.SendRaw([0xFF, 0xFF, 0xFF, 0x7F, 24, 1, 0]); // size far above msize
        Assert.True(huge.WaitClosed());
        good.GetAttrOf(good.GetAttr(0));
    }

    [Fact]
    public void BadBody_IsAnsweredEinval_AndTheSessionContinues()
    {
        using var f = new ServerFixture();
        using var c = f.Connect().Start();
        // Tclunk with a 2-byte body instead of fid[4]: frame intact, body short.
        c.SendRaw([9, 0, 0, 0, (byte)P9MessageType.Tclunk, 5, 0, 1, 2]);
        var r = c.ReceiveFrame();
        Assert.Equal(5, TagOf(r));
        AssertError(LinuxErrno.EINVAL, r);
        c.GetAttrOf(c.GetAttr(0));
    }

    [Fact]
    public void ClunkUnknownFid_IsAnError_NotADroppedConnection()
    {
        using var f = new ServerFixture();
        using var c = f.Connect().Start();
        AssertError(LinuxErrno.EBADF, c.Clunk(0x7777));
        AssertType(P9MessageType.Rclunk, c.Clunk(0));
        AssertError(LinuxErrno.EBADF, c.Clunk(0)); // a clunked fid is gone
        AssertError(LinuxErrno.EBADF, c.GetAttr(0));
    }

    [Fact]
    public void MidSessionVersion_ClunksEveryFid()
    {
        using var f = new ServerFixture();
        Directory.CreateDirectory(f.Path_("d"));
        using var c = f.Connect().Start();
        c.WalkOk(0, 1, "d");
        AssertType(P9MessageType.Rversion, c.Version(8192));
        Assert.Equal(8192u, c.Msize);
        AssertError(LinuxErrno.EBADF, c.GetAttr(1));
        AssertError(LinuxErrno.EBADF, c.GetAttr(0));
        c.Attach(0);
        c.WalkOk(0, 1, "d");
    }

    [Fact]
    public void FidLimit_GivesEmfile()
    {
        using var f = new ServerFixture(new ServerOptions { MaxFids = 4 });
        using var c = f.Connect().Start();
        c.WalkOk(0, 1);
        c.WalkOk(0, 2);
        c.WalkOk(0, 3);
        AssertError(LinuxErrno.EMFILE, c.Walk(0, 4));
        AssertType(P9MessageType.Rclunk, c.Clunk(3));
        c.WalkOk(0, 4);
    }

    [Fact]
    public void PartialFrame_IsDroppedAfterTheTimeout()
    {
        var options = new ServerOptions { PartialFrameTimeout = TimeSpan.FromMilliseconds(300), WatchdogPeriod = TimeSpan.FromMilliseconds(100) };
        using var f = new ServerFixture(options);
        using var c = f.Connect().Start();
        using var other = f.Connect().Start();
        c.SendRaw([100, 0, 0, 0, (byte)P9MessageType.Twalk, 1, 0, 0, 0]); // a header promising 100 bytes, then nothing
        Assert.True(c.WaitClosed());
        other.GetAttrOf(other.GetAttr(0));
    }

    [Fact]
    public void SilentPeer_IsDroppedBeforeVersion()
    {
        var options = new ServerOptions { VersionTimeout = TimeSpan.FromMilliseconds(300), WatchdogPeriod = TimeSpan.FromMilliseconds(100) };
        using var f = new ServerFixture(options);
        using var c = f.Connect();
        Assert.True(c.WaitClosed());
    }

    [Fact]
    public async Task InMemoryPipe_FrameSplitAcrossWrites_IsReassembled()
    {
        using var f = new ServerFixture();
        var (session, client) = f.ConnectInMemory();
        var frame = new byte[Tversion.GetFrameSize("9P2000.L")];
        Tversion.Encode(frame, P9Constants.NoTag, 8192, "9P2000.L");
        foreach (var b in frame)
        {
            await client.Output.WriteAsync(new[] { b });
        }
        var read = await client.Input.ReadAtLeastAsync(frame.Length);
        var reply = System.Buffers.BuffersExtensions.ToArray(read.Buffer.Slice(0, BinaryPrimitives.ReadUInt32LittleEndian(read.Buffer.FirstSpan)));
        client.Input.AdvanceTo(read.Buffer.GetPosition(reply.Length));
        AssertType(P9MessageType.Rversion, reply);
        await client.Output.CompleteAsync();
        await session.WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void Msize_BoundsReplies()
    {
        using var f = new ServerFixture();
        File.WriteAllBytes(f.Path_("big"), new byte[100_000]);
        using var c = f.Connect().Start(msize: 4096);
        c.WalkOk(0, 1, "big");
        c.LopenOk(1, LopenFlags.ReadOnly);
        // Asking for more than fits: clamped, never a reply of more than msize.
        var r = c.Rpc((w, t) => Tread.Encode(w, t, 1, 0, 1 << 20));
        AssertType(P9MessageType.Rread, r);
        Assert.True(r.Length <= 4096);
        Assert.Equal(4096 - 11, r.Length - 11);
    }
}
