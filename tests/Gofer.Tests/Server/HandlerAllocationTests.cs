using System.Buffers.Binary;
using System.IO.Pipelines;
using Gofer.HostFs;
using LopenFlags = P9.Protocol.Wire.LopenFlags;
using Gofer.Server;
using Microsoft.Extensions.Logging.Abstractions;
using P9.Protocol.Wire;

namespace Gofer.Tests.Server;

/// <summary>
/// "Steady-state serving allocates nothing per request", for the request-handling side: pre-encoded frames go straight
/// through a <see cref="Session"/>'s handlers on the test thread (no transport, no thread pool), after a warm-up, and
/// the bytes this thread allocated are divided by the requests handled. Allocation counts are deterministic, so the
/// bound is exact (&lt; 1 byte per request) rather than a timing guess. Each cycle ends where it started (fids clunked,
/// files unlinked), so what is measured is the steady state a long-lived connection reaches.
/// </summary>
public sealed class HandlerAllocationTests : IDisposable
{
    private const uint Msize = (1024 * 1024) + 24;
    private const uint RootFid = 0;
    private const uint FileFid = 1;   // a/b/c, walked
    private const uint DirFid = 2;    // dir/, walked, not opened
    private const uint ReadFid = 3;   // big, opened O_RDONLY
    private const uint WriteFid = 4;  // scratch/w, created O_RDWR
    private const uint OpenDirFid = 5; // dir/, opened
    private const uint SlotFid = 100;

    private readonly string _root;
    private readonly HostExport _export;
    private readonly Session _session;
    private readonly ReplyBuffer _out = new(2 * 1024 * 1024);
    private ushort _tag;

