using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Gofer.HostFs;
using Gofer.HostFs.Native;
using Microsoft.Extensions.Logging;
using P9.Protocol.Framing;
using P9.Protocol.Wire;

namespace Gofer.Server;

/// <summary>
/// One 9P2000.L session over one connection (any IDuplexPipe: socket, in-memory pipe).
/// <para>
/// Flow: one read loop takes every complete frame in each buffer the PipeReader hands it. Cheap requests (getattr,
/// walk, clunk, lopen, small read/write, …) run inline on the read loop, their replies appended to one batch buffer
/// that is committed to the output once per read (one copy, one flush). Requests that may be slow (readdir, fsync,
/// big I/O, creates, renames, unlinks) are copied into a pooled <see cref="Request"/> and queued on the thread pool;
/// their replies are committed as they complete (completion order). At most MaxInFlight run at once; when full the
/// read loop stops reading (back-pressure reaches the peer through the socket).
/// </para>
/// <para>
/// Output: exactly one thread at a time writes to and flushes the PipeWriter (the "flusher"). A committer that finds
/// no flusher becomes it and writes straight into the pipe; otherwise it queues its whole buffer (no copy), which the
/// flusher moves into the pipe after its flush completes. So PipeWriter is never used concurrently and a slow peer
/// only ever delays replies, never a worker's syscall.
/// </para>
/// </summary>
internal sealed partial class Session : IDisposable
{
    private enum FrameAction
    {
        Done,
        WaitSlot,
        WaitDrain,
        Close,
    }

    private const int BatchCommitThreshold = 256 * 1024;

    private static long s_nextId;

    private readonly IDuplexPipe _pipe;
    private readonly IFrameLender? _lender;   // the socket reader, when frames can be lent to workers in place
    private readonly IDirectSender? _directSender; // the socket writer, when big replies can be sent without a copy
    private readonly IFileSplicer? _splicer;  // the socket reader, when a big Twrite's payload can be spliced into the file
    private const int DirectSendMin = 64 * 1024;
    private const int SpliceWriteMin = 128 * 1024; // smaller Twrites arrive whole in one receive anyway
    private readonly HostExport _export;
    private readonly ServerOptions _options;
    private readonly ILogger _log;
    private readonly ILogger _traceLog;
    private readonly bool _trace;
    private readonly FidTable _fids;
    private readonly XattrBudget _xattrBudget;
    private readonly SemaphoreSlim _slots;
    private ReplyBuffer _batch = new(64 * 1024);

    // Tags of requests queued or running on workers (inline requests finish before the next frame is read).
    private readonly Lock _tagGate = new();
    private readonly Dictionary<ushort, Request> _inFlight = [];
    private readonly Stack<Request> _pool = new();
    private int _active;               // dispatched and not yet fully answered (reply committed or dropped)
    private int _epoch;                // bumped by Tversion: replies of older epochs are dropped
    private TaskCompletionSource? _drained;

    // Output.
    private readonly Lock _outGate = new();
    private readonly Queue<ReplyBuffer> _queued = new();  // whole reply buffers waiting for the flusher
    private readonly Stack<ReplyBuffer> _free = new();     // emptied buffers handed back to committers
    private long _queuedBytes;
    private bool _flushing;
    private bool _outputDead;
    private TaskCompletionSource? _outputDrained;
    private readonly ManualResetEventSlim _drainedEvent = new(false); // the same, for a read loop on its own thread
    private bool _drainWaiter;
    private ValueTask<FlushResult> _pendingFlush; // the flusher's flush that did not complete at once
    private Action? _onFlushed;

    // Session state (read loop only, except _msize read by workers after a Tversion barrier).
    private uint _msize;
    private uint _maxFrame = P9Constants.PreVersionMaxFrame;
    private bool _versioned;
    private byte[] _join = [];

