using System.Buffers;
using System.Buffers.Binary;
using Gofer.Server;
using P9.Protocol.Wire;

namespace Gofer.Tests.Server;

/// <summary>
/// Big Twrites whose payload the server splices from the socket into the file: the bytes on disk, the replies, and the
/// connection afterwards must be exactly what the ordinary path gives, however the frame arrives.
/// </summary>
public sealed class SpliceWriteTests : IDisposable
{
    private const uint Msize = 1024 * 1024 + 24;
    private readonly ServerFixture _server = new();

    public void Dispose() => _server.Dispose();

    private static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static byte[] TwriteFrame(ushort tag, uint fid, ulong offset, byte[] payload)
    {
        var w = new ArrayBufferWriter<byte>();
        Twrite.Encode(w, tag, fid, offset, payload);
        return w.WrittenSpan.ToArray();
    }

    private P9TestClient OpenForWrite(string name, LopenFlags flags = LopenFlags.ReadWrite)
    {
        var c = _server.Connect().Start(Msize);
        c.WalkOk(0, 1);
        P9TestClient.AssertType(P9MessageType.Rlcreate, c.Lcreate(1, name, flags | LopenFlags.Create));
        return c;
    }

    private static uint Written(byte[] reply)
    {
        P9TestClient.AssertType(P9MessageType.Rwrite, reply);
        return BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(7));
    }

    [Fact]
    public void A_whole_frame_sent_at_once_lands_in_the_file_byte_for_byte()
    {
        using var c = OpenForWrite("whole");
        long spliced = ServerStats.SplicedWrites;
        var a = Pattern(1024 * 1024, 1);
        var b = Pattern(700 * 1024, 2);
        c.SendRaw(TwriteFrame(10, 1, 0, a));
        Assert.Equal((uint)a.Length, Written(c.ReceiveFrame()));
        c.SendRaw(TwriteFrame(11, 1, (ulong)a.Length - 4096, b)); // overlapping the first
        Assert.Equal((uint)b.Length, Written(c.ReceiveFrame()));

        var expected = new byte[a.Length - 4096 + b.Length];
        a.CopyTo(expected, 0);
        b.CopyTo(expected, a.Length - 4096);
        Assert.Equal(expected, File.ReadAllBytes(_server.Path_("whole")));
        Assert.True(ServerStats.SplicedWrites >= spliced + 1, "no Twrite took the splice path");
    }

    [Fact]
    public void A_frame_trickling_in_pieces_is_spliced_and_exact()
    {
        using var c = OpenForWrite("trickle");
        long spliced = ServerStats.SplicedWrites;
        var data = Pattern(512 * 1024 + 77, 3);
        var frame = TwriteFrame(12, 1, 5000, data);
        // Header alone, then a little of the payload, then the rest in uneven pieces with pauses.
        c.SendRaw(frame.AsSpan(0, 23));
        Thread.Sleep(50);
        c.SendRaw(frame.AsSpan(23, 1000));
        Thread.Sleep(50);
        for (int at = 1023; at < frame.Length; at += 100_003)
        {
            c.SendRaw(frame.AsSpan(at, Math.Min(100_003, frame.Length - at)));
            Thread.Sleep(10);
        }

        Assert.Equal((uint)data.Length, Written(c.ReceiveFrame()));
        var onDisk = File.ReadAllBytes(_server.Path_("trickle"));
        Assert.Equal(5000 + data.Length, onDisk.Length);
        Assert.True(onDisk.AsSpan(0, 5000).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(data, onDisk.AsSpan(5000).ToArray());
        Assert.True(ServerStats.SplicedWrites >= spliced + 1, "no Twrite took the splice path");
    }

    [Fact]
    public void Requests_sent_behind_the_big_write_are_answered_in_order()
    {
        using var c = OpenForWrite("pipelined");
        var data = Pattern(1024 * 1024, 4);
        var w = new ArrayBufferWriter<byte>();
        w.Write(TwriteFrame(20, 1, 0, data));
        Tgetattr.Encode(w, 21, 1, GetattrMask.Basic);
        Twrite.Encode(w, 22, 1, (ulong)data.Length, "tail"u8);
        c.SendRaw(w.WrittenSpan);

        var r1 = c.ReceiveFrame();
        Assert.Equal(20, P9TestClient.TagOf(r1));
        Assert.Equal((uint)data.Length, Written(r1));
        var r2 = c.ReceiveFrame();
        Assert.Equal(21, P9TestClient.TagOf(r2));
        P9TestClient.AssertType(P9MessageType.Rgetattr, r2);
        var r3 = c.ReceiveFrame();
        Assert.Equal(22, P9TestClient.TagOf(r3));
        Assert.Equal(4u, Written(r3));
        Assert.Equal([.. data, .. "tail"u8.ToArray()], File.ReadAllBytes(_server.Path_("pipelined")));
    }

    [Fact]
    public void A_file_error_is_the_reply_and_the_rest_of_the_payload_is_still_consumed()
    {
        using var c = OpenForWrite("toofar");
        // Far beyond ext4's (and tmpfs's) largest file: pwrite and splice both fail with EFBIG.
        const ulong farOffset = 1UL << 50;
        var data = Pattern(600 * 1024, 5);
        c.SendRaw(TwriteFrame(30, 1, farOffset, data));
        P9TestClient.AssertError(27 /* EFBIG */, c.ReceiveFrame());

        // The stream is still in step: the next request is parsed and answered.
        Assert.Equal(3u, c.WriteBytes(1, 0, "abc"u8));
        Assert.Equal("abc"u8.ToArray(), File.ReadAllBytes(_server.Path_("toofar")));
    }

    [Fact]
    public void Fids_that_must_not_be_spliced_into_take_the_ordinary_path()
    {
        File.WriteAllText(_server.Path_("ro"), "read only");
        using var c = _server.Connect().Start(Msize);
        c.WalkOk(0, 1, "ro");
        c.LopenOk(1, LopenFlags.ReadOnly);
        var data = Pattern(300 * 1024, 6);
        c.SendRaw(TwriteFrame(40, 1, 0, data));
        P9TestClient.AssertError(9 /* EBADF */, c.ReceiveFrame());
        c.SendRaw(TwriteFrame(41, 77, 0, data)); // no such fid
        P9TestClient.AssertError(9 /* EBADF */, c.ReceiveFrame());
        Assert.Equal("read only", File.ReadAllText(_server.Path_("ro")));

        // O_APPEND: splice refuses it, pwrite appends; the ordinary path must be the one that runs.
        c.WalkOk(0, 2);
        P9TestClient.AssertType(P9MessageType.Rlcreate, c.Lcreate(2, "app", LopenFlags.WriteOnly | LopenFlags.Create | LopenFlags.Append));
        Assert.Equal((uint)data.Length, Written(Rpc(c, TwriteFrame(42, 2, 0, data))));
        Assert.Equal((uint)data.Length, Written(Rpc(c, TwriteFrame(43, 2, 0, data))));
        Assert.Equal([.. data, .. data], File.ReadAllBytes(_server.Path_("app")));
    }

    [Fact]
    public void A_peer_that_hangs_up_inside_the_payload_ends_only_its_own_connection()
    {
        using var other = OpenForWrite("other");
        using (var c = OpenForWrite("cut"))
        {
            var frame = TwriteFrame(50, 1, 0, Pattern(800 * 1024, 7));
            c.SendRaw(frame.AsSpan(0, 300 * 1024));
            Thread.Sleep(50);
        }

        Assert.Equal(2u, other.WriteBytes(1, 0, "ok"u8));
        using var again = _server.Connect().Start(Msize);
        again.WalkOk(0, 1, "other");
    }

    private static byte[] Rpc(P9TestClient c, byte[] frame)
    {
        c.SendRaw(frame);
        return c.ReceiveFrame();
    }
}
