using System.Reflection;
using Gofer.Server;
using Microsoft.Extensions.Logging;
using P9.Protocol.Wire;
using static Gofer.Tests.Server.P9TestClient;

namespace Gofer.Tests.Server;

/// <summary>Many requests at once, Tflush, duplicate tags, back-pressure and locks across connections.</summary>
public sealed class ConcurrencyTests
{
    // More than ServerOptions.InlineIoMax (64 KiB): the readdir runs on a worker, where the tests' seams hold it.
    private const uint WorkerReaddirCount = 128 * 1024;

    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    /// <summary>Blocks the worker of one chosen tag at a test seam until released.</summary>
    private sealed class Gate : IDisposable
    {
        public volatile int Tag = -1;
        public readonly ManualResetEventSlim Entered = new();
        public readonly ManualResetEventSlim Release = new();

        public void Hook(ushort tag)
        {
            if (tag != Tag)
                return;
            Entered.Set();
            Release.Wait(Long);
        }

        public void Dispose()
        {
            Release.Set();
            Entered.Dispose();
            Release.Dispose();
        }
    }

    [Fact]
    public void ManyRequestsInFlight_AreAllAnswered_InCompletionOrder()
    {
        using var f = new ServerFixture();
        Directory.CreateDirectory(f.Path_("d"));
        for (int i = 0; i < 50; i++)
            File.WriteAllText(f.Path_($"d/f{i}"), new string('x', i));
        using var c = f.Connect().Start();
        c.WalkOk(0, 1, "d");
        c.LopenOk(1, LopenFlags.ReadOnly);
        for (uint i = 0; i < 50; i++)
            c.WalkOk(0, 100 + i, "d", "f" + i);

        // Pipeline 200 requests (inline getattrs, worker readdirs) without waiting for any reply.
        var expected = new Dictionary<ushort, P9MessageType>();
        for (int round = 0; round < 4; round++)
        {
            for (uint i = 0; i < 50; i++)
            {
                ushort tag = c.NextTag();
                bool dir = (i % 5) == 0;
                expected[tag] = dir ? P9MessageType.Rreaddir : P9MessageType.Rgetattr;
                if (dir)
                    c.Send(w => Treaddir.Encode(w, tag, 1, 0, WorkerReaddirCount));
                else
                    c.Send(w => Tgetattr.Encode(w, tag, 100 + i, GetattrMask.Basic));
            }
        }
        while (expected.Count > 0)
        {
            var r = c.ReceiveFrame();
            Assert.True(expected.Remove(TagOf(r), out var type), $"unexpected or repeated tag {TagOf(r)}");
            AssertType(type, r);
        }
    }

    [Fact]
    public void Flush_OfARequestNotStarted_CancelsIt_AndItIsNeverAnswered()
    {
        using var gate = new Gate();
        using var f = new ServerFixture(new ServerOptions { BeforeWorkerStart = gate.Hook });
        Directory.CreateDirectory(f.Path_("d"));
        using var c = f.Connect().Start();
        c.WalkOk(0, 1, "d");
        c.LopenOk(1, LopenFlags.ReadOnly);

        gate.Tag = 500;
        c.Send(w => Treaddir.Encode(w, 500, 1, 0, WorkerReaddirCount));
        Assert.True(gate.Entered.Wait(Long));
        c.Send(w => Tflush.Encode(w, 501, 500));
        var r = c.ReceiveFrame();
        AssertType(P9MessageType.Rflush, r);
        Assert.Equal(501, TagOf(r));

        gate.Release.Set();
        // The next reply on the wire is for a new request: the flushed one was never answered.
        var g = c.GetAttr(0);
        AssertType(P9MessageType.Rgetattr, g);
    }

    [Fact]
    public void Flush_OfARunningRequest_ComesAfterItsReply()
    {
        using var gate = new Gate();
        using var f = new ServerFixture(new ServerOptions { WorkerStarted = gate.Hook });
        Directory.CreateDirectory(f.Path_("d"));
        using var c = f.Connect().Start();
        c.WalkOk(0, 1, "d");
        c.LopenOk(1, LopenFlags.ReadOnly);

        gate.Tag = 600;
        c.Send(w => Treaddir.Encode(w, 600, 1, 0, WorkerReaddirCount));
        Assert.True(gate.Entered.Wait(Long));
        c.Send(w => Tflush.Encode(w, 601, 600));
        // While the request runs the server keeps serving other requests.
        AssertType(P9MessageType.Rgetattr, c.GetAttr(0));
        gate.Release.Set();
        var first = c.ReceiveFrame();
        var second = c.ReceiveFrame();
        Assert.Equal(600, TagOf(first));
        AssertType(P9MessageType.Rreaddir, first);
        Assert.Equal(601, TagOf(second));
        AssertType(P9MessageType.Rflush, second);
    }