    // Watchdog.
    private readonly long _connectedAt = Environment.TickCount64;
    private long _partialSince;        // TickCount64 when the current partial frame began, 0 when none
    private volatile string? _abortReason;
    private Timer? _watchdog;

    public Session(IDuplexPipe pipe, HostExport export, ServerOptions options, ILoggerFactory loggerFactory)
    {
        _pipe = pipe;
        _lender = pipe.Input as IFrameLender;
        _directSender = pipe.Output as IDirectSender;
        _splicer = pipe.Input as IFileSplicer;
        _export = export;
        _options = options;
        _log = loggerFactory.CreateLogger("Gofer.Server");
        _traceLog = loggerFactory.CreateLogger("Gofer.Server.Trace");
        _trace = options.Trace && _traceLog.IsEnabled(LogLevel.Debug);
        _fids = new FidTable(options.MaxFids);
        _xattrBudget = new XattrBudget(options.MaxXattrBytes);
        _slots = new SemaphoreSlim(options.MaxInFlight, options.MaxInFlight);
        Id = Interlocked.Increment(ref s_nextId);
    }

    public long Id { get; }

    /// <summary>
    /// Set when <see cref="RunAsync"/> is called on the connection's own thread whose reads block (see
    /// <see cref="SocketPipe.BindReaderToCurrentThread"/>): the read loop then never yields that thread.
    /// </summary>
    public bool SynchronousReadLoop { get; init; }

    /// <summary>Why the session ended (first reason recorded).</summary>
    public string? CloseReason { get; private set; }

    internal uint Msize => _msize;

    /// <summary>Ends the session from outside (shutdown): the read loop stops, in-flight work finishes or is dropped.</summary>
    public void Abort(string reason)
    {
        _abortReason ??= reason;
        _pipe.Input.CancelPendingRead();
    }

    /// <summary>Serves until the peer closes, a framing error, a timeout or <see cref="Abort"/>. Never throws for peer behaviour.</summary>
    public async Task RunAsync()
    {
        _watchdog = new Timer(static s => ((Session)s!).Watchdog(), this, _options.WatchdogPeriod, _options.WatchdogPeriod);
        string reason;
        bool dropped = false;
        try
        {
            (reason, dropped) = await ReadLoopAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            reason = "transport error: " + e.Message;
        }
        catch (Exception e)
        {
            ServerLog.ConnectionFailed(_log, Id, e);
            reason = "internal error: " + e.GetType().Name;
            dropped = true;
        }

        CloseReason = reason;
        await _watchdog.DisposeAsync().ConfigureAwait(false);
        await EndAllWorkAsync().ConfigureAwait(false);
        _fids.Clear();
        if (dropped)
            ServerLog.ConnectionDropped(_log, Id, reason);
        else
            ServerLog.ConnectionClosed(_log, Id, reason);
        lock (_outGate)
            _outputDead = true;
        await _pipe.Input.CompleteAsync().ConfigureAwait(false);
        await _pipe.Output.CompleteAsync().ConfigureAwait(false);
        lock (_tagGate)
        {
            while (_pool.Count > 0)
                _pool.Pop().Release();
        }
        _batch.Release();
    }

