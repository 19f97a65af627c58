using System.Buffers;
using System.IO.Pipelines;
using P9.Protocol.Client;
using P9.Protocol.Framing;
using P9.Protocol.Wire;

namespace P9.Protocol.Tests.Client;

/// <summary>
/// A scripted 9P server over in-memory pipes: the test reads the client's raw request frames and writes raw reply
/// frames, in whatever order and shape it likes (out of order, hostile, truncated).
/// </summary>
internal sealed class FakeServer : IAsyncDisposable
{
    public static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private readonly Pipe _toServer;
    private readonly Pipe _toClient;
    private readonly P9FrameReader _frames;

    /// <param name="inline">Run pipe continuations inline instead of via PipeScheduler.ThreadPool, whose
    /// QueueUserWorkItem allocates a work item per wake-up: the allocation test measures the client, not that.</param>
    public FakeServer(uint msize, bool inline = false)
    {
        var scheduler = inline ? PipeScheduler.Inline : PipeScheduler.ThreadPool;
        _toServer = new Pipe(new PipeOptions(readerScheduler: scheduler, writerScheduler: scheduler, pauseWriterThreshold: 0));
        _toClient = new Pipe(new PipeOptions(readerScheduler: scheduler, writerScheduler: scheduler, pauseWriterThreshold: 0));
        Msize = msize;
        _frames = new P9FrameReader(_toServer.Reader, 1 << 24);
    }

    public uint Msize { get; }

    public IDuplexPipe ClientSide => new Duplex(_toClient.Reader, _toServer.Writer);

    public PipeWriter Output => _toClient.Writer;

    private sealed record Duplex(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    /// <summary>Starts a client against a fresh fake server and answers its Tversion.</summary>
    public static async Task<(P9Client Client, FakeServer Server)> StartAsync(uint msize = 8192, int maxInFlight = 1024, bool inline = false)
    {
        var server = new FakeServer(msize, inline);
        var connect = P9Client.ConnectAsync(server.ClientSide, new P9ClientOptions { MaxMessageSize = msize, MaxRequestsInFlight = maxInFlight });
        var tversion = await server.ReadAsync();
        Assert.Equal(P9MessageType.Tversion, tversion.Type);
        Assert.Equal(P9Constants.NoTag, tversion.Tag);
        await server.SendAsync(w => Rversion.Encode(w, P9Constants.NoTag, msize, "9P2000.L"));
        var client = await connect.WaitAsync(Generous);
        return (client, server);
    }

    /// <summary>Reads one request frame (copied).</summary>
    public async Task<Request> ReadAsync()
    {
        var r = await _frames.ReadAsync().AsTask().WaitAsync(Generous);
        Assert.Equal(P9ReadStatus.Frame, r.Status);
        try
        {
            var bytes = r.Frame.Span.ToArray();
            Assert.Equal(P9DecodeError.None, FrameHeader.TryReadRequest(bytes, out var h));
            return new Request(bytes, h.Type, h.Tag);
        }
        finally
        {
            _frames.Release();
        }
    }

    public async Task SendAsync(Action<IBufferWriter<byte>> encode)
    {
        encode(_toClient.Writer);
        await _toClient.Writer.FlushAsync();
    }

    public async Task SendRawAsync(byte[] bytes)
    {
        await _toClient.Writer.WriteAsync(bytes);
    }

    /// <summary>Attaches (fid chosen by the client) and returns the handle.</summary>
    public async Task<P9Fid> AttachAsync(P9Client client)
    {
        var attach = client.AttachAsync("u", "").AsTask();
        var t = await ReadAsync();
        Assert.Equal(P9MessageType.Tattach, t.Type);
        await SendAsync(w => Rattach.Encode(w, t.Tag, new Qid(QidType.Dir, 0, 1)));
        return await attach.WaitAsync(Generous);
    }

    private static readonly byte[] ReadPayload = new byte[4096];

    /// <summary>Answers requests until the client goes away: Tgetattr → Rgetattr (size = fid), Tread → up to 4 KiB of zeros, Tclunk → Rclunk,
    /// anything else → Rlerror ENOSYS. Allocation-free, so the client's allocations can be measured in-process.</summary>
    public async Task AutoAnswerAsync()
    {
        while (true)
        {
            var r = await _frames.ReadAsync();
            if (r.Status != P9ReadStatus.Frame)
                return;
            try
            {
                var frame = r.Frame.Span;
                FrameHeader.TryReadRequest(frame, out var h);
                switch (h.Type)
                {
                    case P9MessageType.Tgetattr:
                        Tgetattr.TryDecode(frame, out var g);
                        Rgetattr.Encode(_toClient.Writer, h.Tag, GetattrMask.Basic, new Qid(0, 0, g.Fid), 0x81A4, 0, 0, 1, 0, g.Fid, 4096, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
                        break;
                    case P9MessageType.Tclunk:
                        Rclunk.Encode(_toClient.Writer, h.Tag);
                        break;
                    case P9MessageType.Tread:
                        Tread.TryDecode(frame, out var rd);
                        Rread.Encode(_toClient.Writer, h.Tag, ReadPayload.AsSpan(0, (int)Math.Min(rd.Count, (uint)ReadPayload.Length)));
                        break;
                    default:
                        Rlerror.Encode(_toClient.Writer, h.Tag, LinuxErrno.ENOSYS);
                        break;
                }
            }
            finally
            {
                _frames.Release();
            }
            var flush = await _toClient.Writer.FlushAsync();
            if (flush.IsCompleted)
                return;
        }
    }

    /// <summary>The server hangs up.</summary>
    public async Task CloseAsync() => await _toClient.Writer.CompleteAsync();

    public async ValueTask DisposeAsync()
    {
        await _toClient.Writer.CompleteAsync();
        await _toServer.Reader.CompleteAsync();
    }

    internal readonly record struct Request(byte[] Bytes, P9MessageType Type, ushort Tag);
}
