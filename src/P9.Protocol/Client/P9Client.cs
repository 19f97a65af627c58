using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Tasks.Sources;
using P9.Protocol.Framing;
using P9.Protocol.Wire;

namespace P9.Protocol.Client;

/// <summary>
/// A 9P2000.L client over one connection (any <see cref="IDuplexPipe"/>: a socket via <see cref="P9SocketPipe"/>, or
/// an in-memory pipe). Thread-safe: many requests may be in flight at once, matched to replies by tag.
///
/// Errors: Rlerror → <see cref="P9Exception"/> (Linux errno); a dead connection → <see cref="P9ConnectionException"/>
/// for every pending and every later call; cancellation → <see cref="OperationCanceledException"/> at once, with a
/// Tflush sent and the tag kept until the Rflush or the original reply.
///
/// Start with <see cref="ConnectAsync"/>, then <see cref="AttachAsync"/>; everything else is on the returned
/// <see cref="P9Fid"/> handles, which clunk their fid when disposed.
/// </summary>
public sealed partial class P9Client : IAsyncDisposable
{
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly P9FrameReader _frames;
    private readonly uint _requestedMsize;
    private readonly int _maxInFlight;

    // Tags: table indexed by tag, free list, and a gate bounding ordinary requests. Lock order: _sendLock → _tagLock.
    private readonly Lock _tagLock = new();
    private PendingOperation?[] _table = new PendingOperation?[64];
    private readonly Stack<ushort> _freeTags = new();
    private int _nextTag;
    private PendingOperation? _versionOp;
    private readonly SemaphoreSlim _gate;
    private P9ConnectionException? _failure;

    // Fids: free list + high-water mark; freed numbers are reused first (kernel-like small fid numbers).
    private readonly Lock _fidLock = new();
    private readonly Stack<uint> _freeFids = new();
    private uint _nextFid;

    private readonly Lock _poolLock = new();
    private readonly Stack<PendingOperation> _pool = new();

    // Send side: callers encode into _sendBuffer under _sendLock; the writer loop swaps buffers and flushes.
    private readonly Lock _sendLock = new();
    private SendBuffer _sendBuffer = new();
    private SendBuffer _spareBuffer = new();
    private bool _writerWaiting;
    private bool _writerStop;
    private readonly WriterSignal _writerSignal = new();

    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;
    private int _disposed;
    private int _unlinkatUnsupported;

    private P9Client(IDuplexPipe pipe, P9ClientOptions options)
    {
        _input = pipe.Input;
        _output = pipe.Output;
        _frames = new P9FrameReader(_input);
        _requestedMsize = options.MaxMessageSize;
        _maxInFlight = options.MaxRequestsInFlight;
        _gate = new SemaphoreSlim(_maxInFlight);
    }

    /// <summary>The negotiated msize: every frame in either direction is at most this many bytes.</summary>
    public uint Msize { get; private set; }

    /// <summary>The version the server answered ("9P2000.L").</summary>
    public string Version { get; private set; } = "";

    /// <summary>RPC counters per request type.</summary>
    public P9ClientStats Stats { get; } = new();

    /// <summary>Why the connection ended, or null while it is alive.</summary>
    public P9ConnectionException? Failure => Volatile.Read(ref _failure);

    public bool IsConnected => Failure is null;

    /// <summary>Most payload bytes in one Tread/Twrite/Treaddir: msize − 24 (the Linux client's headroom).</summary>
    public int MaxIoSize => (int)Msize - P9Constants.IoHeaderSize;