    [Fact]
    public void Flush_OfAFidCreatingRequestThatAnswered_LeavesTheFidValid()
    {
        using var gate = new Gate();
        using var f = new ServerFixture(new ServerOptions { WorkerStarted = gate.Hook, MetadataOnWorkers = true });
        using var c = f.Connect().Start();
        c.WalkOk(0, 1);
        gate.Tag = 700;
        c.Send(w => Tlcreate.Encode(w, 700, 1, "made", LopenFlags.ReadWrite, 0x1A4, 0));
        Assert.True(gate.Entered.Wait(Long));
        c.Send(w => Tflush.Encode(w, 701, 700));
        gate.Release.Set();
        AssertType(P9MessageType.Rlcreate, c.ReceiveFrame());
        AssertType(P9MessageType.Rflush, c.ReceiveFrame());
        Assert.Equal(4u, c.WriteBytes(1, 0, "kept"u8));
    }

    [Fact]
    public void Flush_OfAnUnknownTag_IsAPlainRflush()
    {
        using var f = new ServerFixture();
        using var c = f.Connect().Start();
        AssertType(P9MessageType.Rflush, c.Rpc((w, t) => Tflush.Encode(w, t, 4242)));
    }

    [Fact]
    public void DuplicateInFlightTag_IsAnsweredWithAnError()
    {
        using var gate = new Gate();
        using var f = new ServerFixture(new ServerOptions { WorkerStarted = gate.Hook });
        Directory.CreateDirectory(f.Path_("d"));
        using var c = f.Connect().Start();
        c.WalkOk(0, 1, "d");
        c.LopenOk(1, LopenFlags.ReadOnly);
        gate.Tag = 800;
        c.Send(w => Treaddir.Encode(w, 800, 1, 0, WorkerReaddirCount));
        Assert.True(gate.Entered.Wait(Long));
        c.Send(w => Tgetattr.Encode(w, 800, 0, GetattrMask.Basic));
        var dup = c.ReceiveFrame();
        Assert.Equal(800, TagOf(dup));
        AssertError(LinuxErrno.EINVAL, dup);
        gate.Release.Set();
        var original = c.ReceiveFrame();
        Assert.Equal(800, TagOf(original));
        AssertType(P9MessageType.Rreaddir, original);
    }

    [Fact]
    public void InFlightCap_AppliesBackPressure_ThenEverythingIsAnswered()
    {
        using var gate = new Gate();
        using var f = new ServerFixture(new ServerOptions { MaxInFlight = 1, WorkerStarted = gate.Hook });
        Directory.CreateDirectory(f.Path_("d"));
        using var c = f.Connect().Start();
        c.WalkOk(0, 1, "d");
        c.LopenOk(1, LopenFlags.ReadOnly);
        gate.Tag = 900;
        c.Send(w => Treaddir.Encode(w, 900, 1, 0, WorkerReaddirCount));
        Assert.True(gate.Entered.Wait(Long));
        c.Send(w => Treaddir.Encode(w, 901, 1, 0, WorkerReaddirCount)); // no slot: the read loop waits here
        c.Send(w => Tgetattr.Encode(w, 902, 0, GetattrMask.Basic));
        gate.Release.Set();
        var tags = new HashSet<ushort> { TagOf(c.ReceiveFrame()), TagOf(c.ReceiveFrame()), TagOf(c.ReceiveFrame()) };
        Assert.Equal(new HashSet<ushort> { 900, 901, 902 }, tags);
    }

