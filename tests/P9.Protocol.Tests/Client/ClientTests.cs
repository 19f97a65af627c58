using System.Buffers;
using System.Buffers.Binary;
using P9.Protocol.Client;
using P9.Protocol.Wire;

namespace P9.Protocol.Tests.Client;

public class ClientTests
{
    private static readonly TimeSpan Generous = FakeServer.Generous;

    private static uint FidOf(FakeServer.Request r) => BinaryPrimitives.ReadUInt32LittleEndian(r.Bytes.AsSpan(7));

    private static Task SendGetattr(FakeServer server, ushort tag, ulong size) =>
        server.SendAsync(w => Rgetattr.Encode(w, tag, GetattrMask.Basic, new Qid(0, 0, size), 0x81A4, 0, 0, 1, 0, size, 4096, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task Version_negotiates_the_smaller_msize()
    {
        var server = new FakeServer(1 << 20);
        var connect = P9Client.ConnectAsync(server.ClientSide, new P9ClientOptions { MaxMessageSize = 65536 });
        var t = await server.ReadAsync();
        Assert.True(Tversion.TryDecode(t.Bytes, out var v) == P9DecodeError.None);
        Assert.Equal(65536u, v.Msize);
        Assert.True(v.Version.SequenceEqual("9P2000.L"u8));
        await server.SendAsync(w => Rversion.Encode(w, P9Constants.NoTag, 8192, "9P2000.L"));
        await using var client = await connect.WaitAsync(Generous);
        Assert.Equal(8192u, client.Msize);
        Assert.Equal(8192 - 24, client.MaxIoSize);
    }

    [Theory]
    [InlineData("unknown", 8192u)]
    [InlineData("9P2000.L", 2048u)]
    public async Task Version_rejected_fails_the_connect(string version, uint msize)
    {
        var server = new FakeServer(8192);
        var connect = P9Client.ConnectAsync(server.ClientSide, new P9ClientOptions { MaxMessageSize = 8192 });
        await server.ReadAsync();
        await server.SendAsync(w => Rversion.Encode(w, P9Constants.NoTag, msize, version));
        var e = await Assert.ThrowsAsync<P9ConnectionException>(() => connect.WaitAsync(Generous));
        Assert.Equal(P9ConnectionFailure.VersionRejected, e.Failure);
    }

    [Fact]
    public async Task Many_requests_in_flight_answered_out_of_order()
    {
        var (client, server) = await FakeServer.StartAsync();
        await using var _ = client;
        var fids = new List<P9Fid>();
        for (int i = 0; i < 10; i++)
            fids.Add(await server.AttachAsync(client));
        var calls = fids.Select(f => (f.Fid, Task: f.GetAttrAsync().AsTask())).ToList();
        var requests = new List<FakeServer.Request>();
        for (int i = 0; i < 10; i++)
            requests.Add(await server.ReadAsync());
        Assert.Equal(10, requests.Select(r => r.Tag).Distinct().Count());
        // Answer in reverse order, each with size = 1000 + its fid.
        for (int i = requests.Count - 1; i >= 0; i--)
            await SendGetattr(server, requests[i].Tag, 1000 + FidOf(requests[i]));
        foreach (var (fid, task) in calls)
            Assert.Equal(1000UL + fid, (await task.WaitAsync(Generous)).Size);
        Assert.Equal(10, client.Stats.Requests(P9MessageType.Tgetattr));
        Assert.Equal(10 * Rgetattr.FrameSize, client.Stats.BytesReceived(P9MessageType.Tgetattr));
        Assert.Equal(10 * Tgetattr.FrameSize, client.Stats.BytesSent(P9MessageType.Tgetattr));
    }

    [Fact]
    public async Task Rlerror_surfaces_as_P9Exception_with_errno()
    {
        var (client, server) = await FakeServer.StartAsync();
        await using var _ = client;
        var root = await server.AttachAsync(client);
        var walk = root.WalkAsync("missing").AsTask();
        var t = await server.ReadAsync();
        int fidsDuring = client.FidsInUse;
        await server.SendAsync(w => Rlerror.Encode(w, t.Tag, LinuxErrno.ENOENT));
        var e = await Assert.ThrowsAsync<P9Exception>(() => walk.WaitAsync(Generous));
        Assert.Equal(LinuxErrno.ENOENT, e.Errno);
        Assert.Equal(P9MessageType.Twalk, e.Request);
        Assert.Equal(fidsDuring - 1, client.FidsInUse); // the newfid number went back
        Assert.True(client.IsConnected);
        Assert.Equal(1, client.Stats.Errors(P9MessageType.Twalk));
    }

    [Fact]
    public async Task Cancel_sends_Tflush_and_keeps_the_tag_until_Rflush()
    {
        var (client, server) = await FakeServer.StartAsync();
        await using var _ = client;
        var root = await server.AttachAsync(client);
        using var cts = new CancellationTokenSource();
        var call = root.GetAttrAsync(cancellationToken: cts.Token).AsTask();
        var original = await server.ReadAsync();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(Generous));
        var flush = await server.ReadAsync();
        Assert.Equal(P9MessageType.Tflush, flush.Type);
        Assert.True(Tflush.TryDecode(flush.Bytes, out var f) == P9DecodeError.None);
        Assert.Equal(original.Tag, f.Oldtag);

        // Until the Rflush, a new request must not get the flushed tag.
        var second = root.GetAttrAsync().AsTask();
        var r2 = await server.ReadAsync();
        Assert.NotEqual(original.Tag, r2.Tag);
        Assert.NotEqual(flush.Tag, original.Tag);
        await SendGetattr(server, r2.Tag, 5);
        Assert.Equal(5UL, (await second.WaitAsync(Generous)).Size);

        await server.SendAsync(w => Rflush.Encode(w, flush.Tag));
        // After the Rflush the tag is free again (free tags are reused most-recent first).
        await WaitUntil(() => client.Stats.BytesReceived(P9MessageType.Tflush) > 0);
        var third = root.GetAttrAsync().AsTask();
        var r3 = await server.ReadAsync();
        Assert.Equal(original.Tag, r3.Tag);
        await SendGetattr(server, r3.Tag, 6);
        Assert.Equal(6UL, (await third.WaitAsync(Generous)).Size);
    }

    [Fact]
    public async Task Original_reply_before_Rflush_frees_the_tag_and_is_honoured()
    {
        var (client, server) = await FakeServer.StartAsync();
        await using var _ = client;
        var root = await server.AttachAsync(client);
        using var cts = new CancellationTokenSource();
        var buffer = new byte[100];
        var call = root.ReadAsync(0, buffer, cts.Token).AsTask();
        var original = await server.ReadAsync();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(Generous));
        var flush = await server.ReadAsync();
        // The server answers the original anyway, then the flush. The cancelled caller's buffer is not written.
        await server.SendAsync(w => Rread.Encode(w, original.Tag, Enumerable.Repeat((byte)7, 50).ToArray()));
        await server.SendAsync(w => Rflush.Encode(w, flush.Tag));
        await WaitUntil(() => client.Stats.BytesReceived(P9MessageType.Tflush) > 0);
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.True(client.IsConnected);
        var next = root.GetAttrAsync().AsTask();
        var r = await server.ReadAsync();
        await SendGetattr(server, r.Tag, 9);
        Assert.Equal(9UL, (await next.WaitAsync(Generous)).Size);
    }