    /// <summary>
    /// Starts the client on a connected pipe and negotiates the version: Tversion(NOTAG, msize, "9P2000.L");
    /// the session msize is min(ours, theirs) and must be ≥ 4096. On failure the pipe is completed.
    /// </summary>
    public static async Task<P9Client> ConnectAsync(IDuplexPipe pipe, P9ClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pipe);
        options ??= new P9ClientOptions();
        if (options.MaxMessageSize < P9Constants.MinMsize)
            throw new ArgumentOutOfRangeException(nameof(options), "MaxMessageSize must be at least 4096");
        if (options.MaxRequestsInFlight is < 1 or > 16384)
            throw new ArgumentOutOfRangeException(nameof(options), "MaxRequestsInFlight must be in 1..16384");
        var client = new P9Client(pipe, options);
        client._readLoop = client.ReadLoopAsync();
        client._writeLoop = client.WriteLoopAsync();
        try
        {
            await client.NegotiateVersionAsync(options.Version, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task NegotiateVersionAsync(string version, CancellationToken cancellationToken)
    {
        var op = RentOperation();
        op.Reset(P9MessageType.Tversion, gated: false, isInternal: false);
        op.Tag = P9Constants.NoTag;
        lock (_tagLock)
        {
            ThrowIfFailedLocked();
            _versionOp = op;
            op.TagHeld = true;
        }
        try
        {
            SendEncoded(op, (_requestedMsize, version), static (w, tag, s) => Tversion.Encode(w, tag, s._requestedMsize, s.version), cancellationToken);
            await op.AsValueTask().ConfigureAwait(false);
            Msize = op.Msize;
            Version = op.Text ?? "";
        }
        finally
        {
            op.FinishByCaller();
        }
    }

    /// <summary>Tattach with no auth (afid = NOFID): returns the root handle of the export <paramref name="aname"/>.</summary>
    public async ValueTask<P9Fid> AttachAsync(string uname, string aname, uint nUname = P9Constants.NoUid, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uname);
        ArgumentNullException.ThrowIfNull(aname);
        uint fid = AllocateFid();
        var qid = await RpcAsync(P9MessageType.Tattach, (fid, uname, aname, nUname),
            static (w, tag, s) => Tattach.Encode(w, tag, s.fid, P9Constants.NoFid, s.uname, s.aname, s.nUname),
            static (op, _) => op.Qid, cancellationToken, newFid: fid).ConfigureAwait(false);
        return new P9Fid(this, fid, qid);
    }

    // ---- tags and operations ---------------------------------------------------------------------------------

    private PendingOperation RentOperation()
    {
        lock (_poolLock)
        {
            if (_pool.TryPop(out var op))
                return op;
        }
        return new PendingOperation(this);
    }

    internal void ReturnToPool(PendingOperation op)
    {
        op.ResetCore();
        lock (_poolLock)
        {
            if (_pool.Count < 256)
                _pool.Push(op);
        }
    }

    /// <summary>Takes a gate slot (waiting if MaxRequestsInFlight are out) and a tag.</summary>
    private ValueTask<PendingOperation> BeginAsync(P9MessageType request, CancellationToken cancellationToken)
    {
        ThrowIfFailed();
        cancellationToken.ThrowIfCancellationRequested();
        if (_gate.Wait(0, CancellationToken.None))
            return new ValueTask<PendingOperation>(AllocateTag(request, gated: true, isInternal: false));
        return BeginSlowAsync(request, cancellationToken);
    }

    private async ValueTask<PendingOperation> BeginSlowAsync(P9MessageType request, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return AllocateTag(request, gated: true, isInternal: false);
    }

    private PendingOperation AllocateTag(P9MessageType request, bool gated, bool isInternal)
    {
        var op = RentOperation();
        op.Reset(request, gated, isInternal);
        lock (_tagLock)
        {
            if (_failure is not null)
            {
                if (gated)
                    _gate.Release();
                op.ReleaseOwner();
                if (!isInternal)
                    op.ReleaseOwner();
                throw _failure;
            }
            int tag;
            if (_freeTags.TryPop(out ushort free))
            {
                tag = free;
            }
            else
            {
                // The gate bounds ordinary requests to 16384 and internal ones (a Tflush or Tclunk per cancelled or
                // late request) to as many again, so the 65535 usable tags are never exhausted.
                tag = _nextTag++;
                if (tag >= _table.Length)
                    Array.Resize(ref _table, Math.Min(_table.Length * 2, P9Constants.NoTag));
            }
            op.Tag = (ushort)tag;
            op.TagHeld = true;
            _table[tag] = op;
        }
        return op;
    }

    /// <summary>Frees the op's tag (reply or Rflush received). Returns false if it was already free.</summary>
    private bool ReleaseTag(PendingOperation op)
    {
        lock (_tagLock)
        {
            if (!op.TagHeld)
                return false;
            op.TagHeld = false;
            if (op.Tag == P9Constants.NoTag)
            {
                _versionOp = null;
            }
            else
            {
                _table[op.Tag] = null;
                _freeTags.Push(op.Tag);
            }
        }
        if (op.Gated)
            _gate.Release();
        op.ReleaseOwner();
        return true;
    }

    private PendingOperation? LookupTag(ushort tag)
    {
        lock (_tagLock)
        {
            if (tag == P9Constants.NoTag)
                return _versionOp;
            return tag < _table.Length ? _table[tag] : null;
        }
    }

    private void ThrowIfFailed()
    {
        var failure = Volatile.Read(ref _failure);
        if (failure is not null)
            throw failure;
    }

    private void ThrowIfFailedLocked()
    {
        if (_failure is not null)
            throw _failure;
    }

    // ---- fids -------------------------------------------------------------------------------------------------

    internal uint AllocateFid()
    {
        lock (_fidLock)
        {
            if (_freeFids.TryPop(out uint fid))
                return fid;
            if (_nextFid == P9Constants.NoFid)
                throw new P9Exception("out of fids");
            return _nextFid++;
        }
    }

    /// <summary>Returns a fid number to the allocator once the server no longer knows it (Rclunk, or the request
    /// that would have created it failed).</summary>
    internal void FreeFid(uint fid)
    {
        if (fid == P9Constants.NoFid)
            return;
        lock (_fidLock)
            _freeFids.Push(fid);
    }

    /// <summary>Number of fid numbers currently allocated (diagnostics and leak tests).</summary>
    public int FidsInUse
    {
        get
        {
            lock (_fidLock)
                return (int)_nextFid - _freeFids.Count;
        }
    }

    // ---- sending ----------------------------------------------------------------------------------------------

    /// <summary>Encodes one request into the send buffer and wakes the writer; then arms cancellation (after the
    /// request is queued, so a Tflush can never be sent ahead of the request it flushes).</summary>
    private void SendEncoded<TState>(PendingOperation op, TState state, Action<IBufferWriter<byte>, ushort, TState> encode, CancellationToken cancellationToken)
    {
        bool wake;
        lock (_sendLock)
        {
            int start = _sendBuffer.Length;
            try
            {
                encode(_sendBuffer, op.Tag, state);
            }
            catch
            {
                // Bad arguments (too many names, string too long): nothing was sent, give the tag back.
                _sendBuffer.Truncate(start);
                ReleaseTag(op);
                throw;
            }
            Stats.Sent(op.Request, _sendBuffer.Length - start);
            op.SentTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
            wake = WakeWriterLocked();
        }
        if (wake)
            _writerSignal.Set();
        op.RegisterCancellation(cancellationToken);
    }

    /// <summary>Under the send lock: claims the job of waking the writer. The caller calls
    /// <see cref="WriterSignal.Set"/> after leaving the lock: the writer's continuation then runs inline on the
    /// caller's thread (it writes and flushes what is queued, then parks again), which saves a thread-pool hop per
    /// request compared with queuing the writer.</summary>
    private bool WakeWriterLocked()
    {
        if (!_writerWaiting)
            return false;
        _writerWaiting = false;
        return true;
    }

    private async Task WriteLoopAsync()
    {
        await Task.Yield();
        try
        {
            while (true)
            {
                SendBuffer? toWrite = null;
                ValueTask wait = default;
                lock (_sendLock)
                {
                    if (_writerStop)
                        break;
                    if (_sendBuffer.Length == 0)
                    {
                        _writerWaiting = true;
                        wait = _writerSignal.Arm();
                    }
                    else
                    {
                        toWrite = _sendBuffer;
                        _sendBuffer = _spareBuffer;
                        _spareBuffer = toWrite;
                    }
                }
                if (toWrite is null)
                {
                    await wait.ConfigureAwait(false);
                    continue;
                }
                _output.Write(toWrite.WrittenSpan);
                var flush = await _output.FlushAsync().ConfigureAwait(false);
                lock (_sendLock)
                    toWrite.Clear();
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    Fail(P9ConnectionFailure.Closed, "the server stopped reading (output pipe completed)");
                    break;
                }
            }
        }
        catch (Exception e)
        {
            Fail(P9ConnectionFailure.TransportError, "writing to the transport failed: " + e.Message, e);
        }
        try
        {
            await _output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // Already broken: the failure is recorded.
        }
    }

