using System.Buffers;
using System.IO.Pipelines;
using P9.Protocol.Framing;
using P9.Protocol.Wire;

namespace Gofer.Fuzz;

/// <summary>
/// Codec target: any bytes are a stream of 9P frames (either direction). Checked:
/// <list type="bullet">
/// <item>framing, header reads, the TryDecode of every frame's type, ToString and P9Trace.Format never throw;</item>
/// <item>P9Trace.Format agrees with the decoder (the decoded message's line, or a "&lt;bad frame" line);</item>
/// <item>differential: the input scanned as one span (P9FrameScanner) and the same input written into an in-memory
/// Pipe in segments of input-derived sizes and read by P9FrameReader give the same frames, decode results and end
/// (clean end, truncated stream or framing error).</item>
/// </list>
/// The frame limit follows the server's rule: 8192 until a Tversion/Rversion decodes, then its msize (capped at
/// 1 MiB + 24, the server's largest), so both paths see the same limits.
/// </summary>
public static class CodecTarget
{
    private const uint MsizeCap = (1024 * 1024) + 24;

    public static void Run(ReadOnlySpan<byte> input)
    {
        var whole = ScanWhole(input);
        var random = new InputRandom(input);
        var piecewise = ReadThroughPipe(input.ToArray(), ref random);
        if (whole.Count != piecewise.Count)
            throw new FuzzFindingException($"span scan gave {whole.Count} events, pipe reader gave {piecewise.Count}: {Diff(whole, piecewise)}");
        for (int i = 0; i < whole.Count; i++)
        {
            if (whole[i] != piecewise[i])
                throw new FuzzFindingException($"event {i} differs: span '{whole[i]}' vs pipe '{piecewise[i]}'");
        }
    }

    private static string Diff(List<string> a, List<string> b)
    {
        int n = Math.Min(a.Count, b.Count);
        for (int i = 0; i < n; i++)
        {
            if (a[i] != b[i])
                return $"first difference at {i}: '{a[i]}' vs '{b[i]}'";
        }
        return $"common prefix of {n}; next: '{(a.Count > n ? a[n] : b[n])}'";
    }

    private static List<string> ScanWhole(ReadOnlySpan<byte> input)
    {
        var events = new List<string>();
        uint max = P9Constants.PreVersionMaxFrame;
        var rest = input;
        while (true)
        {
            var status = P9FrameScanner.Scan(rest, max, out int length, out var error);
            if (status == FrameScanStatus.Error)
            {
                events.Add("error " + error);
                return events;
            }
            if (status == FrameScanStatus.NeedMoreData)
            {
                events.Add(rest.IsEmpty ? "completed" : "error " + P9DecodeError.TruncatedStream);
                return events;
            }
            if (length < P9Constants.HeaderSize || length > rest.Length)
                throw new FuzzFindingException($"scanner returned frame length {length} with {rest.Length} bytes buffered");
            events.Add(DecodeFrame(rest[..length], ref max));
            rest = rest[length..];
        }
    }