    [Fact]
    public async Task Fid_from_a_flushed_but_answered_walk_is_clunked()
    {
        var (client, server) = await FakeServer.StartAsync();
        await using var _ = client;
        var root = await server.AttachAsync(client);
        int baseline = client.FidsInUse;
        using var cts = new CancellationTokenSource();
        var walk = root.WalkAsync(["a"], cts.Token).AsTask();
        var twalk = await server.ReadAsync();
        Assert.True(Twalk.TryDecode(twalk.Bytes, out var tw) == P9DecodeError.None);
        uint newFid = tw.Newfid;
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => walk.WaitAsync(Generous));
        var flush = await server.ReadAsync();
        Assert.Equal(P9MessageType.Tflush, flush.Type);
        // The walk had already succeeded: the server replies, then Rflush. newfid now exists: the client must clunk it.
        await server.SendAsync(w => Rwalk.Encode(w, twalk.Tag, new[] { new Qid(0, 0, 77) }));
        await server.SendAsync(w => Rflush.Encode(w, flush.Tag));
        var clunk = await server.ReadAsync();
        Assert.Equal(P9MessageType.Tclunk, clunk.Type);
        Assert.Equal(newFid, FidOf(clunk));
        Assert.Equal(baseline + 1, client.FidsInUse); // not reusable until the Rclunk
        await server.SendAsync(w => Rclunk.Encode(w, clunk.Tag));
        await WaitUntil(() => client.FidsInUse == baseline);
    }

    [Fact]
    public async Task Fid_from_a_flushed_unanswered_walk_is_freed_without_clunk()
    {
        var (client, server) = await FakeServer.StartAsync();
        await using var _ = client;
        var root = await server.AttachAsync(client);
        int baseline = client.FidsInUse;
        using var cts = new CancellationTokenSource();
        var walk = root.WalkAsync(["a"], cts.Token).AsTask();
        var twalk = await server.ReadAsync();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => walk.WaitAsync(Generous));
        var flush = await server.ReadAsync();
        await server.SendAsync(w => Rflush.Encode(w, flush.Tag));
        await WaitUntil(() => client.FidsInUse == baseline);
        // The next thing on the wire is our next request, not a Tclunk; and the flushed tag is free again.
        var next = root.GetAttrAsync().AsTask();
        var r = await server.ReadAsync();
        Assert.Equal(P9MessageType.Tgetattr, r.Type);
        Assert.Equal(twalk.Tag, r.Tag);
        await SendGetattr(server, r.Tag, 1);
        await next.WaitAsync(Generous);
    }

    [Fact]
    public async Task Connection_loss_fails_every_pending_request_and_later_calls_fast()
    {
        var (client, server) = await FakeServer.StartAsync();
        await using var _ = client;
        var root = await server.AttachAsync(client);
        var pending = Enumerable.Range(0, 5).Select(_ => root.GetAttrAsync().AsTask()).ToList();
        for (int i = 0; i < 5; i++)
            await server.ReadAsync();
        await server.CloseAsync();
        foreach (var p in pending)
        {
            var e = await Assert.ThrowsAsync<P9ConnectionException>(() => p.WaitAsync(Generous));
            Assert.Equal(P9ConnectionFailure.Closed, e.Failure);
        }
        Assert.False(client.IsConnected);
        var later = await Assert.ThrowsAsync<P9ConnectionException>(() => root.GetAttrAsync().AsTask().WaitAsync(Generous));
        Assert.Same(client.Failure, later);
    }

    [Fact]
    public async Task Dispose_fails_pending_requests()
    {
        var (client, server) = await FakeServer.StartAsync();
        var root = await server.AttachAsync(client);
        var pending = root.GetAttrAsync().AsTask();
        await server.ReadAsync();
        await client.DisposeAsync().AsTask().WaitAsync(Generous);
        var e = await Assert.ThrowsAsync<P9ConnectionException>(() => pending.WaitAsync(Generous));
        Assert.Equal(P9ConnectionFailure.Disposed, e.Failure);
    }

    public static TheoryData<string> HostileCases() => new()
    {
        "unknown-tag", "unknown-type", "wrong-reply-type", "request-type", "read-count-too-large",
        "truncated-frame", "size-above-msize", "size-below-header", "walk-too-many-qids", "trailing-bytes", "bad-rlerror",
    };

    [Theory]
    [MemberData(nameof(HostileCases))]
    public async Task Hostile_reply_fails_the_connection_without_hanging_anyone(string kind)
    {
        var (client, server) = await FakeServer.StartAsync(msize: 8192);
        await using var _ = client;
        var root = await server.AttachAsync(client);
        var getattrs = Enumerable.Range(0, 3).Select(_ => root.GetAttrAsync().AsTask()).ToList();
        var buffer = new byte[10];
        var read = root.ReadAsync(0, buffer).AsTask();
        var walk = root.WalkAsync("x").AsTask();
        var requests = new List<FakeServer.Request>();
        for (int i = 0; i < 5; i++)
            requests.Add(await server.ReadAsync());
        var g = requests.First(r => r.Type == P9MessageType.Tgetattr);
        var rd = requests.First(r => r.Type == P9MessageType.Tread);
        var wk = requests.First(r => r.Type == P9MessageType.Twalk);
        var unused = (ushort)(requests.Max(r => r.Tag) + 100);
        byte[] frame = kind switch
        {
            "unknown-tag" => Encode(w => Rclunk.Encode(w, unused)),
            "unknown-type" => Header(7, 200, g.Tag),
            "wrong-reply-type" => Encode(w => Rclunk.Encode(w, g.Tag)),
            "request-type" => Encode(w => Tclunk.Encode(w, g.Tag, 1)),
            "read-count-too-large" => Encode(w => Rread.Encode(w, rd.Tag, new byte[20])),
            "truncated-frame" => Encode(w => Rgetattr.Encode(w, g.Tag, 0, default, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))[..50],
            "size-above-msize" => Header(8193, (byte)P9MessageType.Rread, rd.Tag),
            "size-below-header" => Header(3, (byte)P9MessageType.Rclunk, g.Tag),
            "walk-too-many-qids" => Encode(w => Rwalk.Encode(w, wk.Tag, new[] { new Qid(0, 0, 1), new Qid(0, 0, 2) })),
            "trailing-bytes" => Grow(Encode(w => Rgetattr.Encode(w, g.Tag, 0, default, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), 1),
            "bad-rlerror" => Fix(Header(9, (byte)P9MessageType.Rlerror, g.Tag)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        await server.SendRawAsync(frame);
        if (kind == "truncated-frame")
            await server.CloseAsync();
        foreach (var t in getattrs.Cast<Task>().Append(read).Append(walk))
        {
            var e = await Assert.ThrowsAsync<P9ConnectionException>(() => t.WaitAsync(Generous));
            Assert.Equal(P9ConnectionFailure.ProtocolViolation, e.Failure);
        }
        Assert.False(client.IsConnected);
        Assert.All(buffer, b => Assert.Equal(0, b));
        await Assert.ThrowsAsync<P9ConnectionException>(() => root.GetAttrAsync().AsTask().WaitAsync(Generous));
    }

    private static byte[] Encode(Action<ArrayBufferWriter<byte>> encode)
    {
        var w = new ArrayBufferWriter<byte>();
        encode(w);
        return w.WrittenSpan.ToArray();
    }

    private static byte[] Header(uint size, byte type, ushort tag)
    {
        var b = new byte[7];
        BinaryPrimitives.WriteUInt32LittleEndian(b, size);
        b[4] = type;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(5), tag);
        return b;
    }

    // size 9 claims an ecode[4] but only 2 body bytes follow.
    private static byte[] Fix(byte[] header) => [.. header, 0, 0];

    private static byte[] Grow(byte[] frame, int extra)
    {
        var b = new byte[frame.Length + extra];
        frame.CopyTo(b, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)b.Length);
        return b;
    }

    [Fact]
    public async Task Requests_beyond_the_in_flight_limit_wait_for_a_tag()
    {
        var (client, server) = await FakeServer.StartAsync(maxInFlight: 2);
        await using var _ = client;
        var root = await server.AttachAsync(client);
        var calls = Enumerable.Range(0, 3).Select(_ => root.GetAttrAsync().AsTask()).ToList();
        var a = await server.ReadAsync();
        var b = await server.ReadAsync();
        await SendGetattr(server, a.Tag, 1);
        var c = await server.ReadAsync(); // only sent once a tag came back
        Assert.Equal(a.Tag, c.Tag);
        await SendGetattr(server, b.Tag, 2);
        await SendGetattr(server, c.Tag, 3);
        var sizes = (await Task.WhenAll(calls).WaitAsync(Generous)).Select(x => x.Size).Order().ToArray();
        Assert.Equal(new ulong[] { 1, 2, 3 }, sizes);
    }

    [Fact]
    public async Task Reads_and_writes_are_split_at_msize_minus_24_or_iounit()
    {
        var (client, server) = await FakeServer.StartAsync(msize: 4096);
        await using var _ = client;
        var root = await server.AttachAsync(client);
        var data = Enumerable.Range(0, 10000).Select(i => (byte)i).ToArray();
        var write = root.WriteAsync(100, data).AsTask();
        int offset = 0;
        while (offset < data.Length)
        {
            var t = await server.ReadAsync();
            Assert.True(Twrite.TryDecode(t.Bytes, out var tw) == P9DecodeError.None);
            Assert.Equal(100UL + (ulong)offset, tw.Offset);
            Assert.True(tw.Data.Length <= 4096 - 24);
            Assert.True(tw.Data.SequenceEqual(data.AsSpan(offset, tw.Data.Length)));
            offset += tw.Data.Length;
            int len = tw.Data.Length;
            await server.SendAsync(w => Rwrite.Encode(w, t.Tag, (uint)len));
        }
        Assert.Equal(data.Length, await write.WaitAsync(Generous));

        // After Tlopen with iounit 1000, chunks are 1000 bytes.
        var open = root.OpenAsync(LopenFlags.ReadOnly).AsTask();
        var lo = await server.ReadAsync();
        await server.SendAsync(w => Rlopen.Encode(w, lo.Tag, new Qid(0, 0, 1), 1000));
        await open.WaitAsync(Generous);
        var buffer = new byte[2500];
        var read = root.ReadAsync(0, buffer).AsTask();
        var counts = new List<uint>();
        for (int i = 0; i < 3; i++)
        {
            var t = await server.ReadAsync();
            Assert.True(Tread.TryDecode(t.Bytes, out var tr) == P9DecodeError.None);
            counts.Add(tr.Count);
            // The last chunk comes back short: end of file.
            int n = i < 2 ? (int)tr.Count : 100;
            await server.SendAsync(w => Rread.Encode(w, t.Tag, Enumerable.Repeat((byte)(i + 1), n).ToArray()));
        }
        Assert.Equal(2100, await read.WaitAsync(Generous));
        Assert.Equal(new uint[] { 1000, 1000, 500 }, counts);
        Assert.Equal(3, buffer[2099]);
    }

    [Fact]
    public async Task Setxattr_reports_the_clunk_error()
    {
        var (client, server) = await FakeServer.StartAsync();
        await using var _ = client;
        var root = await server.AttachAsync(client);
        var set = root.SetXattrAsync("user.a", new byte[] { 1, 2, 3 }).AsTask();
        var walk = await server.ReadAsync();
        Assert.Equal(P9MessageType.Twalk, walk.Type);
        await server.SendAsync(w => Rwalk.Encode(w, walk.Tag, ReadOnlySpan<Qid>.Empty));
        var create = await server.ReadAsync();
        Assert.True(Txattrcreate.TryDecode(create.Bytes, out var xc) == P9DecodeError.None);
        Assert.Equal(3UL, xc.AttrSize);
        await server.SendAsync(w => Rxattrcreate.Encode(w, create.Tag));
        var write = await server.ReadAsync();
        await server.SendAsync(w => Rwrite.Encode(w, write.Tag, 3));
        var clunk = await server.ReadAsync();
        Assert.Equal(P9MessageType.Tclunk, clunk.Type);
        await server.SendAsync(w => Rlerror.Encode(w, clunk.Tag, LinuxErrno.ENOSPC));
        var e = await Assert.ThrowsAsync<P9Exception>(() => set.WaitAsync(Generous));
        Assert.Equal(LinuxErrno.ENOSPC, e.Errno);
        Assert.Equal(P9MessageType.Tclunk, e.Request);
    }

    [Fact]
    public async Task Removexattr_is_size_zero_with_XATTR_REPLACE()
    {
        var (client, server) = await FakeServer.StartAsync();
        await using var _ = client;
        var root = await server.AttachAsync(client);
        var remove = root.RemoveXattrAsync("user.a").AsTask();
        var walk = await server.ReadAsync();
        await server.SendAsync(w => Rwalk.Encode(w, walk.Tag, ReadOnlySpan<Qid>.Empty));
        var create = await server.ReadAsync();
        Assert.True(Txattrcreate.TryDecode(create.Bytes, out var xc) == P9DecodeError.None);
        Assert.Equal(0UL, xc.AttrSize);
        Assert.Equal(XattrFlags.Replace, xc.Flags);
        await server.SendAsync(w => Rxattrcreate.Encode(w, create.Tag));
        var clunk = await server.ReadAsync();
        Assert.Equal(P9MessageType.Tclunk, clunk.Type);
        await server.SendAsync(w => Rclunk.Encode(w, clunk.Tag));
        await remove.WaitAsync(Generous);
    }

    [Fact]
    public async Task Unlinkat_falls_back_to_walk_and_Tremove_on_EOPNOTSUPP()
    {
        var (client, server) = await FakeServer.StartAsync();
        await using var _ = client;
        var root = await server.AttachAsync(client);
        var unlink = root.UnlinkAtAsync("f").AsTask();
        var u = await server.ReadAsync();
        Assert.Equal(P9MessageType.Tunlinkat, u.Type);
        await server.SendAsync(w => Rlerror.Encode(w, u.Tag, LinuxErrno.EOPNOTSUPP));
        var walk = await server.ReadAsync();
        Assert.Equal(P9MessageType.Twalk, walk.Type);
        await server.SendAsync(w => Rwalk.Encode(w, walk.Tag, new[] { new Qid(0, 0, 5) }));
        var remove = await server.ReadAsync();
        Assert.Equal(P9MessageType.Tremove, remove.Type);
        await server.SendAsync(w => Rremove.Encode(w, remove.Tag));
        await unlink.WaitAsync(Generous);
        // Remembered: the next unlink goes straight to the walk.
        var again = root.UnlinkAtAsync("g").AsTask();
        Assert.Equal(P9MessageType.Twalk, (await server.ReadAsync()).Type);
        await client.DisposeAsync();
        await Assert.ThrowsAsync<P9ConnectionException>(() => again.WaitAsync(Generous));
    }

    [Fact]
    public async Task Disposed_handle_clunks_and_refuses_use()
    {
        var (client, server) = await FakeServer.StartAsync();
        await using var _ = client;
        var root = await server.AttachAsync(client);
        var dispose = root.DisposeAsync().AsTask();
        var clunk = await server.ReadAsync();
        Assert.Equal(P9MessageType.Tclunk, clunk.Type);
        await server.SendAsync(w => Rclunk.Encode(w, clunk.Tag));
        await dispose.WaitAsync(Generous);
        Assert.Equal(0, client.FidsInUse);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await root.GetAttrAsync());
    }
}
