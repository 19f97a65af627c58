using System.Buffers.Binary;
using System.Text;
using Gofer.Server;
using Gofer.Tests.Server;
using Microsoft.Extensions.Logging;
using P9.Protocol.Wire;
using static Gofer.Tests.Server.P9TestClient;

namespace Gofer.Tests.Security;

/// <summary>
/// Framing errors close only the guilty connection (after logging why); per-connection limits (fids, in-flight,
/// msize, xattr size, symlink target, walk names) are an error for that request, never a crash; slow or silent peers
/// are dropped after the configured timeouts and hold at most one frame buffer meanwhile.
/// </summary>
public sealed class FramingAndLimitTests
{
    // ---- framing ---------------------------------------------------------------------------------------------

    public static TheoryData<string> Garbage() =>
    [
        "size<7", "size=0", "size>msize", "size=0xFFFFFFFF", "truncated string", "string past end", "trailing bytes",
        "unknown type", "R-type", "random bytes",
    ];

    private static byte[] GarbageFrame(string kind, uint msize) => kind switch
    {
        "size<7" => [4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        "size=0" => [0, 0, 0, 0, 100, 1, 0],
        "size>msize" => Raw.Frame(P9MessageType.Tgetattr, 1, new byte[msize]), // frame of msize + 7 bytes
        "size=0xFFFFFFFF" => [0xFF, 0xFF, 0xFF, 0xFF, (byte)P9MessageType.Tgetattr, 1, 0],
        // Twalk fid newfid nwname=1 wname[s] whose length says 200 but 5 bytes follow.
        "truncated string" => Raw.Frame(P9MessageType.Twalk, 1, [0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 200, 0, (byte)'a', (byte)'b', (byte)'c', (byte)'d', (byte)'e']),
        // Tlcreate fid name[s] flags mode gid: the name's length runs past the end of the frame.
        "string past end" => Raw.Frame(P9MessageType.Tlcreate, 1, [0, 0, 0, 0, 0xFF, 0xFF, (byte)'x']),
        "trailing bytes" => Raw.Frame(P9MessageType.Tgetattr, 1, [0, 0, 0, 0, 0xFF, 0x3F, 0, 0, 0, 0, 0, 0, 0xEE, 0xEE]),
        "unknown type" => Raw.Frame((P9MessageType)250, 1, [1, 2, 3]),
        "R-type" => Raw.Frame(P9MessageType.Rgetattr, 1, new byte[150]),
        "random bytes" => RandomBytes(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static byte[] RandomBytes()
    {
        var b = new byte[4096];
        new Random(4242).NextBytes(b);
        return b;
    }

    [Theory]
    [MemberData(nameof(Garbage))]
    public void Garbage_IsAnsweredOrClosesOnlyThatConnection(string kind)
    {
        using var x = new ConfinedExport();
        using var bystander = x.Connect().Start();
        using var c = x.Connect().Start();
        c.SendRaw(GarbageFrame(kind, c.Msize));
        // Either a typed error for that request (the connection lives on) or the connection is closed.
        var r = TryReceive(c);
        if (r is not null)
        {
            AssertType(P9MessageType.Rlerror, r);
            Raw.AssertAlive(c);
        }
        Raw.AssertAlive(bystander);
        using var fresh = x.Connect().Start();
        Raw.AssertAlive(fresh);
    }

    private static byte[]? TryReceive(P9TestClient c)
    {
        try
        {
            return c.Receive();
        }
        catch (System.Net.Sockets.SocketException)
        {
            return null; // reset
        }
    }

    [Fact]
    public void FramingError_ClosesOneConnection_ALongRequestOnAnotherCompletes_AndTheReasonIsLogged()
    {
        const ushort SlowTag = 777;
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var logs = new LogCapture();
        var options = new ServerOptions
        {
            MetadataOnWorkers = true, // the held request is a mkdir: it must run on a worker
            // The seam holds one request on its worker: a long-running request in flight on connection B.
            BeforeWorkerStart = tag =>
            {
                if (tag == SlowTag)
                {
                    entered.Set();
                    release.Wait(TimeSpan.FromSeconds(120));
                }
            },
        };
        using var x = new ConfinedExport(options, loggers: logs);
        using var a = x.Connect().Start();
        using var b = x.Connect().Start();

        b.Send(w => Tmkdir.Encode(w, SlowTag, 0, "made-while-a-died", 0x1ED, 0));
        Assert.True(entered.Wait(TimeSpan.FromSeconds(60)));

        a.SendRaw([3, 0, 0, 0, 0xDE, 0xAD, 0xBE]);
        Assert.True(a.WaitClosed());

        // B is unaffected: inline requests are answered while its slow request is still held...
        Raw.AssertAlive(b);
        release.Set();
        // ...and the slow one completes.
        var r = b.ReceiveFrame();
        Assert.Equal(SlowTag, TagOf(r));
        AssertType(P9MessageType.Rmkdir, r);
        Assert.True(Directory.Exists(x.Server.Path_("made-while-a-died")));

        // Exactly one connection was dropped, with a reason.
        var dropped = logs.Entries.Where(e => e.EventId == 1003).ToArray();
        Assert.Single(dropped);
        Assert.Equal(LogLevel.Warning, dropped[0].Level);
        Assert.Matches("dropped: .+", dropped[0].Message);
    }

    // ---- slow and silent peers -------------------------------------------------------------------------------

    [Fact]
    public void SilentPeer_IsDroppedAfterTheVersionTimeout()
    {
        var options = new ServerOptions { VersionTimeout = TimeSpan.FromSeconds(2), WatchdogPeriod = TimeSpan.FromMilliseconds(100) };
        using var x = new ConfinedExport(options);
        using var silent = x.Connect();
        using var other = x.Connect().Start();
        Assert.True(silent.WaitClosed()); // bounded by the client's 60 s receive timeout
        Raw.AssertAlive(other);
    }

    [Fact]
    public async Task TricklingPeer_IsDroppedAfterThePartialFrameTimeout_OthersServedMeanwhile()
    {
        var logs = new LogCapture();
        var options = new ServerOptions
        {
            PartialFrameTimeout = TimeSpan.FromSeconds(1),
            WatchdogPeriod = TimeSpan.FromMilliseconds(100),
            MaxMsize = 65536,
        };
        using var x = new ConfinedExport(options, loggers: logs);
        using var slow = x.Connect().Start();
        using var other = x.Connect().Start();

        // A legal header for a full msize frame (a Twrite), then one byte at a time: never completes.
        var header = new byte[7];
        BinaryPrimitives.WriteUInt32LittleEndian(header, slow.Msize);
        header[4] = (byte)P9MessageType.Twrite;
        slow.SendRaw(header);
        using var stop = new CancellationTokenSource();
        var drip = Task.Run(() =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    slow.SendRaw([0]);
                    Raw.AssertAlive(other); // another client is served while the drip goes on
                    Thread.Sleep(100);
                }
            }
            catch (System.Net.Sockets.SocketException)
            {
                // the server dropped us: expected
            }
        });
        Assert.True(slow.WaitClosed());
        stop.Cancel();
        await Task.WhenAny(drip, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(drip.IsCompletedSuccessfully, drip.Exception?.ToString());
        Raw.AssertAlive(other);
        Assert.Contains(logs.Entries, e => e.EventId == 1003 && e.Message.Contains("timeout", StringComparison.Ordinal));
    }

    [Fact]
    public void HugeSizeHeader_IsRefusedBeforeAnyBodyArrives()
    {
        // 16 MiB announced: the server must not wait for (or allocate) it; it closes at once.
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        c.SendRaw([0, 0, 0, 1, (byte)P9MessageType.Twrite, 1, 0]);
        Assert.True(c.WaitClosed());
    }

    // ---- msize ----------------------------------------------------------------------------------------------

    [Fact]
    public void Msize_IsNegotiatedDown_TinyIsRefused_AndFramesAboveItClose()
    {
        using var x = new ConfinedExport(new ServerOptions { MaxMsize = 65536 });
        using var c = x.Connect();
        AssertError(LinuxErrno.EMSGSIZE, c.Version(0));
        AssertError(LinuxErrno.EMSGSIZE, c.Version(4095));
        AssertType(P9MessageType.Rversion, c.Version(uint.MaxValue));
        Assert.Equal(65536u, c.Msize);
        AssertType(P9MessageType.Rversion, c.Version(1u << 30));
        Assert.Equal(65536u, c.Msize);
        c.Attach(0);
        // A read asking for more than msize allows is clamped: the reply never exceeds msize.
        File.WriteAllBytes(x.Server.Path_("big"), new byte[200_000]);
        c.WalkOk(0, 1, "big");
        c.LopenOk(1, LopenFlags.ReadOnly);
        var r = c.Rpc((w, t) => Tread.Encode(w, t, 1, 0, uint.MaxValue));
        AssertType(P9MessageType.Rread, r);
        Assert.InRange(r.Length, 12, 65536);
        c.SendRaw(Raw.Frame(P9MessageType.Tgetattr, 5, new byte[65536 - 7 + 1]));
        Assert.True(c.WaitClosed());
    }

    // ---- fids and in-flight ----------------------------------------------------------------------------------

    [Fact]
    public void FidLimit_IsEmfile_ThenUsableAgainAfterClunk()
    {
        using var x = new ConfinedExport(new ServerOptions { MaxFids = 8 });
        using var c = x.Connect().Start();
        for (uint i = 1; i < 8; i++)
            c.WalkOk(0, i);
        AssertError(LinuxErrno.EMFILE, c.Walk(0, 100));
        AssertError(LinuxErrno.EMFILE, c.Rpc((w, t) => Txattrwalk.Encode(w, t, 0, 101, "")));
        AssertError(LinuxErrno.EMFILE, c.Rpc((w, t) => Tattach.Encode(w, t, 102, P9Constants.NoFid, "root", "", 0)));
        AssertType(P9MessageType.Rclunk, c.Clunk(7));
        c.WalkOk(0, 100);
        Raw.AssertAlive(c);
    }

    [Fact]
    public void InFlightLimit_HoldsNoMoreThanTheCap_AndEverythingIsAnsweredAfterwards()
    {
        const int Cap = 2, Sent = 40;
        int waiting = 0, peak = 0;
        using var release = new ManualResetEventSlim();
        var options = new ServerOptions
        {
            MaxInFlight = Cap,
            MetadataOnWorkers = true, // the requests held are mkdirs: they must run on workers
            BeforeWorkerStart = _ =>
            {
                int now = Interlocked.Increment(ref waiting);
                int p;
                while ((p = Volatile.Read(ref peak)) < now && Interlocked.CompareExchange(ref peak, now, p) != p)
                {
                }
                release.Wait(TimeSpan.FromSeconds(120));
                Interlocked.Decrement(ref waiting);
            },
        };
        using var x = new ConfinedExport(options);
        using var c = x.Connect().Start();
        for (int i = 0; i < Sent; i++)
        {
            int n = i;
            c.Send(w => Tmkdir.Encode(w, (ushort)(1000 + n), 0, "d" + n, 0x1ED, 0));
        }
        SpinWait.SpinUntil(() => Volatile.Read(ref waiting) == Cap, TimeSpan.FromSeconds(60));
        Thread.Sleep(300); // give an over-eager server the chance to start more; the cap must still hold
        Assert.Equal(Cap, Volatile.Read(ref peak));
        release.Set();
        var tags = new HashSet<ushort>();
        for (int i = 0; i < Sent; i++)
        {
            var r = c.ReceiveFrame();
            AssertType(P9MessageType.Rmkdir, r);
            Assert.True(tags.Add(TagOf(r)));
        }
        Assert.Equal(Cap, peak);
        Raw.AssertAlive(c);
    }

    // ---- walk, symlink target, xattr size --------------------------------------------------------------------

    [Fact]
    public void WalkNames_SixteenOk_SeventeenAnd65535Refused()
    {
        using var x = new ConfinedExport(new ServerOptions { MaxMsize = 1024 * 1024 });
        using var c = x.Connect().Start(1024 * 1024);
        var dot = "."u8.ToArray();
        AssertType(P9MessageType.Rwalk, Raw.WalkRpc(c, 0, 1, Enumerable.Repeat(dot, 16).ToArray()));
        AssertError(LinuxErrno.EINVAL, Raw.WalkRpc(c, 0, 2, Enumerable.Repeat(dot, 17).ToArray()));
        AssertError(LinuxErrno.EINVAL, Raw.WalkRpc(c, 0, 3, Enumerable.Repeat(dot, 65535).ToArray()));
        // nwname says 65535 but only one name follows.
        ushort tag = c.NextTag();
        c.SendRaw(Raw.Walk(tag, 0, 4, [dot], nwname: 65535));
        AssertType(P9MessageType.Rlerror, c.ReceiveFrame());
        foreach (uint fid in new uint[] { 2, 3, 4 })
            AssertError(LinuxErrno.EBADF, c.GetAttr(fid));
        Raw.AssertAlive(c);
    }

    [Fact]
    public void SymlinkTarget_Over4096_IsEnametoolong_StoredVerbatimBelow()
    {
        using var x = new ConfinedExport(new ServerOptions { MaxMsize = 256 * 1024 });
        using var c = x.Connect().Start(256 * 1024);
        string ok = string.Concat(Enumerable.Repeat("../x/", 819)); // 4095 bytes, the most Linux stores
        Assert.Equal(4095, ok.Length);
        AssertType(P9MessageType.Rsymlink, c.Rpc((w, t) => Tsymlink.Encode(w, t, 0, "long", ok, 0)));
        Assert.Equal(ok, new FileInfo(x.Server.Path_("long")).LinkTarget);
        foreach (int n in new[] { 4097, 60_000, 65_535 })
        {
            var r = c.Rpc((w, t) => Tsymlink.Encode(w, t, 0, Encoding.ASCII.GetBytes("toolong" + n), Encoding.ASCII.GetBytes(new string('t', n)), 0));
            AssertError(LinuxErrno.ENAMETOOLONG, r);
        }
        Assert.Empty(Directory.GetFileSystemEntries(x.Root, "toolong*"));
        Raw.AssertAlive(c);
    }

    [Fact]
    public void XattrValue_Above64KiB_IsE2big_AndManyXattrFidsAreBoundedByTheFidCap()
    {
        using var x = new ConfinedExport(new ServerOptions { MaxFids = 64 });
        using var c = x.Connect().Start();
        c.WalkOk(0, 1, "file");
        AssertError(LinuxErrno.E2BIG, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 1, "user.big", (64 * 1024) + 1, 0)));
        AssertError(LinuxErrno.E2BIG, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 1, "user.big", ulong.MaxValue, 0)));
        AssertError(LinuxErrno.E2BIG, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 1, "user.big", 1UL << 32, 0)));
        AssertType(P9MessageType.Rxattrcreate, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 1, "user.max", 64 * 1024, 0)));
        c.Clunk(1);
        // Flags other than CREATE/REPLACE.
        c.WalkOk(0, 2, "file");
        AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 2, "user.f", 1, 4)));
        // At most MaxFids × 64 KiB can be held: the 64th fid is refused.
        uint fid = 10;
        uint errno = 0;
        for (int i = 0; i < 100 && errno == 0; i++, fid++)
        {
            var r = c.Walk(0, fid, "file");
            if (TypeOf(r) != P9MessageType.Rwalk)
            {
                errno = ErrnoOf(r);
                break;
            }
            AssertType(P9MessageType.Rxattrcreate, c.Rpc((w, t) => Txattrcreate.Encode(w, t, fid, "user.m", 64 * 1024, 0)));
        }
        Assert.Equal(LinuxErrno.EMFILE, errno);
        Raw.AssertAlive(c);
    }

    [Fact]
    public void XattrBytes_HeldByOneConnection_AreBounded_AndGivenBackAtClunk()
    {
        // Four 1 KiB values fit in a 4 KiB budget; the fifth xattr fid is ENOSPC, whatever the fid cap. (Small values:
        // the host's own limit — one block on ext4 — applies at clunk.)
        using var x = new ConfinedExport(new ServerOptions { MaxXattrBytes = 4096 });
        using var c = x.Connect().Start();
        for (uint fid = 10; fid < 14; fid++)
        {
            c.WalkOk(0, fid, "file");
            AssertType(P9MessageType.Rxattrcreate, c.Rpc((w, t) => Txattrcreate.Encode(w, t, fid, "user.m", 1024, 0)));
        }
        c.WalkOk(0, 14, "file");
        AssertError(LinuxErrno.ENOSPC, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 14, "user.m", 1024, 0)));

        // A second Txattrcreate on a fid that is already an xattr fid is refused, so nothing leaks (cf. CVE-2016-9102).
        AssertError(LinuxErrno.EBADF, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 13, "user.m", 1024, 0)));

        // Txattrwalk results count too: nothing is left for one.
        AssertType(P9MessageType.Rclunk, c.Clunk(13)); // sets a zero-filled user.m on the file, frees its 1 KiB
        c.WalkOk(0, 20, "file");
        AssertType(P9MessageType.Rxattrcreate, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 20, "user.n", 1024, 0)));
        c.WalkOk(0, 30, "file");
        AssertError(LinuxErrno.ENOSPC, c.Rpc((w, t) => Txattrwalk.Encode(w, t, 30, 21, "user.m")));

        // Clunking gives the bytes back.
        AssertType(P9MessageType.Rclunk, c.Clunk(10));
        AssertType(P9MessageType.Rxattrwalk, c.Rpc((w, t) => Txattrwalk.Encode(w, t, 30, 21, "user.m")));
        Raw.AssertAlive(c);
    }
}