    [Fact]
    public void MidSessionVersion_EndsInFlightWork_WithoutAnsweringIt()
    {
        using var gate = new Gate();
        using var versionSeen = new ManualResetEventSlim();
        using var f = new ServerFixture(new ServerOptions { WorkerStarted = gate.Hook, VersionWaiting = versionSeen.Set });
        Directory.CreateDirectory(f.Path_("d"));
        using var c = f.Connect().Start();
        c.WalkOk(0, 1, "d");
        c.LopenOk(1, LopenFlags.ReadOnly);
        gate.Tag = 1000;
        c.Send(w => Treaddir.Encode(w, 1000, 1, 0, WorkerReaddirCount));
        Assert.True(gate.Entered.Wait(Long));
        c.Send(w => Tversion.Encode(w, P9Constants.NoTag, 8192, "9P2000.L"));
        Assert.True(versionSeen.Wait(Long)); // the server has the Tversion and waits for the running request
        gate.Release.Set();
        // The reply to the old session's request is dropped: the next frame is the Rversion.
        AssertType(P9MessageType.Rversion, c.ReceiveFrame());
        AssertError(LinuxErrno.EBADF, c.GetAttr(1));
    }

    [Fact]
    public void Locks_TwoConnections_SeeEachOthersLocks()
    {
        using var f = new ServerFixture();
        File.WriteAllText(f.Path_("lockfile"), "0123456789");
        using var a = f.Connect().Start();
        using var b = f.Connect().Start();
        a.WalkOk(0, 1, "lockfile");
        a.LopenOk(1, LopenFlags.ReadWrite);
        b.WalkOk(0, 1, "lockfile");
        b.LopenOk(1, LopenFlags.ReadWrite);

        var r = a.Rpc((w, t) => Tlock.Encode(w, t, 1, LockType.WriteLock, LockFlags.None, 0, 0, 11, "a"));
        Rlock.TryDecode(r, out var la);
        Assert.Equal(LockStatus.Success, la.Status);

        // BLOCK is answered BLOCKED at once: no thread ever waits on a lock.
        r = b.Rpc((w, t) => Tlock.Encode(w, t, 1, LockType.WriteLock, LockFlags.Block, 0, 0, 22, "b"));
        Rlock.TryDecode(r, out var lb);
        Assert.Equal(LockStatus.Blocked, lb.Status);

        r = b.Rpc((w, t) => Tgetlock.Encode(w, t, 1, LockType.ReadLock, 0, 0, 22, "b"));
        AssertType(P9MessageType.Rgetlock, r);
        Rgetlock.TryDecode(r, out var gl);
        Assert.Equal(LockType.WriteLock, gl.Type);

        r = a.Rpc((w, t) => Tlock.Encode(w, t, 1, LockType.Unlock, LockFlags.None, 0, 0, 11, "a"));
        Rlock.TryDecode(r, out la);
        Assert.Equal(LockStatus.Success, la.Status);
        r = b.Rpc((w, t) => Tlock.Encode(w, t, 1, LockType.WriteLock, LockFlags.Block, 0, 0, 22, "b"));
        Rlock.TryDecode(r, out lb);
        Assert.Equal(LockStatus.Success, lb.Status);
    }

    [Fact]
    public void LargeReadsAndWrites_OnWorkers_RoundTrip()
    {
        using var f = new ServerFixture();
        var data = new byte[900_000];
        new Random(5).NextBytes(data);
        using var c = f.Connect().Start(msize: 1 << 20);
        c.WalkOk(0, 1);
        AssertType(P9MessageType.Rlcreate, c.Lcreate(1, "big", LopenFlags.ReadWrite));
        Assert.Equal((uint)data.Length, c.WriteBytes(1, 0, data));
        Assert.Equal(data, c.ReadBytes(1, 0, (1 << 20) - 24)[..data.Length]);
    }

    [Fact]
    public void LogEventIds_AreUnique()
    {
        var ids = typeof(ServerLog).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Select(m => m.GetCustomAttribute<LoggerMessageAttribute>())
            .Where(a => a is not null)
            .Select(a => a!.EventId)
            .ToList();
        Assert.NotEmpty(ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public void Trace_LogsEveryRequestAndReply()
    {
        var sink = new ListLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(sink));
        using var f = new ServerFixture(new ServerOptions { Trace = true }, loggers: loggers);
        using (var c = f.Connect().Start())
            c.GetAttr(0);
        Assert.Contains(sink.Lines, l => l.Contains("Tgetattr tag", StringComparison.Ordinal));
        Assert.Contains(sink.Lines, l => l.Contains("Rgetattr tag", StringComparison.Ordinal));
    }

    private sealed class ListLoggerProvider : ILoggerProvider, ILogger
    {
        private readonly List<string> _lines = [];

        public List<string> Lines
        {
            get
            {
                lock (_lines)
                    return [.. _lines];
            }
        }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines)
                _lines.Add(formatter(state, exception));
        }

        public void Dispose()
        {
        }
    }
}
