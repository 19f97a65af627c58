using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using Gofer.Server;

namespace Gofer.Tests.Server;

/// <summary>
/// The socket transport under the session (<see cref="SocketPipe"/>), over real socketpairs: frames arrive whole and
/// contiguous however the peer splits them, "examined" is honoured, a pending read can be cancelled, and the writer
/// survives a slow reader and reports a dead one.
/// </summary>
public sealed class SocketPipeTests
{
    /// <summary>A connected Unix socket pair with a <see cref="SocketPipe"/> over our end; Dispose completes it and closes both.</summary>
    private sealed class Connected : IDisposable
    {
        public Connected(uint maxFrame)
        {
            var path = Path.Combine(Path.GetTempPath(), "gofer-sp-" + Guid.NewGuid().ToString("N")[..12] + ".sock");
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            Peer = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            Peer.Connect(new UnixDomainSocketEndPoint(path));
            Ours = listener.Accept();
            File.Delete(path);
            Pipe = new SocketPipe(Ours, maxFrame);
        }

        public Socket Ours { get; }

        public Socket Peer { get; }

        public SocketPipe Pipe { get; }

        public void Dispose()
        {
            Pipe.Input.Complete();
            Pipe.Output.Complete();
            Ours.Dispose();
            Peer.Dispose();
        }
    }

    private static byte[] Frame(int size, byte fill)
    {
        var f = new byte[size];
        f.AsSpan().Fill(fill);
        BinaryPrimitives.WriteUInt32LittleEndian(f, (uint)size);
        return f;
    }