    private async Task<(string Reason, bool Dropped)> ReadLoopAsync()
    {
        var input = _pipe.Input;
        while (true)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            if (result.IsCanceled)
            {
                input.AdvanceTo(result.Buffer.Start);
                return (_abortReason ?? "cancelled", _abortReason is not null && _abortReason.StartsWith("timeout", StringComparison.Ordinal));
            }

            var buffer = result.Buffer;
            var consumed = buffer.Start;
            var examined = buffer.End;
            var action = FrameAction.Done;
            string? fault = null;
            while (true)
            {
                var status = P9FrameScanner.Scan(buffer, _maxFrame, out int length, out var error);
                if (status == FrameScanStatus.NeedMoreData)
                {
                    if (buffer.Length >= P9Constants.WriteRequestHeaderSize && TrySpliceWrite(buffer))
                    {
                        // The whole Twrite, its payload taken straight from the socket into the file, is done.
                        buffer = buffer.Slice(buffer.End);
                        consumed = examined = buffer.Start;
                    }
                    break;
                }
                if (status == FrameScanStatus.Error)
                {
                    fault = error.Describe();
                    action = FrameAction.Close;
                    break;
                }

                var frame = buffer.Slice(0, length);
                action = frame.IsSingleSegment ? ProcessFrame(frame.FirstSpan, out fault) : ProcessJoined(frame, out fault);
                if (action is FrameAction.WaitSlot or FrameAction.WaitDrain)
                {
                    examined = consumed; // the frame stays in the pipe and is processed again after the wait
                    break;
                }

                buffer = buffer.Slice(length);
                consumed = buffer.Start;
                if (action == FrameAction.Close)
                    break;
                if (_batch.Length >= BatchCommitThreshold)
                    CommitBatch();
            }

            if (action is FrameAction.WaitSlot or FrameAction.WaitDrain || buffer.IsEmpty)
                _partialSince = 0;
            else if (_partialSince == 0)
                _partialSince = Environment.TickCount64;

            input.AdvanceTo(consumed, examined);
            CommitBatch();

            if (action == FrameAction.Close)
                return (fault ?? "closed", true);
            if (action == FrameAction.WaitSlot)
            {
                if (SynchronousReadLoop)
                    _slots.Wait();
                else
                    await _slots.WaitAsync().ConfigureAwait(false);
                _slots.Release(); // taken again by the dispatch that re-reads this frame
                continue;
            }
            if (action == FrameAction.WaitDrain)
            {
                Task? t;
                lock (_tagGate)
                    t = _drained?.Task;
                if (t is not null)
                    await WaitOnLoopAsync(t).ConfigureAwait(false);
                continue;
            }

            Task? outputWait = null;
            bool waitHere = false;
            lock (_outGate)
            {
                if (_flushing && _queuedBytes > _options.MaxPendingOutput && !_outputDead)
                {
                    if (SynchronousReadLoop)
                    {
                        // The connection's own thread waits on a reusable event: a slow reader of 1 MiB replies
                        // makes this frequent, and a Task per wait would be an allocation per wait.
                        _drainedEvent.Reset();
                        _drainWaiter = true;
                        waitHere = true;
                    }
                    else
                    {
                        outputWait = (_outputDrained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                    }
                }
            }
            if (waitHere)
                _drainedEvent.Wait();
            if (outputWait is not null)
                await outputWait.ConfigureAwait(false);

            if (result.IsCompleted)
                return buffer.IsEmpty ? ("peer closed the connection", false) : (P9DecodeError.TruncatedStream.Describe(), true);
        }
    }

    /// <summary>
    /// On a connection's own reader thread (<see cref="SynchronousReadLoop"/>) the loop blocks for the rare waits
    /// (back-pressure, Tversion draining): resuming on a pool thread would move the connection's reads there.
    /// </summary>
    private Task WaitOnLoopAsync(Task t)
    {
        if (!SynchronousReadLoop)
            return t;
        t.Wait();
        return Task.CompletedTask;
    }

