using System.Buffers;
using System.IO.Pipelines;
using System.Reflection;
using Gofer.HostFs;
using Gofer.Server;
using Microsoft.Extensions.Logging.Abstractions;
using P9.Protocol.Framing;
using P9.Protocol.Wire;

namespace Gofer.Fuzz;

/// <summary>
/// Session target: the input is a client→server byte stream (what a recorded connection sent). It is replayed, one
/// request at a time, into a real server <c>Session</c> over in-memory pipes, serving a fresh <see cref="ExportTree"/>.
/// Checked per request: exactly one reply, with the request's tag, of the matching R-type or Rlerror, within the
/// reply timeout; the connection closes only after a request the server must refuse by closing (a framing error, an
/// R-type, a frame above the limit) and never on any other. At the end: the server's fid table holds exactly the
/// fids the replies say exist, the session ends when the client closes and never with an internal error, no reply
/// comes unasked, and outside the export nothing changed (the canary's bytes, size, times, inode change time, and
/// the set of entries beside the export).
/// Sequential on purpose: each outcome depends only on the input, so a crash file replays exactly. Concurrency of
/// the server's workers still runs (slow requests go to the thread pool), just not overlapping client requests.
/// </summary>
public static class SessionTarget
{
    private static readonly FieldInfo FidsField = typeof(Session).GetField("_fids", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new InvalidOperationException("Session._fids not found: update SessionTarget to the server's fid table");

    /// <summary>How long a request may take to be answered before it counts as never answered. Generous: CI is
    /// loaded; GOFER_FUZZ_REPLY_TIMEOUT (seconds) overrides.</summary>
    public static TimeSpan ReplyTimeout { get; set; } = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("GOFER_FUZZ_REPLY_TIMEOUT"), out int s) && s > 0 ? s : 20);

    /// <summary>GOFER_FUZZ_VERBOSE=1: print each request and its reply (replay debugging).</summary>
    public static bool Verbose { get; set; } = Environment.GetEnvironmentVariable("GOFER_FUZZ_VERBOSE") == "1";

    /// <summary>Sees each request and its reply (the split command compares them with a recording); null when fuzzing.</summary>
    internal static Action<byte[], byte[]>? OnReply { get; set; }

    public static void Run(ReadOnlySpan<byte> input)
    {
        var bytes = input.ToArray();
        string root = Path.Combine(Path.GetTempPath(), "gofer-fuzz-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            string exportPath = ExportTree.Create(root);
            var before = OutsideState.Capture(root);
            if (HostExport.TryOpen(exportPath, new HostExportOptions(), out var export) != Gofer.HostFs.Native.Errno.None || export is null)
                throw new InvalidOperationException("cannot open the export " + exportPath);
            using (export)
                RunSession(bytes, export).GetAwaiter().GetResult();
            var after = OutsideState.Capture(root);
            before.AssertSame(after);
            // Content last: reading may move atime (strictatime mounts), so only after the stat comparison.
            if (!File.ReadAllBytes(Path.Combine(root, ExportTree.CanaryName)).AsSpan().SequenceEqual(ExportTree.CanaryContent))
                throw new FuzzFindingException("the canary's content changed");
        }
        finally
        {
            ExportTree.Delete(root);
        }
    }

    private static async Task RunSession(byte[] input, HostExport export)
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        var options = new ServerOptions { MaxFids = 64 };
        var session = new Session(new DuplexPipe(toServer.Reader, toClient.Writer), export, options, NullLoggerFactory.Instance);
        var fidTable = (FidTable)FidsField.GetValue(session)!;
        var run = Task.Run(session.RunAsync);
        var replies = new P9FrameReader(toClient.Reader, 64 * 1024 * 1024);
        var model = new HashSet<uint>();
        uint maxFrame = P9Constants.PreVersionMaxFrame;
        bool closedByServer = false;
        int offset = 0;
        try
        {
            while (offset < input.Length)
            {
                var status = P9FrameScanner.Scan(input.AsSpan(offset), int.MaxValue, out int length, out _);
                if (status != FrameScanStatus.Frame)
                    break; // a size below 7 or a partial frame: sent below as the tail, which the server must refuse
                var frame = input.AsMemory(offset, length);
                offset += length;
                var headerError = FrameHeader.TryReadRequest(frame.Span, out var header);
                bool mustClose = headerError.IsFatal() || frame.Length > maxFrame;
                await toServer.Writer.WriteAsync(frame).ConfigureAwait(false);
                if (mustClose)
                {
                    await ExpectClose(replies, P9Trace.Format(frame.Span)).ConfigureAwait(false);
                    closedByServer = true;
                    break;
                }

                var reply = await ReadReply(replies, frame).ConfigureAwait(false);
                OnReply?.Invoke(frame.ToArray(), reply.Span.ToArray());
                if (Verbose)
                    Console.WriteLine($"{P9Trace.Format(frame.Span)}\n  -> {P9Trace.Format(reply.Span)}");
                try
                {
                    Check(frame.Span, header, reply.Span, model, ref maxFrame);
                }
                finally
                {
                    reply.Dispose();
                }
            }

            if (!closedByServer && offset < input.Length)
            {
                // Tail: a bad size field or a truncated frame. The server must close without answering.
                await toServer.Writer.WriteAsync(input.AsMemory(offset)).ConfigureAwait(false);
                await toServer.Writer.CompleteAsync().ConfigureAwait(false);
                await ExpectClose(replies, $"{input.Length - offset} tail bytes").ConfigureAwait(false);
                closedByServer = true;
            }

            if (!closedByServer)
            {
                // Every request answered: the fid table must be what the replies said.
                int count = fidTable.Count;
                if (count != model.Count)
                    throw new FuzzFindingException($"fid table holds {count} fids, the replies account for {model.Count} ({string.Join(',', model)})");
                foreach (uint fid in model)
                {
                    if (!fidTable.Contains(fid))
                        throw new FuzzFindingException($"fid {fid} was granted by a reply but is missing from the fid table");
                }
                await toServer.Writer.CompleteAsync().ConfigureAwait(false);
                await ExpectClose(replies, "the client closing").ConfigureAwait(false);
            }
        }
        finally
        {
            await toServer.Writer.CompleteAsync().ConfigureAwait(false);
            await toClient.Reader.CompleteAsync().ConfigureAwait(false);
        }

        if (await Task.WhenAny(run, Task.Delay(ReplyTimeout)).ConfigureAwait(false) != run)
            throw new FuzzFindingException("the session did not end after the connection closed");
        await run.ConfigureAwait(false);
        if (session.CloseReason is { } reason && reason.StartsWith("internal error", StringComparison.Ordinal))
            throw new FuzzFindingException("session ended with " + reason);
    }

    private static async Task<OwnedFrame> ReadReply(P9FrameReader replies, ReadOnlyMemory<byte> request)
    {
        using var cts = new CancellationTokenSource(ReplyTimeout);
        P9FrameReadResult result;
        try
        {
            result = await replies.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new FuzzFindingException($"no reply within {ReplyTimeout.TotalSeconds:0} s to {P9Trace.Format(request.Span)}");
        }
        if (result.Status != P9ReadStatus.Frame)
            throw new FuzzFindingException($"server ended the connection ({result.Status} {result.Error}) instead of answering {P9Trace.Format(request.Span)}");
        var owned = result.Frame.CopyToOwned();
        replies.Release();
        return owned;
    }

    private static async Task ExpectClose(P9FrameReader replies, string after)
    {
        using var cts = new CancellationTokenSource(ReplyTimeout);
        P9FrameReadResult result;
        try
        {
            result = await replies.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new FuzzFindingException($"connection still open {ReplyTimeout.TotalSeconds:0} s after {after}");
        }
        if (result.Status == P9ReadStatus.Frame)
        {
            string text = P9Trace.Format(result.Frame.Span);
            replies.Release();
            throw new FuzzFindingException($"unasked reply '{text}' after {after}");
        }
    }

    private static void Check(ReadOnlySpan<byte> request, FrameHeader header, ReadOnlySpan<byte> reply, HashSet<uint> model, ref uint maxFrame)
    {
        var replyError = FrameHeader.TryReadReply(reply, out var rh);
        if (replyError != P9DecodeError.None)
            throw new FuzzFindingException($"malformed reply ({replyError}) to {P9Trace.Format(request)}");
        if (rh.Tag != header.Tag)
            throw new FuzzFindingException($"reply tag {rh.Tag} to request tag {header.Tag}: {P9Trace.Format(reply)} for {P9Trace.Format(request)}");
        if (FrameDecoder.Decode(reply, rh.Type, out _) != P9DecodeError.None)
            throw new FuzzFindingException($"reply does not decode: {P9Trace.Format(reply)}");
        bool ok = rh.TypeByte == header.TypeByte + 1;
        if (!ok && rh.Type != P9MessageType.Rlerror)
            throw new FuzzFindingException($"reply type {rh.Type} to {P9Trace.Format(request)}");
        if (rh.Type == P9MessageType.Rlerror && Rlerror.TryDecode(reply, out var le) == P9DecodeError.None && le.Ecode == 0)
            throw new FuzzFindingException($"Rlerror with errno 0 to {P9Trace.Format(request)}");

        switch (header.Type)
        {
            case P9MessageType.Tversion when Tversion.TryDecode(request, out var v) == P9DecodeError.None:
                model.Clear();
                if (ok && Tversion.IsDotL(v.Version) && v.Msize >= P9Constants.MinMsize && Rversion.TryDecode(reply, out var rv) == P9DecodeError.None)
                {
                    if (rv.Msize > v.Msize)
                        throw new FuzzFindingException($"Rversion msize {rv.Msize} above the asked {v.Msize}");
                    maxFrame = rv.Msize;
                }
                break;
            case P9MessageType.Tattach when ok && Tattach.TryDecode(request, out var a) == P9DecodeError.None:
                model.Add(a.Fid);
                break;
            case P9MessageType.Twalk when ok && Twalk.TryDecode(request, out var w) == P9DecodeError.None:
                if (Rwalk.TryDecode(reply, out var rw) == P9DecodeError.None && rw.Qids.Count > w.Wnames.Count)
                    throw new FuzzFindingException($"Rwalk with {rw.Qids.Count} qids for {w.Wnames.Count} names");
                if (rw.Qids.Count == w.Wnames.Count)
                    model.Add(w.Newfid);
                else if (rw.Qids.Count == 0)
                    throw new FuzzFindingException("Rwalk with no qid for a walk of names (the first failure must be Rlerror)");
                break;
            case P9MessageType.Txattrwalk when ok && Txattrwalk.TryDecode(request, out var x) == P9DecodeError.None:
                model.Add(x.Newfid);
                break;
            case P9MessageType.Tclunk when Tclunk.TryDecode(request, out var c) == P9DecodeError.None:
                // An error with a granted fid is legitimate (a Txattrcreate applied at clunk may fail); success without one is not.
                if (!model.Remove(c.Fid) && ok)
                    throw new FuzzFindingException($"Tclunk of fid {c.Fid} succeeded, but no reply ever granted that fid");
                break;
            case P9MessageType.Tremove when Tremove.TryDecode(request, out var r) == P9DecodeError.None:
                model.Remove(r.Fid);
                break;
            case P9MessageType.Tmknod when ok && Tmknod.TryDecode(request, out var mk) == P9DecodeError.None:
                uint kind = mk.Mode & 0xF000;
                if (kind is 0x2000 or 0x6000)
                    throw new FuzzFindingException($"the server created a device node: {P9Trace.Format(request)}");
                break;
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