    private static List<string> ReadThroughPipe(byte[] input, ref InputRandom random)
    {
        var events = new List<string>();
        // Small segments so frames routinely straddle pipe segments (the copy path of the reader); inline schedulers
        // so the whole exchange runs on this thread and is deterministic.
        var pipe = new Pipe(new PipeOptions(
            pool: ExactPool.Instance,
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: 0,
            minimumSegmentSize: random.Between(8, 128),
            useSynchronizationContext: false));
        var frames = new P9FrameReader(pipe.Reader);
        uint max = P9Constants.PreVersionMaxFrame;
        int written = 0;
        bool completed = false;
        while (true)
        {
            var pending = frames.ReadAsync();
            while (!pending.IsCompleted)
            {
                if (completed)
                    throw new FuzzFindingException("P9FrameReader still waiting after the writer completed");
                if (written < input.Length)
                {
                    int n = Math.Min(input.Length - written, NextSegment(ref random));
                    pipe.Writer.Write(input.AsSpan(written, n));
                    written += n;
                    var flush = pipe.Writer.FlushAsync();
                    if (!flush.IsCompleted)
                        throw new FuzzFindingException("flush did not complete with pauseWriterThreshold 0");
                    flush.GetAwaiter().GetResult();
                }
                else
                {
                    pipe.Writer.Complete();
                    completed = true;
                }
            }
            var result = pending.GetAwaiter().GetResult();
            switch (result.Status)
            {
                case P9ReadStatus.Frame:
                    events.Add(DecodeFrame(result.Frame.Span, ref max));
                    frames.Release();
                    frames.MaxFrameSize = max;
                    continue;
                case P9ReadStatus.Completed:
                    events.Add("completed");
                    break;
                case P9ReadStatus.Error:
                    events.Add("error " + result.Error);
                    break;
                default:
                    throw new FuzzFindingException("unexpected read status " + result.Status);
            }
            pipe.Reader.Complete();
            if (!completed)
                pipe.Writer.Complete();
            return events;
        }
    }

    private static int NextSegment(ref InputRandom random) => (random.Next() % 8) switch
    {
        0 => 1,
        1 => random.Between(2, 6),
        2 or 3 => random.Between(7, 40),
        4 or 5 => random.Between(41, 300),
        _ => random.Between(301, 9000),
    };

    /// <summary>Header checks, the message's own decoder, its ToString, the trace formatter: one line per frame.</summary>
    private static string DecodeFrame(ReadOnlySpan<byte> frame, ref uint max)
    {
        var headerError = FrameHeader.TryRead(frame, out var header);
        var requestError = FrameHeader.TryReadRequest(frame, out _);
        var replyError = FrameHeader.TryReadReply(frame, out _);
        string trace = P9Trace.Format(frame);
        if (headerError != P9DecodeError.None)
            throw new FuzzFindingException($"a scanned frame failed the header check: {headerError}");
        if (requestError != P9DecodeError.None && replyError != P9DecodeError.None && P9MessageTypes.Classify(header.TypeByte) is P9TypeClass.Request or P9TypeClass.Reply)
            throw new FuzzFindingException($"type {header.TypeByte} is neither a request nor a reply: {requestError}/{replyError}");

        var decodeError = FrameDecoder.Decode(frame, header.Type, out string? text);
        if (decodeError == P9DecodeError.None)
        {
            if (text != trace)
                throw new FuzzFindingException($"trace '{trace}' differs from the decoded message '{text}'");
            if (header.Type == P9MessageType.Tversion && Tversion.TryDecode(frame, out var tv) == P9DecodeError.None)
                max = Math.Min(tv.Msize, MsizeCap);
            else if (header.Type == P9MessageType.Rversion && Rversion.TryDecode(frame, out var rv) == P9DecodeError.None)
                max = Math.Min(rv.Msize, MsizeCap);
        }
        else if (!trace.StartsWith("<bad frame", StringComparison.Ordinal))
        {
            throw new FuzzFindingException($"decoder said {decodeError} but the trace rendered '{trace}'");
        }
        ulong hash = new InputRandom(frame).Next();
        return $"frame {frame.Length} {hash:x16} {decodeError} {text}";
    }

    /// <summary>A pool handing out blocks of exactly the requested size, so segment boundaries follow the writes.</summary>
    private sealed class ExactPool : MemoryPool<byte>
    {
        public static readonly ExactPool Instance = new();

        public override int MaxBufferSize => int.MaxValue;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => new Block(minBufferSize <= 0 ? 16 : minBufferSize);

        protected override void Dispose(bool disposing)
        {
        }

        private sealed class Block(int size) : IMemoryOwner<byte>
        {
            public Memory<byte> Memory { get; } = new byte[size];

            public void Dispose()
            {
            }
        }
    }
}