    /// <summary>
    /// A big Twrite whose header has arrived but not its payload, on a connection with nothing else in flight: the
    /// payload goes from the socket into the file with splice(2) (one copy, into the page cache) instead of into the
    /// receive buffer and then through pwrite (two). Anything unusual — another request in flight, an unknown fid, a
    /// fid not open for writing, O_APPEND, an offset pwrite would refuse, tracing or recording — returns false and the
    /// frame takes the ordinary path once it has arrived, which gives the ordinary answers.
    /// </summary>
    private bool TrySpliceWrite(in ReadOnlySequence<byte> buffer)
    {
        if (_splicer is not { } splicer || !_versioned || _trace || _options.MetadataOnWorkers || !splicer.CanSplice)
            return false;
        ReadOnlySpan<byte> head = buffer.FirstSpan;
        const int H = P9Constants.WriteRequestHeaderSize; // size[4] Twrite tag[2] fid[4] offset[8] count[4]
        if (head.Length < H || head[4] != (byte)P9MessageType.Twrite)
            return false;
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(head);
        ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(head[5..]);
        uint fidNo = BinaryPrimitives.ReadUInt32LittleEndian(head[7..]);
        ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(head[11..]);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(head[19..]);
        if (count < SpliceWriteMin || size != H + count || size > _maxFrame || offset > long.MaxValue || count > long.MaxValue - (long)offset)
            return false;
        lock (_tagGate)
        {
            if (_active != 0 || _inFlight.Count != 0)
                return false;
        }
        if (!_fids.TryGet(fidNo, out var fid))
            return false;
        try
        {
            if (fid.IsXattrCreate || fid.Node is not { } node || !node.TryGetSpliceTarget(out var io) || !splicer.PrepareSplice())
                return false;

            ServerStats.CountRequest();
            ServerStats.CountSplicedWrite();
            Volatile.Write(ref _partialSince, Environment.TickCount64); // the partial-frame timeout covers the payload
            ReadOnlySpan<byte> arrived = head[H..];
            long written = 0;
            var error = Errno.None;
            if (!arrived.IsEmpty)
            {
                error = node.Write(offset, arrived, out int n);
                written = n;
            }
            bool intoFile = error == Errno.None && written == arrived.Length;
            written += splicer.SpliceToFile(intoFile ? io : null, (long)offset + written, count - arrived.Length, out var fileError);
            if (error == Errno.None)
                error = fileError;
            Volatile.Write(ref _partialSince, 0);

            if (written > 0 || error == Errno.None)
                Rwrite.Encode(_batch, tag, (uint)written);
            else
                Error(_batch, tag, error);
            return true;
        }
        finally
        {
            fid.Release();
        }
    }

    private FrameAction ProcessJoined(in ReadOnlySequence<byte> frame, out string? fault)
    {
        int length = (int)frame.Length;
        if (_join.Length < length)
            _join = new byte[Math.Max(length, 16 * 1024)];
        frame.CopyTo(_join);
        return ProcessFrame(_join.AsSpan(0, length), out fault);
    }

    private FrameAction ProcessFrame(ReadOnlySpan<byte> frame, out string? fault)
    {
        fault = null;
        ServerStats.CountRequest();
        var error = FrameHeader.TryReadRequest(frame, out var header);
        if (_trace && _traceLog.IsEnabled(LogLevel.Debug))
        {
#pragma warning disable CA1873 // guarded just above: formatting runs only when --trace is on and Debug is enabled
            ServerLog.TraceRequest(_traceLog, Id, P9Trace.Format(frame));
#pragma warning restore CA1873
        }
        if (error != P9DecodeError.None)
        {
            if (error.IsFatal())
            {
                fault = error.Describe();
                return FrameAction.Close;
            }
            ReplyInline(header.Tag, error.ToErrno());
            return FrameAction.Done;
        }

        var type = header.Type;
        if (type == P9MessageType.Tversion)
            return HandleVersion(frame, header);

        if (!_versioned)
        {
            // No session yet: nothing but Tversion has a meaning.
            ReplyInline(header.Tag, LinuxErrno.EPROTO);
            return FrameAction.Done;
        }

        bool toWorker = IsWorkerRequest(type, frame);
        lock (_tagGate)
        {
            if (_inFlight.ContainsKey(header.Tag))
            {
                ServerLog.DuplicateTag(_log, Id, header.Tag);
                ReplyInline(header.Tag, LinuxErrno.EINVAL);
                return FrameAction.Done;
            }
        }

        if (type == P9MessageType.Tflush)
        {
            HandleFlush(frame, header);
            return FrameAction.Done;
        }

        if (toWorker)
        {
            if (!_slots.Wait(0))
                return FrameAction.WaitSlot;
            Request r;
            lock (_tagGate)
            {
                r = _pool.Count > 0 ? _pool.Pop() : new Request(this);
                // A big Twrite is written from the receive buffer itself; everything else is copied (small frames
                // are cheap to copy and would otherwise pin a whole receive buffer while queued).
                if (type == P9MessageType.Twrite && _lender is not null && _lender.TryLend(frame, out var holder, out int offset))
                    r.InitLent(holder!, offset, frame.Length, header.Tag, _epoch);
                else
                    r.Init(frame, header.Tag, _epoch);
                _inFlight.Add(header.Tag, r);
                _active++;
            }
            ThreadPool.UnsafeQueueUserWorkItem(r, preferLocal: false);
            return FrameAction.Done;
        }

        int start = _batch.Length;
        RunHandler(frame, header, _batch);
        if (_trace)
            TraceReplies(_batch.WrittenSpan[start..]);
        return FrameAction.Done;
    }

