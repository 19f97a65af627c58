using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using P9.Protocol.Framing;
using P9.Protocol.Wire;

namespace P9.Protocol.Tests.Framing;

public class FrameReaderTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    /// <summary>A mix of small and large frames, some larger than a pipe segment.</summary>
    private static List<byte[]> SampleFrames()
    {
        var frames = new List<byte[]>();
        var w = new ArrayBufferWriter<byte>();
        void Add(Action<ArrayBufferWriter<byte>> enc)
        {
            w.Clear();
            enc(w);
            frames.Add(w.WrittenSpan.ToArray());
        }
        Add(x => Tversion.Encode(x, P9Constants.NoTag, 65536, "9P2000.L"u8));
        Add(x => Tattach.Encode(x, 1, 0, P9Constants.NoFid, "root"u8, ""u8, 0));
        Add(x => Twalk.Encode(x, 2, 0, 1, new[] { "usr", "bin" }));
        Add(x => Twrite.Encode(x, 3, 1, 0, new byte[6000].Select((_, i) => (byte)i).ToArray()));
        Add(x => Tclunk.Encode(x, 4, 1));
        Add(x => Twrite.Encode(x, 5, 1, 0, new byte[40000]));
        Add(x => Tread.Encode(x, 6, 1, 0, 512));
        return frames;
    }

    private static async Task<List<byte[]>> ReadAll(PipeReader input, uint max = 65536)
    {
        var reader = new P9FrameReader(input, max);
        var got = new List<byte[]>();
        while (true)
        {
            var r = await reader.ReadAsync().AsTask().WaitAsync(Generous);
            if (r.Status != P9ReadStatus.Frame)
            {
                Assert.Equal(P9ReadStatus.Completed, r.Status);
                return got;
            }
            got.Add(r.Frame.Span.ToArray());
            reader.Release();
        }
    }

    private static async Task Feed(PipeWriter writer, byte[] all, Func<int> chunk)
    {
        for (int pos = 0; pos < all.Length;)
        {
            int n = Math.Min(chunk(), all.Length - pos);
            await writer.WriteAsync(all.AsMemory(pos, n));
            pos += n;
        }
        await writer.CompleteAsync();
    }

    [Fact]
    public async Task Contiguous_byte_by_byte_and_random_segments_agree()
    {
        var frames = SampleFrames();
        var all = frames.SelectMany(f => f).ToArray();

        var p1 = new Pipe();
        await p1.Writer.WriteAsync(all);
        await p1.Writer.CompleteAsync();
        var contiguous = await ReadAll(p1.Reader);
        Assert.Equal(frames, contiguous);

        var p2 = new Pipe();
        var feeding = Feed(p2.Writer, all, () => 1);
        var byByte = await ReadAll(p2.Reader);
        await feeding;
        Assert.Equal(frames, byByte);

        var rng = new Random(42);
        for (int round = 0; round < 5; round++)
        {
            var p3 = new Pipe();
            var feeding3 = Feed(p3.Writer, all, () => rng.Next(1, 9000));
            Assert.Equal(frames, await ReadAll(p3.Reader));
            await feeding3;
        }
    }

    [Fact]
    public async Task Frames_spanning_segments_are_copied_and_still_correct()
    {
        var frames = SampleFrames();
        var all = frames.SelectMany(f => f).ToArray();
        // A multi-segment sequence with tiny segments forces the copy path for nearly every frame.
        var rng = new Random(7);
        var seq = Segments.Build(all, () => rng.Next(1, 20));
        Assert.False(seq.IsSingleSegment);
        Assert.Equal(frames, await ReadAll(PipeReader.Create(seq)));
    }

    [Fact]
    public async Task Partial_frame_does_not_spin()
    {
        var frame = SampleFrames()[2];
        var pipe = new Pipe();
        var reader = new P9FrameReader(pipe.Reader);
        await pipe.Writer.WriteAsync(frame.AsMemory(0, 10));

        var pending = reader.ReadAsync();
        // The reader looked once, found half a frame, marked it examined and is now waiting for bytes.
        Assert.False(pending.IsCompleted);
        Assert.Equal(1, reader.PipeReads);

        await pipe.Writer.WriteAsync(frame.AsMemory(10));
        var r = await pending.AsTask().WaitAsync(Generous);
        Assert.Equal(P9ReadStatus.Frame, r.Status);
        Assert.Equal(frame, r.Frame.Span.ToArray());
        Assert.Equal(2, reader.PipeReads);
        reader.Release();
    }

    [Fact]
    public async Task Byte_by_byte_feeding_reads_at_most_once_per_flush()
    {
        var frames = SampleFrames().Take(3).ToList();
        var all = frames.SelectMany(f => f).ToArray();
        var pipe = new Pipe();
        var reader = new P9FrameReader(pipe.Reader);
        var feeding = Feed(pipe.Writer, all, () => 1);
        int got = 0;
        while (true)
        {
            var r = await reader.ReadAsync().AsTask().WaitAsync(Generous);
            if (r.Status != P9ReadStatus.Frame) break;
            got++;
            reader.Release();
        }
        await feeding;
        Assert.Equal(3, got);
        // One read per flushed byte at most, plus one per frame handed out and the final completion.
        Assert.InRange(reader.PipeReads, 1, all.Length + got + 1);
    }

    [Fact]
    public async Task Oversize_size_field_is_rejected_before_the_body_arrives()
    {
        var pipe = new Pipe();
        var reader = new P9FrameReader(pipe.Reader); // pre-version cap 8192
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 8193);
        await pipe.Writer.WriteAsync(header); // the body is never written
        var r = await reader.ReadAsync().AsTask().WaitAsync(Generous);
        Assert.Equal(P9ReadStatus.Error, r.Status);
        Assert.Equal(P9DecodeError.FrameTooLarge, r.Error);
        Assert.True(r.Error.IsFatal());
        // Sticky: the stream cannot be resynchronised.
        Assert.Equal(P9ReadStatus.Error, (await reader.ReadAsync()).Status);
    }

    [Fact]
    public async Task Limit_follows_the_negotiated_msize()
    {
        var big = SampleFrames()[3]; // 6023 bytes
        var pipe = new Pipe();
        var reader = new P9FrameReader(pipe.Reader, 4096);
        await pipe.Writer.WriteAsync(big);
        reader.MaxFrameSize = 8192;
        var r = await reader.ReadAsync().AsTask().WaitAsync(Generous);
        Assert.Equal(P9ReadStatus.Frame, r.Status);
        reader.Release();
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(6u)]
    public async Task Size_below_seven_is_rejected(uint size)
    {
        var pipe = new Pipe();
        var reader = new P9FrameReader(pipe.Reader);
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(header, size);
        await pipe.Writer.WriteAsync(header);
        var r = await reader.ReadAsync().AsTask().WaitAsync(Generous);
        Assert.Equal(P9ReadStatus.Error, r.Status);
        Assert.Equal(P9DecodeError.FrameTooShort, r.Error);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(10)]
    public async Task Partial_frame_at_completion_is_truncation(int bytes)
    {
        var frame = SampleFrames()[1];
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(frame.AsMemory(0, bytes));
        await pipe.Writer.CompleteAsync();
        var reader = new P9FrameReader(pipe.Reader);
        var r = await reader.ReadAsync().AsTask().WaitAsync(Generous);
        Assert.Equal(P9ReadStatus.Error, r.Status);
        Assert.Equal(P9DecodeError.TruncatedStream, r.Error);
    }

    [Fact]
    public async Task Clean_completion_between_frames()
    {
        var pipe = new Pipe();
        await pipe.Writer.CompleteAsync();
        var r = await new P9FrameReader(pipe.Reader).ReadAsync().AsTask().WaitAsync(Generous);
        Assert.Equal(P9ReadStatus.Completed, r.Status);
    }

    [Fact]
    public async Task Reading_again_without_release_is_a_programming_error()
    {
        var pipe = new Pipe();
        var all = SampleFrames().SelectMany(f => f).ToArray();
        await pipe.Writer.WriteAsync(all);
        var reader = new P9FrameReader(pipe.Reader);
        Assert.Equal(P9ReadStatus.Frame, (await reader.ReadAsync()).Status);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await reader.ReadAsync());
    }

    [Fact]
    public async Task Owned_copy_outlives_release_and_decodes()
    {
        var frames = SampleFrames();
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(frames.SelectMany(f => f).ToArray());
        var reader = new P9FrameReader(pipe.Reader, 65536);
        OwnedFrame owned = default;
        for (int i = 0; i < 3; i++)
        {
            var r = await reader.ReadAsync();
            if (i == 2)
                owned = r.Frame.CopyToOwned();
            reader.Release();
        }
        // Read on so the pipe reuses memory; the owned copy must be unaffected.
        Assert.Equal(P9ReadStatus.Frame, (await reader.ReadAsync()).Status);
        reader.Release();
        using (owned)
        {
            Assert.Equal(P9DecodeError.None, FrameHeader.TryReadRequest(owned.Span, out var h));
            Assert.Equal(P9MessageType.Twalk, h.Type);
            Assert.Equal(P9DecodeError.None, Twalk.TryDecode(owned.Span, out var walk));
            Assert.Equal(new[] { "usr", "bin" }, Wire.TestData.Names(walk.Wnames));
        }
    }

    [Fact]
    public void Scanner_on_a_span()
    {
        var f = SampleFrames()[2];
        Assert.Equal(FrameScanStatus.NeedMoreData, P9FrameScanner.Scan(f.AsSpan(0, 3), 8192, out _, out _));
        Assert.Equal(FrameScanStatus.NeedMoreData, P9FrameScanner.Scan(f.AsSpan(0, f.Length - 1), 8192, out _, out _));
        Assert.Equal(FrameScanStatus.Frame, P9FrameScanner.Scan(f, 8192, out int len, out _));
        Assert.Equal(f.Length, len);
        Assert.Equal(FrameScanStatus.Error, P9FrameScanner.Scan(f, (uint)f.Length - 1, out _, out var e));
        Assert.Equal(P9DecodeError.FrameTooLarge, e);
    }
}

internal sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Build(byte[] all, Func<int> chunk)
    {
        Segments? first = null, last = null;
        for (int pos = 0; pos < all.Length;)
        {
            int n = Math.Min(chunk(), all.Length - pos);
            var seg = new Segments(all.AsMemory(pos, n).ToArray(), pos);
            if (last is null)
                first = seg;
            else
                last.Next = seg;
            last = seg;
            pos += n;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }
}