    public HandlerAllocationTests()
    {
        _root = Path.Combine(Path.GetTempPath(), "gofer-alloc-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(_root, "a", "b"));
        File.WriteAllText(Path.Combine(_root, "a", "b", "c"), "hello");
        Directory.CreateDirectory(Path.Combine(_root, "dir"));
        for (int i = 0; i < 200; i++)
            File.WriteAllText(Path.Combine(_root, "dir", $"f{i:D4}"), "x");
        Directory.CreateDirectory(Path.Combine(_root, "scratch"));
        File.WriteAllBytes(Path.Combine(_root, "big"), new byte[1024 * 1024]);
        Assert.Equal(Gofer.HostFs.Native.Errno.None, HostExport.TryOpen(_root, new HostExportOptions(), out var export));
        _export = export!;
        var pipe = new Pipe();
        _session = new Session(new NullDuplexPipe(pipe), _export, new ServerOptions(), NullLoggerFactory.Instance);

        Expect(Frame(s => Tattach.Encode(s, _tag, RootFid, P9Constants.NoFid, "u", "", 0)), P9MessageType.Rattach);
        Expect(Walk(RootFid, FileFid, "a", "b", "c"), P9MessageType.Rwalk);
        Expect(Walk(RootFid, DirFid, "dir"), P9MessageType.Rwalk);
        Expect(Walk(RootFid, ReadFid, "big"), P9MessageType.Rwalk);
        Expect(Frame(s => Tlopen.Encode(s, _tag, ReadFid, LopenFlags.ReadOnly)), P9MessageType.Rlopen);
        Expect(Walk(RootFid, WriteFid, "scratch"), P9MessageType.Rwalk);
        Expect(Frame(s => Tlcreate.Encode(s, _tag, WriteFid, "w", LopenFlags.ReadWrite, 0x1a4, 0)), P9MessageType.Rlcreate);
        Expect(Walk(RootFid, OpenDirFid, "dir"), P9MessageType.Rwalk);
        Expect(Frame(s => Tlopen.Encode(s, _tag, OpenDirFid, LopenFlags.ReadOnly | LopenFlags.Directory)), P9MessageType.Rlopen);
    }

    public void Dispose()
    {
        _session.Dispose();
        _export.Dispose();
        _out.Release();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void Getattr() => AssertNoAllocation([Frame(s => Tgetattr.Encode(s, 1, FileFid, GetattrMask.All))],
        [P9MessageType.Rgetattr]);

    [Fact]
    public void WalkClunk() => AssertNoAllocation(
        [Walk(RootFid, SlotFid, "a", "b", "c"), Frame(s => Tclunk.Encode(s, 1, SlotFid))],
        [P9MessageType.Rwalk, P9MessageType.Rclunk]);

    [Fact]
    public void CloneWalkClunk() => AssertNoAllocation(
        [Walk(DirFid, SlotFid), Frame(s => Tclunk.Encode(s, 1, SlotFid))],
        [P9MessageType.Rwalk, P9MessageType.Rclunk]);

    [Fact]
    public void CreateClunkUnlinkat() => AssertNoAllocation(
        [
            Walk(DirFid, SlotFid),
            Frame(s => Tlcreate.Encode(s, 1, SlotFid, "new", LopenFlags.WriteOnly | LopenFlags.Create | LopenFlags.Excl, 0x1a4, 0)),
            Frame(s => Tclunk.Encode(s, 1, SlotFid)),
            Frame(s => Tunlinkat.Encode(s, 1, DirFid, "new", 0)),
        ],
        [P9MessageType.Rwalk, P9MessageType.Rlcreate, P9MessageType.Rclunk, P9MessageType.Runlinkat]);

    [Fact]
    public void CreateRemove() => AssertNoAllocation(
        [
            Walk(DirFid, SlotFid),
            Frame(s => Tlcreate.Encode(s, 1, SlotFid, "new", LopenFlags.WriteOnly | LopenFlags.Create | LopenFlags.Excl, 0x1a4, 0)),
            Frame(s => Tremove.Encode(s, 1, SlotFid)),
        ],
        [P9MessageType.Rwalk, P9MessageType.Rlcreate, P9MessageType.Rremove]);

    [Fact]
    public void Readdir() => AssertNoAllocation(
        [Frame(s => Treaddir.Encode(s, 1, OpenDirFid, 0, 64 * 1024))],
        [P9MessageType.Rreaddir]);

    /// <summary>
    /// A whole pass over an unchanged directory from the listing cache, as a load generator makes it: Treaddir at 0
    /// (200 entries in one reply) and at the last cookie (the empty reply that ends the pass). No allocation, and no
    /// getdents64 either.
    /// </summary>
    [Fact]
    public void ReaddirPassFromTheListingCache()
    {
        Assert.NotNull(_export.DirCache); // the temporary directory is on a local filesystem
        _out.Clear();
        _session.HandleForTests(Frame(s => Treaddir.Encode(s, 1, OpenDirFid, 0, 64 * 1024)), _out, Msize);
        Assert.True(Rreaddir.TryDecode(_out.WrittenSpan, out var first) == P9DecodeError.None);
        var entries = first.Entries;
        ulong last = 0;
        int count = 0;
        while (entries.TryRead(out var e))
        {
            last = e.Offset;
            count++;
        }
        Assert.Equal(202, count);

        long getdents = _export.GetdentsCalls;
        AssertNoAllocation(
            [Frame(s => Treaddir.Encode(s, 1, OpenDirFid, 0, 64 * 1024)), Frame(s => Treaddir.Encode(s, 1, OpenDirFid, last, 64 * 1024))],
            [P9MessageType.Rreaddir, P9MessageType.Rreaddir]);
        Assert.Equal(getdents, _export.GetdentsCalls);
    }

    [Fact]
    public void OpenReaddirClunk() => AssertNoAllocation(
        [
            Walk(DirFid, SlotFid),
            Frame(s => Tlopen.Encode(s, 1, SlotFid, LopenFlags.ReadOnly | LopenFlags.Directory)),
            Frame(s => Treaddir.Encode(s, 1, SlotFid, 0, 64 * 1024)),
            Frame(s => Tclunk.Encode(s, 1, SlotFid)),
        ],
        [P9MessageType.Rwalk, P9MessageType.Rlopen, P9MessageType.Rreaddir, P9MessageType.Rclunk]);

    [Fact]
    public void Read() => AssertNoAllocation(
        [Frame(s => Tread.Encode(s, 1, ReadFid, 4096, 1024 * 1024))],
        [P9MessageType.Rread]);

    [Fact]
    public void Write() => AssertNoAllocation(
        [Frame(s => Twrite.Encode(s, 1, WriteFid, 0, new byte[1024 * 1024]))],
        [P9MessageType.Rwrite]);

    [Fact]
    public void OpenReadClunk() => AssertNoAllocation(
        [
            Walk(RootFid, SlotFid, "big"),
            Frame(s => Tlopen.Encode(s, 1, SlotFid, LopenFlags.ReadOnly)),
            Frame(s => Tread.Encode(s, 1, SlotFid, 0, 4096)),
            Frame(s => Tclunk.Encode(s, 1, SlotFid)),
        ],
        [P9MessageType.Rwalk, P9MessageType.Rlopen, P9MessageType.Rread, P9MessageType.Rclunk]);

    [Fact]
    public void StatfsAndGetattrOnRoot() => AssertNoAllocation(
        [Frame(s => Tstatfs.Encode(s, 1, RootFid)), Frame(s => Tgetattr.Encode(s, 1, RootFid, GetattrMask.Basic))],
        [P9MessageType.Rstatfs, P9MessageType.Rgetattr]);

    private void AssertNoAllocation(byte[][] cycle, P9MessageType[] expected)
    {
        const int Warmup = 2_000;
        const int Measured = 5_000;
        RunCycles(cycle, expected, Warmup); // pools, JIT tiers and buffers reach their steady sizes
        // Three windows, the least counts: something that allocates per request does so in every window, while a
        // one-off on this thread (seen once in a full run: 8 KB during the window of the getattr case, with the
        // suite's other tests running in parallel) shows up in one window only.
        long least = long.MaxValue;
        for (int attempt = 0; attempt < 3 && least > 0; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            RunCycles(cycle, expected, Measured);
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        double perRequest = least / (double)(Measured * cycle.Length);
        Assert.True(perRequest < 1, $"{perRequest:F2} bytes allocated per request ({least} bytes over {Measured * cycle.Length} requests, least of three windows)");
    }

    private void RunCycles(byte[][] cycle, P9MessageType[] expected, int count)
    {
        for (int i = 0; i < count; i++)
        {
            for (int k = 0; k < cycle.Length; k++)
            {
                _out.Clear();
                _session.HandleForTests(cycle[k], _out, Msize);
                var reply = _out.WrittenSpan;
                if (reply.Length < 7 || reply[4] != (byte)expected[k])
                    Assert.Fail($"request {k} of the cycle answered {(reply.Length >= 7 ? ((P9MessageType)reply[4]).ToString() : "nothing")}"
                        + (reply.Length >= 11 && reply[4] == (byte)P9MessageType.Rlerror ? $" errno {BinaryPrimitives.ReadUInt32LittleEndian(reply[7..])}" : ""));
            }
        }
    }

    private void Expect(byte[] frame, P9MessageType type)
    {
        _out.Clear();
        _session.HandleForTests(frame, _out, Msize);
        Assert.Equal((byte)type, _out.WrittenSpan[4]);
    }

    private delegate int Encoder(Span<byte> destination);

    private byte[] Frame(Encoder encode)
    {
        _tag++;
        var buffer = new byte[Msize];
        int n = encode(buffer);
        return buffer.AsSpan(0, n).ToArray();
    }

    private byte[] Walk(uint fid, uint newfid, params string[] names) =>
        Frame(s => Twalk.Encode(s, _tag, fid, newfid, names));

    private sealed class NullDuplexPipe(Pipe pipe) : IDuplexPipe
    {
        public PipeReader Input => pipe.Reader;

        public PipeWriter Output => pipe.Writer;
    }
}