    /// <summary>What may block or take long goes to a worker; single fast syscalls stay on the read loop (metadata
    /// changes too, unless <see cref="ServerOptions.MetadataOnWorkers"/>).</summary>
    private bool IsWorkerRequest(P9MessageType type, ReadOnlySpan<byte> frame) => type switch
    {
        P9MessageType.Tfsync => true,
        // A reply of up to 64 KiB of entries is one or two getdents64 calls, as cheap as a 64 KiB read; bigger ones, or any on a slow filesystem, go to a worker.
        P9MessageType.Treaddir => _options.MetadataOnWorkers || RequestedCount(frame) > (uint)_options.InlineIoMax,
        P9MessageType.Tlcreate or P9MessageType.Tmkdir or P9MessageType.Tsymlink or P9MessageType.Tmknod
            or P9MessageType.Trename or P9MessageType.Trenameat or P9MessageType.Tunlinkat or P9MessageType.Tlink
            or P9MessageType.Tremove => _options.MetadataOnWorkers,
        P9MessageType.Tread => RequestedCount(frame) > (uint)_options.InlineIoMax && BigIoOnWorker,
        // size[4] Twrite tag[2] fid[4] offset[8] count[4] data[count]
        P9MessageType.Twrite => frame.Length - P9Constants.WriteRequestHeaderSize > _options.InlineIoMax && BigIoOnWorker,
        _ => false,
    };

    /// <summary>The count[4] of a Tread or Treaddir: size[4] type[1] tag[2] fid[4] offset[8] count[4] (0 if short).</summary>
    private static uint RequestedCount(ReadOnlySpan<byte> frame) =>
        frame.Length >= 23 ? BinaryPrimitives.ReadUInt32LittleEndian(frame[19..]) : 0;

    /// <summary>
    /// Big reads and writes go to a worker so that they cannot hold up the connection's other requests, but when
    /// nothing else is in flight there is nothing to hold up: a lone 1 MiB transfer (a client at depth 1) then runs
    /// inline and saves a thread hand-off each way. Not with <see cref="ServerOptions.MetadataOnWorkers"/>, where
    /// the host filesystem may block for long and a request arriving meanwhile would wait behind it.
    /// </summary>
    private bool BigIoOnWorker => _options.MetadataOnWorkers || Volatile.Read(ref _active) > 0;

    private void RunHandler(ReadOnlySpan<byte> frame, FrameHeader header, ReplyBuffer output)
    {
        int start = output.Length;
        try
        {
            Handle(frame, header, output);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug, not peer behaviour: answer EIO so the client is not left waiting, and log it.
            output.Truncate(start);
            if (_log.IsEnabled(LogLevel.Error))
                ServerLog.HandlerFailed(_log, Id, header.Type.ToString(), e);
            Rlerror.Encode(output, header.Tag, LinuxErrno.EIO);
        }
    }

