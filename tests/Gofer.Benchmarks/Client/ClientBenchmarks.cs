using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using P9.Protocol.Client;
using P9.Protocol.Framing;
using P9.Protocol.Wire;

namespace Gofer.Benchmarks.Client;

/// <summary>
/// P9Client round trips over in-memory pipes against an in-process responder that answers without allocating, so
/// the MemoryDiagnoser column is the client's own cost per request (expected: 0 B). Latency here is pipe hand-off,
/// not a network figure.
/// </summary>
[MemoryDiagnoser]
public class ClientRoundTripBenchmarks
{
    private const int CallsPerOp = 64;
    private readonly byte[] _readBuffer = new byte[4096];
    private P9Client _client = null!;
    private P9Fid _root = null!;
    private Task _responder = Task.CompletedTask;
    private Pipe _toServer = null!;
    private Pipe _toClient = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = new PipeOptions(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, pauseWriterThreshold: 0);
        _toServer = new Pipe(options);
        _toClient = new Pipe(options);
        _responder = Task.Run(RespondAsync);
        _client = P9Client.ConnectAsync(new Duplex(_toClient.Reader, _toServer.Writer), new P9ClientOptions { MaxMessageSize = 65536 }).GetAwaiter().GetResult();
        _root = _client.AttachAsync("bench", "").AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _toClient.Writer.Complete();
        _responder.GetAwaiter().GetResult();
    }

    [Benchmark(OperationsPerInvoke = CallsPerOp)]
    public async Task GetAttr()
    {
        for (int i = 0; i < CallsPerOp; i++)
            await _root.GetAttrAsync();
    }

    [Benchmark(OperationsPerInvoke = CallsPerOp)]
    public async Task Read4KiB()
    {
        for (int i = 0; i < CallsPerOp; i++)
            await _root.ReadAsync(0, _readBuffer);
    }

    private sealed record Duplex(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    private async Task RespondAsync()
    {
        var frames = new P9FrameReader(_toServer.Reader, 1 << 20);
        var payload = new byte[4096];
        while (true)
        {
            var r = await frames.ReadAsync();
            if (r.Status != P9ReadStatus.Frame)
                return;
            try
            {
                var frame = r.Frame.Span;
                FrameHeader.TryReadRequest(frame, out var h);
                var w = _toClient.Writer;
                switch (h.Type)
                {
                    case P9MessageType.Tversion:
                        Rversion.Encode(w, h.Tag, 65536, "9P2000.L"u8);
                        break;
                    case P9MessageType.Tattach:
                        Rattach.Encode(w, h.Tag, new Qid(QidType.Dir, 0, 1));
                        break;
                    case P9MessageType.Tgetattr:
                        Rgetattr.Encode(w, h.Tag, GetattrMask.Basic, new Qid(0, 0, 2), 0x81A4, 0, 0, 1, 0, 4096, 4096, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
                        break;
                    case P9MessageType.Tread:
                        Tread.TryDecode(frame, out var tr);
                        Rread.Encode(w, h.Tag, payload.AsSpan(0, (int)Math.Min(tr.Count, (uint)payload.Length)));
                        break;
                    case P9MessageType.Tclunk:
                        Rclunk.Encode(w, h.Tag);
                        break;
                    default:
                        Rlerror.Encode(w, h.Tag, LinuxErrno.ENOSYS);
                        break;
                }
            }
            finally
            {
                frames.Release();
            }
            var flush = await _toClient.Writer.FlushAsync();
            if (flush.IsCompleted)
                return;
        }
    }
}
