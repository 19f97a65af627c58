using System.Threading.Tasks.Sources;
using P9.Protocol.Wire;

namespace P9.Protocol.Client;

public sealed partial class P9Client
{
    /// <summary>
    /// One request in flight: the tag's entry in the table and the awaitable the caller waits on. Pooled, so awaiting
    /// allocates nothing in steady state.
    ///
    /// Who may complete it is decided by one CAS on <see cref="_state"/>: the reader (a reply arrived), the
    /// cancellation callback (then a Tflush goes out and the tag stays in the table), or the connection's death.
    /// The loser does nothing. The reader copies reply data into the caller's buffer only after winning the CAS, so
    /// a cancelled caller's buffer is never written.
    ///
    /// Lifetime is a reference count: the caller (until it has read the result and disposed its cancellation
    /// registration), the tag (until the reply or Rflush), and a Tflush aimed at it. The last one returns it to the
    /// pool, so no path can reuse an operation someone still looks at.
    /// </summary>
    internal sealed class PendingOperation : IValueTaskSource
    {
        private const int Pending = 0, Completed = 1, Cancelled = 2;

        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
        private int _state;
        private int _owners;

        internal readonly Qid[] Qids = new Qid[P9Constants.MaxWalkElements];

        internal PendingOperation(P9Client client) => Client = client;

        internal P9Client Client { get; }

        internal ushort Tag;
        internal P9MessageType Request;
        internal long SentTimestamp; // Stopwatch ticks when the request was queued, for Stats.Latency
        internal bool Gated;
        internal bool Internal;
        internal bool TagHeld;

        /// <summary>A fid this request creates (Tattach, Twalk, Txattrwalk newfid): if the request is cancelled and
        /// then answered with success, the client clunks it; if it never takes effect, the number is freed.</summary>
        internal uint NewFid;
        internal int WalkNameCount;

        /// <summary>For an internal Tflush: the cancelled operation it flushes. For an internal Tclunk: unused.</summary>
        internal PendingOperation? FlushTarget;
        internal uint ClunkFid;

        internal CancellationToken CancellationToken;
        internal CancellationTokenRegistration Registration;

        // Results, filled by the reader after it wins the CAS.
        internal Memory<byte> Destination;
        internal uint Requested;
        internal uint Count;
        internal Qid Qid;
        internal uint IoUnit;
        internal ulong U64;
        internal P9Attr Attr;
        internal P9StatFs StatFs;
        internal string? Text;
        internal P9LockInfo LockInfo;
        internal LockStatus LockStatus;
        internal uint Msize;

        internal bool IsCancelled => Volatile.Read(ref _state) == Cancelled;

        internal void Reset(P9MessageType request, bool gated, bool isInternal)
        {
            Request = request;
            Gated = gated;
            Internal = isInternal;
            NewFid = P9Constants.NoFid;
            WalkNameCount = 0;
            FlushTarget = null;
            ClunkFid = P9Constants.NoFid;
            CancellationToken = default;
            Registration = default;
            Destination = default;
            Requested = 0;
            Count = 0;
            Text = null;
            _state = Pending;
            // Internal operations have no caller: only the tag owns them.
            _owners = isInternal ? 1 : 2;
        }

        internal ValueTask AsValueTask() => new(this, _core.Version);

        /// <summary>The reader claims the operation before writing results into it.</summary>
        internal bool TryClaim() => Interlocked.CompareExchange(ref _state, Completed, Pending) == Pending;

        internal void SetResult() => _core.SetResult(true);

        internal void SetException(Exception exception) => _core.SetException(exception);

        /// <summary>Fails the operation if nobody completed it yet (connection death).</summary>
        internal void TryFail(Exception exception)
        {
            if (TryClaim())
                _core.SetException(exception);
        }

        internal void AddOwner() => Interlocked.Increment(ref _owners);

        internal void ReleaseOwner()
        {
            if (Interlocked.Decrement(ref _owners) == 0)
                Client.ReturnToPool(this);
        }

        internal void ResetCore() => _core.Reset();

        /// <summary>Registered after the request is in the send buffer, so a Tflush can never overtake it.</summary>
        internal void RegisterCancellation(CancellationToken cancellationToken)
        {
            if (!cancellationToken.CanBeCanceled)
                return;
            CancellationToken = cancellationToken;
            Registration = cancellationToken.UnsafeRegister(static s => ((PendingOperation)s!).OnCancel(), this);
        }

        private void OnCancel()
        {
            if (Interlocked.CompareExchange(ref _state, Cancelled, Pending) != Pending)
                return;
            Client.StartFlush(this);
            _core.SetException(new OperationCanceledException(CancellationToken));
        }

        /// <summary>The caller is done (result read or exception seen). Disposing the registration waits for a
        /// running callback, so the callback can never touch an operation that went back to the pool.</summary>
        internal void FinishByCaller()
        {
            Registration.Dispose();
            Registration = default;
            Destination = default;
            ReleaseOwner();
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        public void GetResult(short token) => _core.GetResult(token);
    }
}