    private void ReplyInline(ushort tag, uint errno)
    {
        int start = _batch.Length;
        Rlerror.Encode(_batch, tag, errno);
        if (_trace)
            TraceReplies(_batch.WrittenSpan[start..]);
    }

    private void TraceReplies(ReadOnlySpan<byte> replies)
    {
        while (replies.Length >= P9Constants.HeaderSize)
        {
            int size = (int)BinaryPrimitives.ReadUInt32LittleEndian(replies);
            if (size < P9Constants.HeaderSize || size > replies.Length)
                break;
            if (_traceLog.IsEnabled(LogLevel.Debug))
            {
#pragma warning disable CA1873 // guarded just above (and callers check --trace)
                ServerLog.TraceReply(_traceLog, Id, P9Trace.Format(replies[..size]));
#pragma warning restore CA1873
            }
            replies = replies[size..];
        }
    }

    // ---- Tflush ----------------------------------------------------------------------------------------------

    private void HandleFlush(ReadOnlySpan<byte> frame, FrameHeader header)
    {
        var error = Tflush.TryDecode(frame, out var m);
        if (error != P9DecodeError.None)
        {
            ReplyInline(header.Tag, error.ToErrno());
            return;
        }

        lock (_tagGate)
        {
            if (_inFlight.TryGetValue(m.Oldtag, out var r))
            {
                if (Interlocked.CompareExchange(ref r.State, Request.Cancelled, Request.Queued) != Request.Queued)
                {
                    // Running: its reply (if any) goes out first, then this Rflush, in one commit.
                    r.AddFlush(header.Tag);
                    return;
                }

                // Not started: it will never run nor be answered; earlier flushes of it are answered now too.
                _inFlight.Remove(m.Oldtag);
                foreach (var t in r.Flushes)
                    Rflush.Encode(_batch, t);
            }
        }

        int start = _batch.Length;
        Rflush.Encode(_batch, header.Tag);
        if (_trace)
            TraceReplies(_batch.WrittenSpan[start..]);
    }

    // ---- Tversion --------------------------------------------------------------------------------------------

    private FrameAction HandleVersion(ReadOnlySpan<byte> frame, FrameHeader header)
    {
        var error = Tversion.TryDecode(frame, out var m);
        if (error != P9DecodeError.None)
        {
            ReplyInline(header.Tag, error.ToErrno());
            return FrameAction.Done;
        }

        int ended;
        lock (_tagGate)
        {
            // A new session: queued work is cancelled, running work finishes but its replies are dropped.
            _epoch++;
            ended = _inFlight.Count;
            foreach (var r in _inFlight.Values)
                Interlocked.CompareExchange(ref r.State, Request.Cancelled, Request.Queued);
            _inFlight.Clear();
            if (_active > 0)
            {
                _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _options.VersionWaiting?.Invoke();
                return FrameAction.WaitDrain;
            }
        }

        int fids = _fids.Clear();
        if (fids > 0 || ended > 0)
            ServerLog.SessionReset(_log, Id, fids, ended);

        int start = _batch.Length;
        if (!Tversion.IsDotL(m.Version))
        {
            _versioned = false;
            Rversion.Encode(_batch, header.Tag, Math.Min(m.Msize, _options.MaxMsize), "unknown"u8);
        }
        else if (m.Msize < P9Constants.MinMsize)
        {
            _versioned = false;
            Rlerror.Encode(_batch, header.Tag, LinuxErrno.EMSGSIZE);
        }
        else
        {
            _msize = Math.Min(m.Msize, _options.MaxMsize);
            _maxFrame = _msize;
            _versioned = true;
            Rversion.Encode(_batch, header.Tag, _msize, "9P2000.L"u8);
            ServerLog.Versioned(_log, Id, P9Constants.Version, _msize);
        }
        if (_trace)
            TraceReplies(_batch.WrittenSpan[start..]);
        return FrameAction.Done;
    }

    // ---- workers ---------------------------------------------------------------------------------------------