    /// <summary>Single-waiter signal for the writer loop (one pooled IValueTaskSource, no allocation per wake).</summary>
    private sealed class WriterSignal : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };

        public ValueTask Arm()
        {
            _core.Reset();
            return new ValueTask(this, _core.Version);
        }

        public void Set() => _core.SetResult(true);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        public void GetResult(short token) => _core.GetResult(token);
    }

    // ---- failure and disposal ---------------------------------------------------------------------------------

    /// <summary>Records the first reason the connection ended and fails every pending request with it.</summary>
    internal P9ConnectionException Fail(P9ConnectionFailure failure, string reason, Exception? inner = null)
    {
        P9ConnectionException exception;
        List<PendingOperation> pending = [];
        lock (_tagLock)
        {
            if (_failure is not null)
                return _failure;
            exception = new P9ConnectionException(failure, reason, inner);
            Volatile.Write(ref _failure, exception);
            foreach (var op in _table)
            {
                if (op is not null)
                    pending.Add(op);
            }
            if (_versionOp is not null)
                pending.Add(_versionOp);
        }
        foreach (var op in pending)
            op.TryFail(exception);
        // Wake callers waiting for a tag: they see the failure and throw.
        _gate.Release(_maxInFlight);
        bool wake;
        lock (_sendLock)
        {
            _writerStop = true;
            wake = WakeWriterLocked();
        }
        if (wake)
            _writerSignal.Set();
        _input.CancelPendingRead();
        return exception;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Fail(P9ConnectionFailure.Disposed, "the client was disposed", new ObjectDisposedException(nameof(P9Client)));
        try
        {
            await Task.WhenAll(_readLoop, _writeLoop).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
        _gate.Dispose();
    }

    // ---- flush and late replies -------------------------------------------------------------------------------

    /// <summary>
    /// Called from the cancellation callback once the op is marked cancelled: send Tflush(oldtag) on an internal tag.
    /// Done under the send lock with the tag check inside it, so if the reply already freed the tag (and someone
    /// reused it), no Tflush can hit the new owner: either we see the tag free and send nothing, or our Tflush is
    /// queued before any request that reuses the tag.
    /// </summary>
    internal void StartFlush(PendingOperation target)
    {
        bool wake;
        lock (_sendLock)
        {
            PendingOperation flush;
            lock (_tagLock)
            {
                if (!target.TagHeld || _failure is not null)
                    return;
            }
            try
            {
                flush = AllocateTag(P9MessageType.Tflush, gated: false, isInternal: true);
            }
            catch (P9ConnectionException)
            {
                return;
            }
            target.AddOwner();
            flush.FlushTarget = target;
            int start = _sendBuffer.Length;
            Tflush.Encode(_sendBuffer, flush.Tag, target.Tag);
            Stats.Sent(P9MessageType.Tflush, _sendBuffer.Length - start);
            wake = WakeWriterLocked();
        }
        if (wake)
            _writerSignal.Set();
    }

    /// <summary>Sends a Tclunk nobody waits for (a fid created by a request whose caller had already given up,
    /// or a handle disposed synchronously); the fid number is freed when the Rclunk (or Rlerror) arrives.</summary>
    internal void ClunkInBackground(uint fid)
    {
        PendingOperation op;
        try
        {
            op = AllocateTag(P9MessageType.Tclunk, gated: false, isInternal: true);
        }
        catch (P9ConnectionException)
        {
            return;
        }
        op.ClunkFid = fid;
        bool wake;
        lock (_sendLock)
        {
            int start = _sendBuffer.Length;
            Tclunk.Encode(_sendBuffer, op.Tag, fid);
            Stats.Sent(P9MessageType.Tclunk, _sendBuffer.Length - start);
            wake = WakeWriterLocked();
        }
        if (wake)
            _writerSignal.Set();
    }

    // ---- reading ----------------------------------------------------------------------------------------------

    private async Task ReadLoopAsync()
    {
        await Task.Yield();
        try
        {
            while (true)
            {
                var result = await _frames.ReadAsync().ConfigureAwait(false);
                if (result.Status == P9ReadStatus.Frame)
                {
                    bool keepGoing;
                    try
                    {
                        keepGoing = OnFrame(result.Frame.Span);
                    }
                    finally
                    {
                        _frames.Release();
                    }
                    if (!keepGoing)
                        break;
                    continue;
                }
                if (result.Status == P9ReadStatus.Completed)
                    Fail(P9ConnectionFailure.Closed, "the server closed the connection");
                else if (result.Status == P9ReadStatus.Error)
                    Fail(P9ConnectionFailure.ProtocolViolation, "malformed frame from the server: " + result.Error.Describe());
                else
                    Fail(P9ConnectionFailure.Disposed, "reading was cancelled");
                break;
            }
        }
        catch (Exception e)
        {
            Fail(P9ConnectionFailure.TransportError, "reading from the transport failed: " + e.Message, e);
        }
        try
        {
            await _input.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    /// <summary>Dispatches one reply frame. Returns false once the connection has been failed.</summary>
    private bool OnFrame(ReadOnlySpan<byte> frame)
    {
        var error = FrameHeader.TryReadReply(frame, out var header);
        if (error != P9DecodeError.None)
        {
            Fail(P9ConnectionFailure.ProtocolViolation, $"bad reply header (type {header.TypeByte}, tag {header.Tag}): {error.Describe()}");
            return false;
        }
        var op = LookupTag(header.Tag);
        if (op is null)
        {
            Fail(P9ConnectionFailure.ProtocolViolation, $"{header.Type} for tag {header.Tag}, which has no request in flight");
            return false;
        }
        bool isError = header.Type == P9MessageType.Rlerror;
        if (!isError && (byte)header.Type != (byte)op.Request + 1)
        {
            Fail(P9ConnectionFailure.ProtocolViolation, $"{header.Type} in answer to {op.Request} (tag {header.Tag})");
            return false;
        }
        if (isError && op.Request == P9MessageType.Tflush)
            isError = false; // Tflush must be answered by Rflush; an Rlerror still ends it, tolerate it as such.
        Stats.Received(op.Request, frame.Length, isError);
        Stats.Latency.RecordTicks(System.Diagnostics.Stopwatch.GetTimestamp() - op.SentTimestamp);

        uint errno = 0;
        if (header.Type == P9MessageType.Rlerror)
        {
            var decode = Rlerror.TryDecode(frame, out var rlerror);
            if (decode != P9DecodeError.None)
                return FailProtocol(op, $"bad Rlerror: {decode.Describe()}");
            // errno 0 is not an error: a server that says so is broken, report EIO rather than success.
            errno = rlerror.Ecode == 0 ? LinuxErrno.EIO : rlerror.Ecode;
        }

        if (op.Internal)
            return OnInternalReply(op, frame, isError);

        if (op.TryClaim())
        {
            if (!isError)
            {
                string? violation = Decode(op, frame, writeDestination: true);
                if (violation is not null)
                    return FailProtocol(op, violation);
            }
            if (op.Request == P9MessageType.Tversion && !isError)
            {
                string? versionProblem = CheckVersion(op);
                if (versionProblem is not null)
                {
                    var ex = Fail(P9ConnectionFailure.VersionRejected, versionProblem);
                    op.SetException(ex);
                    return false;
                }
            }
            ReleaseTag(op);
            if (isError)
                op.SetException(new P9Exception(errno, op.Request));
            else
                op.SetResult();
            return true;
        }

        // The caller gave up (cancelled) and a Tflush is on its way: this is the original reply, which the client
        // must honour. A fid the request created is now ours to clunk; one it did not create is free again.
        if (op.IsCancelled)
        {
            if (!isError)
            {
                string? violation = Decode(op, frame, writeDestination: false);
                if (violation is not null)
                    return FailProtocol(null, violation);
            }
            if (op.NewFid != P9Constants.NoFid)
            {
                bool created = !isError && (op.Request != P9MessageType.Twalk || (int)op.Count == op.WalkNameCount);
                uint fid = op.NewFid;
                op.NewFid = P9Constants.NoFid;
                if (created)
                    ClunkInBackground(fid);
                else
                    FreeFid(fid);
            }
            ReleaseTag(op);
            return true;
        }
        // Completed already (connection failing concurrently): nothing to do.
        return true;
    }

    private bool OnInternalReply(PendingOperation op, ReadOnlySpan<byte> frame, bool isError)
    {
        if (!isError && frame.Length != P9Constants.HeaderSize)
            return FailProtocol(null, $"R{op.Request.ToString()[1..]} with a body ({frame.Length} bytes)");
        // Read what we need before the tag goes: releasing it may return the internal op to the pool.
        var request = op.Request;
        var target = op.FlushTarget;
        uint clunkFid = op.ClunkFid;
        op.FlushTarget = null;
        // The Tflush's own tag first, so the flushed tag is the next one handed out (predictable for tests).
        ReleaseTag(op);
        if (request == P9MessageType.Tflush && target is not null)
        {
            // Rflush: the server has forgotten oldtag. If the original reply never came, the request never took
            // effect: free its tag and the fid it would have created.
            if (target.TagHeld)
            {
                uint fid = target.NewFid;
                target.NewFid = P9Constants.NoFid;
                if (ReleaseTag(target))
                    FreeFid(fid);
            }
            target.ReleaseOwner();
        }
        else if (request == P9MessageType.Tclunk)
        {
            // Clunk frees the fid even when it fails (clunk(5)).
            FreeFid(clunkFid);
        }
        return true;
    }

    private bool FailProtocol(PendingOperation? claimed, string reason)
    {
        var ex = Fail(P9ConnectionFailure.ProtocolViolation, reason);
        claimed?.SetException(ex);
        return false;
    }

    private string? CheckVersion(PendingOperation op)
    {
        if (op.Text != P9Constants.Version)
            return $"the server answered version \"{op.Text}\", not {P9Constants.Version}";
        if (op.Msize < P9Constants.MinMsize)
            return $"the server's msize {op.Msize} is below {P9Constants.MinMsize}";
        // A reply larger than asked is not an error (the Linux client ignores it): use the smaller.
        op.Msize = Math.Min(op.Msize, _requestedMsize);
        _frames.MaxFrameSize = op.Msize;
        return null;
    }

    /// <summary>Decodes a successful reply into the op. Returns a reason when the reply breaks the protocol.</summary>
    private static string? Decode(PendingOperation op, ReadOnlySpan<byte> frame, bool writeDestination)
    {
        P9DecodeError e;
        switch (op.Request)
        {
            case P9MessageType.Tversion:
            {
                e = Rversion.TryDecode(frame, out var m);
                if (e != P9DecodeError.None)
                    break;
                op.Msize = m.Msize;
                op.Text = Encoding.UTF8.GetString(m.Version);
                return null;
            }
            case P9MessageType.Tattach:
            {
                e = Rattach.TryDecode(frame, out var m);
                op.Qid = m.Qid;
                break;
            }
            case P9MessageType.Twalk:
            {
                e = Rwalk.TryDecode(frame, out var m);
                if (e != P9DecodeError.None)
                    break;
                int n = m.Qids.Count;
                if (n > op.WalkNameCount)
                    return $"Rwalk with {n} qids for {op.WalkNameCount} names";
                if (n == 0 && op.WalkNameCount > 0)
                    return "Rwalk with no qids for a non-empty walk (the first failure must be Rlerror)";
                for (int i = 0; i < n; i++)
                    op.Qids[i] = m.Qids[i];
                op.Count = (uint)n;
                return null;
            }
            case P9MessageType.Tlopen:
            {
                e = Rlopen.TryDecode(frame, out var m);
                op.Qid = m.Qid;
                op.IoUnit = m.Iounit;
                break;
            }
            case P9MessageType.Tlcreate:
            {
                e = Rlcreate.TryDecode(frame, out var m);
                op.Qid = m.Qid;
                op.IoUnit = m.Iounit;
                break;
            }
            case P9MessageType.Tread:
            {
                e = Rread.TryDecode(frame, out var m);
                if (e != P9DecodeError.None)
                    break;
                if ((uint)m.Data.Length > op.Requested)
                    return $"Rread of {m.Data.Length} bytes for a Tread of {op.Requested}";
                if (writeDestination)
                    m.Data.CopyTo(op.Destination.Span);
                op.Count = (uint)m.Data.Length;
                return null;
            }
            case P9MessageType.Twrite:
            {
                e = Rwrite.TryDecode(frame, out var m);
                if (e != P9DecodeError.None)
                    break;
                if (m.Count > op.Requested)
                    return $"Rwrite of {m.Count} bytes for a Twrite of {op.Requested}";
                op.Count = m.Count;
                return null;
            }
            case P9MessageType.Treaddir:
            {
                e = Rreaddir.TryDecode(frame, out var m);
                if (e != P9DecodeError.None)
                    break;
                if ((uint)m.Data.Length > op.Requested)
                    return $"Rreaddir of {m.Data.Length} bytes for a Treaddir of {op.Requested}";
                var entries = m.Entries;
                while (entries.TryRead(out _))
                {
                }
                if (entries.Error != P9DecodeError.None)
                    return "Rreaddir entries malformed: " + entries.Error.Describe();
                if (writeDestination)
                    m.Data.CopyTo(op.Destination.Span);
                op.Count = (uint)m.Data.Length;
                return null;
            }
            case P9MessageType.Tgetattr:
            {
                e = Rgetattr.TryDecode(frame, out var m);
                op.Attr = new P9Attr(m.Valid, m.Qid, m.Mode, m.Uid, m.Gid, m.Nlink, m.Rdev, m.Size, m.Blksize, m.Blocks,
                    m.AtimeSec, m.AtimeNsec, m.MtimeSec, m.MtimeNsec, m.CtimeSec, m.CtimeNsec, m.BtimeSec, m.BtimeNsec, m.Gen, m.DataVersion);
                break;
            }
            case P9MessageType.Tstatfs:
            {
                e = Rstatfs.TryDecode(frame, out var m);
                op.StatFs = new P9StatFs(m.Type, m.Bsize, m.Blocks, m.Bfree, m.Bavail, m.Files, m.Ffree, m.Fsid, m.Namelen);
                break;
            }
            case P9MessageType.Treadlink:
            {
                e = Rreadlink.TryDecode(frame, out var m);
                if (e == P9DecodeError.None)
                    op.Text = Encoding.UTF8.GetString(m.Target);
                break;
            }
            case P9MessageType.Tsymlink:
            {
                e = Rsymlink.TryDecode(frame, out var m);
                op.Qid = m.Qid;
                break;
            }
            case P9MessageType.Tmknod:
            {
                e = Rmknod.TryDecode(frame, out var m);
                op.Qid = m.Qid;
                break;
            }
            case P9MessageType.Tmkdir:
            {
                e = Rmkdir.TryDecode(frame, out var m);
                op.Qid = m.Qid;
                break;
            }
            case P9MessageType.Txattrwalk:
            {
                e = Rxattrwalk.TryDecode(frame, out var m);
                op.U64 = m.Size;
                break;
            }
            case P9MessageType.Tlock:
            {
                e = Rlock.TryDecode(frame, out var m);
                op.LockStatus = m.Status;
                break;
            }
            case P9MessageType.Tgetlock:
            {
                e = Rgetlock.TryDecode(frame, out var m);
                if (e == P9DecodeError.None)
                    op.LockInfo = new P9LockInfo(m.Type, m.Start, m.Length, m.ProcId, Encoding.UTF8.GetString(m.ClientId));
                break;
            }
            default:
                // Rclunk, Rremove, Rsetattr, Rxattrcreate, Rfsync, Rlink, Rrename, Rrenameat, Runlinkat, Rflush: no body.
                e = frame.Length == P9Constants.HeaderSize ? P9DecodeError.None : P9DecodeError.TrailingBytes;
                break;
        }
        return e == P9DecodeError.None ? null : $"bad R{op.Request.ToString()[1..]}: {e.Describe()}";
    }

    // ---- the RPC helper ---------------------------------------------------------------------------------------

    /// <summary>
    /// One request/reply: take a tag, encode, await, read the result out of the op, give the op back.
    /// The encode and result delegates are static lambdas (cached), the state a value tuple, and the async state
    /// machine is pooled: a steady-state call allocates nothing.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<TResult> RpcAsync<TState, TResult>(P9MessageType request, TState state,
        Action<IBufferWriter<byte>, ushort, TState> encode, Func<PendingOperation, TState, TResult> result,
        CancellationToken cancellationToken, uint newFid = P9Constants.NoFid, int walkNames = 0,
        Memory<byte> destination = default, uint requested = 0)
    {
        PendingOperation op;
        try
        {
            op = await BeginAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            FreeFid(newFid);
            throw;
        }
        op.NewFid = newFid;
        op.WalkNameCount = walkNames;
        op.Destination = destination;
        op.Requested = requested;
        try
        {
            try
            {
                SendEncoded(op, state, encode, cancellationToken);
            }
            catch
            {
                FreeFid(newFid);
                throw;
            }
            try
            {
                await op.AsValueTask().ConfigureAwait(false);
            }
            catch (P9Exception)
            {
                // The request failed on the server: the fid it would have created does not exist.
                FreeFid(newFid);
                throw;
            }
            return result(op, state);
        }
        finally
        {
            op.FinishByCaller();
        }
    }
}