    /// <summary>Reads until one whole frame is buffered (the session's loop, reduced); returns it and consumes it.</summary>
    private static async Task<byte[]> ReadFrameAsync(PipeReader reader)
    {
        while (true)
        {
            var result = await reader.ReadAsync();
            var buffer = result.Buffer;
            Assert.True(buffer.IsSingleSegment, "the reader always hands out one contiguous buffer");
            if (buffer.Length >= 4)
            {
                int size = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer.FirstSpan);
                if (buffer.Length >= size)
                {
                    var frame = buffer.Slice(0, size).ToArray();
                    reader.AdvanceTo(buffer.GetPosition(size));
                    return frame;
                }
            }
            Assert.False(result.IsCompleted, "the peer closed before the frame was whole");
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    [Fact]
    public async Task Frames_ArriveWholeAndContiguous_HoweverThePeerSplitsThem()
    {
        using var c = new Connected(maxFrame: 1024 * 1024 + 24);
        var (pipe, peer) = (c.Pipe, c.Peer);

        // Small, just-over-the-initial-buffer and msize-sized frames, sent in odd pieces (byte by byte for one).
        var frames = new[] { Frame(23, 1), Frame(70_000, 2), Frame(11, 3), Frame(1024 * 1024 + 24, 4), Frame(4096, 5), Frame(300_000, 6) };
        var all = frames.SelectMany(f => f).ToArray();
        var sender = Task.Run(() =>
        {
            var rng = new Random(7);
            int at = 0;
            while (at < all.Length)
            {
                int n = at < 40 ? 1 : Math.Min(all.Length - at, rng.Next(1, 200_000));
                peer.Send(all.AsSpan(at, n));
                at += n;
            }
        });

        foreach (var expected in frames)
            Assert.Equal(expected, await ReadFrameAsync(pipe.Input));
        await sender;
    }

    [Fact]
    public async Task ExaminedShortOfTheEnd_NextReadReturnsAtOnce_WithTheSameBytes()
    {
        using var c = new Connected(maxFrame: 8192);
        var (pipe, peer) = (c.Pipe, c.Peer);
        peer.Send(Frame(100, 9));

        var first = await pipe.Input.ReadAsync();
        while (first.Buffer.Length < 100)
        {
            pipe.Input.AdvanceTo(first.Buffer.Start, first.Buffer.End);
            first = await pipe.Input.ReadAsync();
        }
        pipe.Input.AdvanceTo(first.Buffer.Start, first.Buffer.Start); // looked at nothing: must not wait for more data

        var pending = pipe.Input.ReadAsync().AsTask();
        Assert.True(pending.IsCompletedSuccessfully, "data not yet examined is handed back without receiving");
        var again = await pending;
        Assert.Equal(100, again.Buffer.Length);
        pipe.Input.AdvanceTo(again.Buffer.End);
    }

    [Fact]
    public async Task CancelPendingRead_WakesAReceiveWaitingOnTheSocket()
    {
        using var c = new Connected(maxFrame: 8192);
        var (pipe, peer) = (c.Pipe, c.Peer);

        var pending = pipe.Input.ReadAsync().AsTask();
        await Task.Delay(100);
        Assert.False(pending.IsCompleted, "nothing was sent: the read waits");
        pipe.Input.CancelPendingRead();
        var result = await pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(result.IsCanceled);
    }

    [Fact]
    public async Task CancelPendingRead_BeforeTheRead_MakesTheNextReadCancelled()
    {
        using var c = new Connected(maxFrame: 8192);
        var (pipe, peer) = (c.Pipe, c.Peer);
        pipe.Input.CancelPendingRead();
        var result = await pipe.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(result.IsCanceled);
    }

    [Fact]
    public async Task PeerClose_CompletesTheReader_WithWhatArrived()
    {
        using var c = new Connected(maxFrame: 8192);
        var (pipe, peer) = (c.Pipe, c.Peer);
        peer.Send(new byte[] { 1, 2, 3 });
        peer.Dispose();

        ReadResult result;
        while (true)
        {
            result = await pipe.Input.ReadAsync();
            if (result.IsCompleted)
                break;
            pipe.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
        Assert.Equal(3, result.Buffer.Length);
        pipe.Input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task Writer_BigFlushToASlowReader_CompletesOnceDrained_BytesIntact()
    {
        using var c = new Connected(maxFrame: 8192);
        var (pipe, peer) = (c.Pipe, c.Peer);
        var data = new byte[8 * 1024 * 1024];
        new Random(3).NextBytes(data);

        data.CopyTo(pipe.Output.GetSpan(data.Length));
        pipe.Output.Advance(data.Length);
        var flush = pipe.Output.FlushAsync().AsTask();
        Assert.False(flush.IsCompleted, "8 MiB does not fit in a socket buffer: the flush waits for the reader");

        var received = new byte[data.Length];
        int got = 0;
        while (got < received.Length)
        {
            await Task.Delay(got == 0 ? 50 : 0);
            got += peer.Receive(received.AsSpan(got));
        }
        var result = await flush.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(result.IsCompleted);
        Assert.Equal(data, received);

        // The writer is reusable after a slow flush.
        "ok"u8.CopyTo(pipe.Output.GetSpan(2));
        pipe.Output.Advance(2);
        Assert.True(pipe.Output.FlushAsync().AsTask().IsCompletedSuccessfully);
        var two = new byte[2];
        Assert.Equal(2, peer.Receive(two));
    }

    [Fact]
    public async Task Writer_PeerGone_FlushFailsWithIOException()
    {
        using var c = new Connected(maxFrame: 8192);
        var (pipe, peer) = (c.Pipe, c.Peer);
        peer.Dispose();

        await Assert.ThrowsAsync<IOException>(async () =>
        {
            for (int i = 0; i < 100; i++) // the first sends may still land in the dead peer's buffer
            {
                new byte[64 * 1024].CopyTo(pipe.Output.GetSpan(64 * 1024));
                pipe.Output.Advance(64 * 1024);
                await pipe.Output.FlushAsync();
            }
        });
    }

    [Fact]
    public async Task ReaderThread_BlocksInPoll_ReadsWholeFrames_AndCancelFromAnotherThreadWakesIt()
    {
        using var c = new Connected(maxFrame: 1024 * 1024 + 24);
        var (pipe, peer) = (c.Pipe, c.Peer);
        var frames = new[] { Frame(50, 1), Frame(200_000, 2), Frame(7, 3) };
        var waiting = new ManualResetEventSlim();
        ReadResult last = default;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                pipe.BindReaderToCurrentThread();
                foreach (var expected in frames)
                {
                    var read = ReadFrameAsync(pipe.Input);
                    Assert.True(read.IsCompleted, "on the reader thread every read completes synchronously (it blocks)");
                    Assert.Equal(expected, read.GetAwaiter().GetResult());
                }
                waiting.Set();
                var pending = pipe.Input.ReadAsync(); // nothing more is sent: blocks in poll until cancelled
                Assert.True(pending.IsCompleted);
                last = pending.Result;
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        foreach (var f in frames)
        {
            peer.Send(f.AsSpan(0, f.Length / 2));
            await Task.Delay(20);
            peer.Send(f.AsSpan(f.Length / 2));
        }
        Assert.True(waiting.Wait(TimeSpan.FromSeconds(30)));
        await Task.Delay(100);
        pipe.Input.CancelPendingRead();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the blocked reader woke up");
        Assert.Null(failure);
        Assert.True(last.IsCanceled);
        waiting.Dispose();
    }

    [Fact]
    public async Task LentFrame_StaysIntactWhileTheReaderMovesOn_AndItsBufferIsNotReused()
    {
        using var c = new Connected(maxFrame: 1024 * 1024 + 24);
        var (pipe, peer) = (c.Pipe, c.Peer);
        var lender = (IFrameLender)pipe.Input;

        var big = Frame(1024 * 1024 + 24, 0x5A);
        var sender = Task.Run(() =>
        {
            peer.Send(big);
            for (int i = 0; i < 40; i++)
                peer.Send(Frame(100_000, (byte)i)); // enough to wrap any buffer several times over
        });

        // Read until the big frame is whole, lend it in place, and consume it as the session does.
        LentBuffer? holder;
        int offset;
        while (true)
        {
            var result = await pipe.Input.ReadAsync();
            var buffer = result.Buffer;
            if (buffer.Length >= big.Length)
            {
                Assert.True(lender.TryLend(buffer.FirstSpan[..big.Length], out holder, out offset));
                pipe.Input.AdvanceTo(buffer.GetPosition(big.Length));
                break;
            }
            pipe.Input.AdvanceTo(buffer.Start, buffer.End);
        }
        Assert.False(lender.TryLend(new byte[10], out var none, out int _), "a span from elsewhere is not lendable");

        for (int i = 0; i < 40; i++)
            Assert.Equal(Frame(100_000, (byte)i), await ReadFrameAsync(pipe.Input));
        await sender;

        // Every later receive went elsewhere: the lent bytes are exactly what arrived.
        Assert.True(holder!.Array.AsSpan(offset, big.Length).SequenceEqual(big));
        holder.Release();
    }

    [Fact]
    public async Task SendNow_SendsStraightFromTheCaller_OnlyWhenNothingIsBufferedAhead()
    {
        using var c = new Connected(maxFrame: 8192);
        var (pipe, peer) = (c.Pipe, c.Peer);
        var direct = (IDirectSender)pipe.Output;

        Assert.Equal(5, direct.SendNow("hello"u8));
        "ab"u8.CopyTo(pipe.Output.GetSpan(2));
        pipe.Output.Advance(2);
        Assert.Equal(0, direct.SendNow("zz"u8)); // would overtake the buffered "ab"
        await pipe.Output.FlushAsync();

        // More than the socket buffer holds: the part it did not take is left to the caller.
        var big = new byte[16 * 1024 * 1024];
        int sent = direct.SendNow(big);
        Assert.InRange(sent, 1, big.Length - 1);

        var got = new byte[7];
        int n = 0;
        while (n < got.Length)
            n += peer.Receive(got.AsSpan(n));
        Assert.Equal("helloab"u8.ToArray(), got);
    }

    [Fact]
    public void BufferPool_KeepsArraysAcrossUses_AndTrimsWhatStayedUnused()
    {
        using var pool = new BufferPool(maxRetainedBytes: 8L * 1024 * 1024, trimPeriodically: false);
        var a = pool.Rent(1024 * 1024 + 24);
        Assert.Equal(2 * 1024 * 1024, a.Length);
        pool.Return(a);
        Assert.Same(a, pool.Rent(1024 * 1024 + 24)); // reused, not reallocated
        pool.Return(a);

        var b = pool.Rent(3 * 1024 * 1024);
        var c = pool.Rent(3 * 1024 * 1024);
        pool.Return(b);
        pool.Return(c); // 4 + 4 + 2 MiB would pass the 8 MiB bound: c is left to the GC
        Assert.Equal(6L * 1024 * 1024, pool.RetainedBytes);

        pool.Trim(); // first period: everything was rented at some point (low-water 0 since the start)
        pool.Trim(); // unused for one period, then two: kept (a steady load's wobble must not cost allocations)
        pool.Trim();
        Assert.Equal(6L * 1024 * 1024, pool.RetainedBytes);
        pool.Trim(); // unused for three whole periods: given back
        Assert.Equal(0, pool.RetainedBytes);
        Assert.NotSame(a, pool.Rent(1024 * 1024 + 24));
        Assert.Equal(4096, pool.Rent(100).Length); // the smallest class
        Assert.Equal(5 * 1024 * 1024, pool.Rent(5 * 1024 * 1024).Length); // beyond the classes: exact, unpooled
    }

    [Fact]
    public void BufferPool_RisingDemand_AllocatesOnAFewMissesOnly()
    {
        using var pool = new BufferPool(maxRetainedBytes: 512L * 1024 * 1024, trimPeriodically: false);
        var held = new List<byte[]>();
        int allocatingRents = 0;
        for (int i = 0; i < 40; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            held.Add(pool.Rent(1024 * 1024));
            if (GC.GetAllocatedBytesForCurrentThread() - before >= 1024 * 1024)
                allocatingRents++;
        }

        // One array per miss would be 40 allocating rents; growing by half of what exists each time is about 9.
        Assert.InRange(allocatingRents, 1, 10);
        Assert.Equal(40, held.Distinct().Count());
        foreach (var a in held)
            pool.Return(a);
        Assert.InRange(pool.RetainedBytes, 40L * 1024 * 1024, 64L * 1024 * 1024); // at most half again, never unbounded
    }
}