    internal void RunWorker(Request r)
    {
        _options.BeforeWorkerStart?.Invoke(r.Tag);
        if (Interlocked.CompareExchange(ref r.State, Request.Running, Request.Queued) == Request.Queued)
        {
            _options.WorkerStarted?.Invoke(r.Tag);
            var frame = r.Frame;
            FrameHeader.TryRead(frame, out var header);
            RunHandler(frame, header, r.Reply);
            r.Reply.Compact(64 * 1024);
        }
        else
        {
            r.Reply.Clear(); // flushed before it started, or ended by a Tversion
        }

        bool send;
        lock (_tagGate)
        {
            if (_inFlight.TryGetValue(r.Tag, out var current) && current == r)
                _inFlight.Remove(r.Tag);
            send = r.Epoch == _epoch && r.State == Request.Running;
            if (send)
            {
                foreach (var t in r.Flushes)
                    Rflush.Encode(r.Reply, t);
            }
        }

        if (send)
        {
            if (_trace)
                TraceReplies(r.Reply.WrittenSpan);
            Commit(ref r.Reply);
        }

        r.Recycle(64 * 1024);
        lock (_tagGate)
        {
            _pool.Push(r);
            if (--_active == 0 && _drained is { } d)
            {
                _drained = null;
                d.TrySetResult();
            }
        }
        _slots.Release();
    }

    /// <summary>Connection end: cancel what has not started, wait for what is running (its replies are dropped).</summary>
    private async Task EndAllWorkAsync()
    {
        Task? wait = null;
        lock (_tagGate)
        {
            _epoch++;
            foreach (var r in _inFlight.Values)
                Interlocked.CompareExchange(ref r.State, Request.Cancelled, Request.Queued);
            _inFlight.Clear();
            if (_active > 0)
                wait = (_drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
        if (wait is not null)
            await wait.ConfigureAwait(false);
    }

    // ---- output ----------------------------------------------------------------------------------------------

    private void CommitBatch()
    {
        if (_batch.Length == 0)
            return;
        Commit(ref _batch);
        _batch.Trim(256 * 1024);
    }

    /// <summary>
    /// Hands whole reply frames to the connection. Safe from any thread; never blocks on the peer. If another thread
    /// is flushing, the buffer itself is queued (ownership moves to the output, <paramref name="replies"/> receives an
    /// empty one): a 1 MiB Rread is never copied twice.
    /// </summary>
    private void Commit(ref ReplyBuffer replies)
    {
        if (replies.Length == 0)
            return;
        lock (_outGate)
        {
            if (_outputDead)
            {
                replies.Clear();
                return;
            }
            if (_flushing)
            {
                _queued.Enqueue(replies);
                _queuedBytes += replies.Length;
                replies = _free.Count > 0 ? _free.Pop() : new ReplyBuffer(4096);
                return;
            }
            _flushing = true;
        }

        bool ok = WriteToPipe(replies);
        replies.Clear();
        if (ok)
            FlushLoop();
    }

    private bool WriteToPipe(ReplyBuffer buffer)
    {
        try
        {
            var output = _pipe.Output;
            var replies = buffer.WrittenSpan;
            if (replies.Length >= DirectSendMin && _directSender is { } direct)
            {
                // A big reply (a 1 MiB Rread) goes to the socket from where it was built; only what the socket
                // does not take at once is copied into the writer.
                replies = replies[direct.SendNow(replies)..];
                if (replies.IsEmpty)
                    return true;
            }
            replies.CopyTo(output.GetSpan(replies.Length));
            output.Advance(replies.Length);
            return true;
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException or IOException)
        {
            OutputFailed();
            return false;
        }
    }

    /// <summary>Runs while this thread is the flusher: flush, then move what others queued meanwhile, until none is left.</summary>
    private void FlushLoop()
    {
        while (true)
        {
            ValueTask<FlushResult> flush;
            try
            {
                flush = _pipe.Output.FlushAsync();
            }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException or IOException)
            {
                OutputFailed();
                return;
            }

            if (!flush.IsCompletedSuccessfully)
            {
                // The peer is slow: continue when the flush completes, on whichever thread completes it. A cached
                // delegate on the awaiter, not an async method: nothing is allocated per slow flush.
                _pendingFlush = flush;
                flush.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onFlushed ??= OnFlushed);
                return;
            }

            if (!AfterFlush(flush.Result))
                return;
        }
    }

