using Gofer.Server;
using Gofer.Tests.Server;
using P9.Protocol.Wire;
using static Gofer.Tests.Server.P9TestClient;

namespace Gofer.Tests.Security;

/// <summary>
/// Reference §4.4 concurrency: Tflush of an unknown tag, of itself, repeated, and racing with Tclunk/Twalk; rename
/// racing with walk (CVE-2018-19364/19489 class); ".." after the host moved a directory out of the export.
/// </summary>
public sealed class ConcurrencyTests
{
    // More than ServerOptions.InlineIoMax (64 KiB): the readdir runs on a worker, where the tests' seams hold it.
    private const uint WorkerReaddirCount = 128 * 1024;

    [Fact]
    public void Tflush_UnknownTag_AndItself_AreAnsweredRflush()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        var r = c.Rpc((w, t) => Tflush.Encode(w, t, 4242));
        AssertType(P9MessageType.Rflush, r);
        ushort self = c.NextTag();
        c.Send(w => Tflush.Encode(w, self, self));
        r = c.ReceiveFrame();
        AssertType(P9MessageType.Rflush, r);
        Assert.Equal(self, TagOf(r));
        // NOTAG as oldtag, NOTAG as its own tag.
        AssertType(P9MessageType.Rflush, c.Rpc((w, t) => Tflush.Encode(w, t, P9Constants.NoTag)));
        Raw.AssertAlive(c);
    }

    [Fact]
    public void Tflush_Repeated_OfAQueuedRequest_CancelsItOnce_AnswersEachFlushInOrder()
    {
        const ushort Held = 500;
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var options = new ServerOptions
        {
            MetadataOnWorkers = true, // the held request is a mkdir: it must run on a worker
            BeforeWorkerStart = tag =>
            {
                if (tag == Held)
                {
                    entered.Set();
                    release.Wait(TimeSpan.FromSeconds(120));
                }
            },
        };
        using var x = new ConfinedExport(options);
        using var c = x.Connect().Start();
        c.Send(w => Tmkdir.Encode(w, Held, 0, "flushed", 0x1ED, 0));
        Assert.True(entered.Wait(TimeSpan.FromSeconds(60)));
        c.Send(w => Tflush.Encode(w, 501, Held));
        c.Send(w => Tflush.Encode(w, 502, Held));
        c.Send(w => Tflush.Encode(w, 503, Held));
        var tags = Enumerable.Range(0, 3).Select(_ => c.ReceiveFrame()).Select(r => (TypeOf(r), TagOf(r))).ToArray();
        Assert.Equal(new[] { (P9MessageType.Rflush, (ushort)501), (P9MessageType.Rflush, (ushort)502), (P9MessageType.Rflush, (ushort)503) }, tags);
        release.Set();
        // The flushed request never runs and is never answered; its tag is free again.
        c.Send(w => Tgetattr.Encode(w, Held, 0, GetattrMask.Basic));
        var r2 = c.ReceiveFrame();
        AssertType(P9MessageType.Rgetattr, r2);
        Assert.Equal(Held, TagOf(r2));
        Assert.False(Directory.Exists(x.Server.Path_("flushed")));
    }

    [Fact]
    public void Tflush_OfARunningRequest_ComesAfterItsReply()
    {
        const ushort Held = 600;
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var options = new ServerOptions
        {
            MetadataOnWorkers = true, // the held request is a mkdir: it must run on a worker
            WorkerStarted = tag =>
            {
                if (tag == Held)
                {
                    entered.Set();
                    release.Wait(TimeSpan.FromSeconds(120));
                }
            },
        };
        using var x = new ConfinedExport(options);
        using var c = x.Connect().Start();
        c.Send(w => Tmkdir.Encode(w, Held, 0, "running", 0x1ED, 0));
        Assert.True(entered.Wait(TimeSpan.FromSeconds(60)));
        c.Send(w => Tflush.Encode(w, 601, Held));
        c.Send(w => Tflush.Encode(w, 602, Held));
        Raw.AssertAlive(c); // flushes pending; the connection still serves
        release.Set();
        var order = Enumerable.Range(0, 3).Select(_ => c.ReceiveFrame()).Select(r => (TypeOf(r), TagOf(r))).ToArray();
        Assert.Equal((P9MessageType.Rmkdir, Held), order[0]);
        Assert.Equal(new[] { (ushort)601, (ushort)602 }, order[1..].Select(o => o.Item2).Order());
        Assert.True(Directory.Exists(x.Server.Path_("running")));
    }

    [Fact]
    public void Tflush_RacingWithClunkAndWalk_EveryTagAnsweredOnce_NothingLeaks()
    {
        using var x = new ConfinedExport();
        for (int i = 0; i < 50; i++)
            File.WriteAllText(x.Server.Path_("dir/f" + i), "x");
        using var c = x.Connect().Start();
        for (int i = 0; i < 300; i++)
        {
            // A worker request (readdir), a flush of it, a clunk of its fid, a walk reusing the fid — all pipelined.
            c.WalkOk(0, 1, "dir");
            c.LopenOk(1, LopenFlags.ReadOnly);
            c.Send(w => Treaddir.Encode(w, 10, 1, 0, WorkerReaddirCount));
            c.Send(w => Tflush.Encode(w, 11, 10));
            c.Send(w => Tclunk.Encode(w, 12, 1));
            c.Send(w => Twalk.Encode(w, 13, 0, 1, ["dir", "sub"]));
            c.Send(w => Tflush.Encode(w, 14, 13));
            var seen = new Dictionary<ushort, P9MessageType>();
            int flushAt = -1, readdirAt = -1;
            for (int n = 0; n < 6 && !(seen.ContainsKey(11) && seen.ContainsKey(12) && seen.ContainsKey(13) && seen.ContainsKey(14)); n++)
            {
                var r = x.Clean(c.ReceiveFrame());
                Assert.True(seen.TryAdd(TagOf(r), TypeOf(r)), $"tag {TagOf(r)} answered twice");
                if (TagOf(r) == 11)
                    flushAt = n;
                if (TagOf(r) == 10)
                    readdirAt = n;
            }
            Assert.Equal(P9MessageType.Rflush, seen[11]);
            Assert.Equal(P9MessageType.Rclunk, seen[12]);
            Assert.Equal(P9MessageType.Rwalk, seen[13]); // the walk was inline: answered before its flush
            Assert.Equal(P9MessageType.Rflush, seen[14]);
            if (readdirAt >= 0)
                Assert.True(readdirAt < flushAt, "a flushed request's reply came after its Rflush");
            else
                Assert.True(seen.Count == 4);
            c.Clunk(1);
        }
        Raw.AssertAlive(c);
    }

    [Fact]
    public async Task RenameRacingWithWalk_NoCrash_NoEscape()
    {
        using var x = new ConfinedExport();
        Directory.CreateDirectory(x.Server.Path_("ra/inner"));
        File.WriteAllText(x.Server.Path_("ra/inner/leaf"), "leaf");
        using var walker = x.Connect().Start();
        using var renamer = x.Connect().Start();
        renamer.WalkOk(0, 1, "dir");

        using var stop = new CancellationTokenSource();
        var rename = Task.Run(() =>
        {
            // Moves the directory around a cycle of four places (root/ra → dir/rb → root/rb → dir/ra → root/ra)
            // through the server (Trenameat, a worker op), renaming and reparenting it under the walker's feet.
            (uint Dir, string Name)[] at = [(0, "ra"), (1, "rb"), (0, "rb"), (1, "ra")];
            int k = 0;
            while (!stop.IsCancellationRequested)
            {
                var (fromDir, from) = at[k % 4];
                var (toDir, to) = at[(k + 1) % 4];
                var r = renamer.Rpc((w, t) => Trenameat.Encode(w, t, fromDir, from, toDir, to));
                AssertType(P9MessageType.Rrenameat, r);
                k++;
            }
        });

        try
        {
            for (int i = 0; i < 1500 && !rename.IsCompleted; i++)
            {
                string[] path = (i % 4) switch
                {
                    0 => ["ra", "inner", "leaf"],
                    1 => ["rb", "inner", "..", "..", "..", ".."],
                    2 => ["dir", "ra", "inner", "leaf"],
                    _ => ["dir", "rb", "inner", "..", "..", "..", "..", ".."],
                };
                var r = x.Clean(walker.Walk(0, 2, path));
                if (TypeOf(r) == P9MessageType.Rwalk && Rwalk.TryDecode(r, out var m) == P9DecodeError.None && m.Qids.Count == path.Length)
                {
                    if (TypeOf(walker.Lopen(2, LopenFlags.ReadOnly)) == P9MessageType.Rlopen)
                        x.Clean(walker.Rpc((w, t) => Tread.Encode(w, t, 2, 0, 4096)));
                    walker.Clunk(2);
                }
                else
                {
                    Assert.True(TypeOf(r) is P9MessageType.Rwalk or P9MessageType.Rlerror, P9Trace.Format(r));
                }
            }
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAny(rename, Task.Delay(TimeSpan.FromSeconds(60)));
        }
        Assert.True(rename.IsCompletedSuccessfully, rename.Exception?.ToString());
        // ".." chains clamped: the last qid of every "..×N" walk that completed was the root (checked by Clean: no
        // outside data); both connections still serve.
        Raw.AssertAlive(walker);
        Raw.AssertAlive(renamer);
        x.AssertOutsideUntouched();
    }

    [Fact]
    public void DotDot_AfterTheHostMovedADirectoryOutside_DoesNotFollowIt()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        c.WalkOk(0, 1, "dir", "sub");
        // The host (not the sandbox) moves the directory out of the export while the fid is held.
        // Into a separate host directory beside the canary one (moving into the canary directory would itself change it).
        string away = x.Root + "-away";
        Directory.CreateDirectory(Path.Combine(away, ConfinedExport.CanaryDirName));
        File.WriteAllText(Path.Combine(away, ConfinedExport.CanaryDirName, "secret"), x.ContentMarker);
        Directory.Move(x.Server.Path_("dir"), Path.Combine(away, "moved-dir"));
        try
        {
            var r = x.Clean(c.Walk(1, 2, "..", "..", ConfinedExport.CanaryDirName));
            Assert.True(TypeOf(r) == P9MessageType.Rlerror || (Rwalk.TryDecode(r, out var m) == P9DecodeError.None && m.Qids.Count < 3),
                "walked from a moved directory up into the outside tree: " + P9Trace.Format(r));
            r = x.Clean(c.Walk(1, 3, ".."));
            if (TypeOf(r) == P9MessageType.Rwalk)
            {
                // Its parent is still inside the moved tree, not the outside root; one more ".." must not reach it.
                r = x.Clean(c.Walk(3, 4, ".."));
                AssertType(P9MessageType.Rlerror, r);
            }
        }
        finally
        {
            Directory.Move(Path.Combine(away, "moved-dir"), x.Server.Path_("dir"));
            Directory.Delete(away, recursive: true);
        }
        Raw.AssertAlive(c);
        x.AssertOutsideUntouched();
    }
}
