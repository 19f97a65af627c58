using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using P9.Protocol.Framing;
using P9.Protocol.Wire;

namespace Gofer.Benchmarks.Codec;

/// <summary>Steady-state server read loop: frames already buffered in the pipe, read + header check + release.
/// Shows whether the framing layer allocates per frame.</summary>
[MemoryDiagnoser]
public class CodecFrameReaderBenchmarks
{
    private const int FramesPerOp = 64;
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 0));
    private P9FrameReader _reader = null!;
    private byte[] _batch = [];
    private int _tags;

    /// <summary>Keeps the loop's result observable without a Task&lt;int&gt; result allocation.</summary>
    public int Tags => _tags;

    [GlobalSetup]
    public void Setup()
    {
        _reader = new P9FrameReader(_pipe.Reader, 65536);
        var one = new byte[64];
        int n = Tread.Encode(one, 1, 1, 0, 4096);
        _batch = new byte[n * FramesPerOp];
        for (int i = 0; i < FramesPerOp; i++)
            one.AsSpan(0, n).CopyTo(_batch.AsSpan(i * n));
    }

    [Benchmark(OperationsPerInvoke = FramesPerOp)]
    public async Task ReadBufferedFrames()
    {
        await _pipe.Writer.WriteAsync(_batch);
        int tags = 0;
        for (int i = 0; i < FramesPerOp; i++)
        {
            var r = await _reader.ReadAsync();
            FrameHeader.TryReadRequest(r.Frame.Span, out var h);
            tags += h.Tag;
            _reader.Release();
        }
        _tags = tags;
    }
}