    private void OnFlushed()
    {
        var flush = _pendingFlush;
        _pendingFlush = default;
        FlushResult result;
        try
        {
            result = flush.ConfigureAwait(false).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            OutputFailed();
            return;
        }

        if (AfterFlush(result))
            FlushLoop();
    }

    /// <summary>True when queued output has been written into the pipe (flush again); false when the flusher stops.</summary>
    private bool AfterFlush(FlushResult result)
    {
        if (result.IsCompleted)
        {
            OutputFailed();
            return false;
        }

        while (true)
        {
            ReplyBuffer? next = null;
            TaskCompletionSource? drained = null;
            bool signal = false;
            lock (_outGate)
            {
                if (_queued.Count == 0 || _outputDead)
                {
                    _flushing = false;
                    drained = _outputDrained;
                    _outputDrained = null;
                    signal = TakeDrainWaiter();
                }
                else
                {
                    next = _queued.Dequeue();
                    _queuedBytes -= next.Length;
                    if (_queuedBytes <= _options.MaxPendingOutput / 2)
                    {
                        drained = _outputDrained;
                        _outputDrained = null;
                        signal = TakeDrainWaiter();
                    }
                }
            }
            drained?.TrySetResult();
            if (signal)
                _drainedEvent.Set();
            if (next is null)
                return false;

            bool ok = WriteToPipe(next);
            next.Trim(64 * 1024);
            lock (_outGate)
            {
                if (_free.Count < 64)
                    _free.Push(next);
                else
                    next.Release();
            }
            if (!ok)
                return false;

            // Gather a few small queued replies into the same flush; stop before the pipe holds too much.
            lock (_outGate)
            {
                if (_queued.Count == 0 || _queued.Peek().Length > 64 * 1024)
                    return true;
            }
        }
    }

    /// <summary>Under the output lock: whether the read loop's thread waits for the output to drain (and no longer).</summary>
    private bool TakeDrainWaiter()
    {
        bool waiting = _drainWaiter;
        _drainWaiter = false;
        return waiting;
    }

    private void OutputFailed()
    {
        TaskCompletionSource? drained;
        bool signal;
        lock (_outGate)
        {
            _outputDead = true;
            _flushing = false;
            while (_queued.Count > 0)
                _queued.Dequeue().Release();
            _queuedBytes = 0;
            drained = _outputDrained;
            _outputDrained = null;
            signal = TakeDrainWaiter();
        }
        drained?.TrySetResult();
        if (signal)
            _drainedEvent.Set();
        Abort("peer stopped reading replies (output closed)");
    }

    public void Dispose()
    {
        _watchdog?.Dispose();
        _slots.Dispose();
        _drainedEvent.Dispose();
    }

    // ---- watchdog --------------------------------------------------------------------------------------------

    private void Watchdog()
    {
        long now = Environment.TickCount64;
        if (!_versioned && now - _connectedAt > (long)_options.VersionTimeout.TotalMilliseconds)
        {
            Abort($"timeout: no Tversion within {_options.VersionTimeout.TotalSeconds:0} s");
            return;
        }
        long since = Volatile.Read(ref _partialSince);
        if (since != 0 && now - since > (long)_options.PartialFrameTimeout.TotalMilliseconds)
            Abort($"timeout: a frame stayed incomplete for more than {_options.PartialFrameTimeout.TotalSeconds:0} s");
    }
}
