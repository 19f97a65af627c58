using System.Buffers;
using P9.Protocol.Wire;

namespace P9.Protocol.Tests.Wire;

public class ReplyWriterTests
{
    [Fact]
    public void Rread_fill_in_place_equals_plain_encoding()
    {
        var w = new ArrayBufferWriter<byte>();
        var reply = ReplyWriter.BeginRread(w, 9, 4096);
        Assert.Equal(4096, reply.Payload.Length);
        "hello"u8.CopyTo(reply.Payload);
        reply.Commit(5);
        var plain = new ArrayBufferWriter<byte>();
        Rread.Encode(plain, 9, "hello"u8);
        Assert.Equal(plain.WrittenSpan.ToArray(), w.WrittenSpan.ToArray());
    }

    [Fact]
    public void Commit_past_the_reservation_or_twice_is_refused()
    {
        var w = new ArrayBufferWriter<byte>();
        var reply = ReplyWriter.BeginRread(w, 1, 8);
        bool threw = false;
        try { reply.Commit(9); } catch (ArgumentOutOfRangeException) { threw = true; }
        Assert.True(threw);
        reply.Commit(0);
        threw = false;
        try { reply.Commit(0); } catch (InvalidOperationException) { threw = true; }
        Assert.True(threw);
        Assert.Equal(11, w.WrittenCount);
    }

    [Fact]
    public void Rread_header_for_async_reads()
    {
        var frame = new byte[11 + 3];
        "abc"u8.CopyTo(frame.AsSpan(ReplyWriter.PayloadOffset));
        int n = ReplyWriter.WriteReadHeader(frame, P9MessageType.Rread, 7, 3);
        Assert.Equal(14, n);
        Assert.Equal(P9DecodeError.None, Rread.TryDecode(frame, out var m));
        Assert.True(m.Data.SequenceEqual("abc"u8));
    }

    [Fact]
    public void Dirent_writer_appends_whole_entries_until_full()
    {
        const uint msize = 128;
        var w = new ArrayBufferWriter<byte>();
        var reply = ReplyWriter.BeginRreaddir(w, 3, ReplyWriter.MaxPayload(msize));
        var dw = new DirentWriter(reply.Payload);
        int appended = 0;
        // Each "entry-N" entry is 24 + 7 = 31 bytes; 117 bytes of payload hold 3.
        while (dw.TryAppend(new Qid(QidType.File, 0, (ulong)appended), (ulong)(appended + 1), DirentType.Regular, System.Text.Encoding.UTF8.GetBytes($"entry-{appended}")))
            appended++;
        Assert.Equal(3, appended);
        Assert.Equal(3, dw.Count);
        Assert.Equal(93, dw.Written);
        reply.Commit(dw.Written);
        Assert.True(w.WrittenCount <= msize);

        Assert.Equal(P9DecodeError.None, Rreaddir.TryDecode(w.WrittenSpan, out var m));
        var reader = m.Entries;
        int seen = 0;
        while (reader.TryRead(out var e))
        {
            Assert.Equal((ulong)(seen + 1), e.Offset);
            Assert.Equal($"entry-{seen}", System.Text.Encoding.UTF8.GetString(e.Name));
            seen++;
        }
        Assert.Equal(3, seen);
        Assert.Equal(P9DecodeError.None, reader.Error);
    }

    [Fact]
    public void Max_payload_never_negative() => Assert.Equal(0, ReplyWriter.MaxPayload(5));
}
