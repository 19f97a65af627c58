using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using Gofer.HostFs.Native;
using LibC = Gofer.Runtime.Native.LibC;

namespace Gofer.Server;

/// <summary>
/// A connected stream socket as the session's <see cref="IDuplexPipe"/>, with no pipe in between: the reader receives
/// straight into one contiguous buffer and the writer sends straight from one.
/// <para>
/// Why not a <see cref="Pipe"/> pair with socket pumps (what Pipelines.Sockets.Unofficial did here before): every
/// batch then crossed two thread hops (socket pump → session, session → send pump), a request frame could straddle
/// pipe segments (a copy to join it), and the adapter allocated per receive. Here the session's read loop continues
/// on the thread that completed the receive, processes every whole frame in place (a frame is always contiguous: the
/// buffer grows to the frame being received, bounded by msize), and its flush is a send() on the same thread. The
/// steady state allocates nothing: the socket's cached awaitables, and pooled async state machines on the rare paths
/// where the socket has no data or no room.
/// </para>
/// <para>
/// Reads have two modes. On the connection's own thread (<see cref="BindReaderToCurrentThread"/>, how
/// <see cref="GoferServer"/> serves sockets) a read that finds nothing recv()s again a few times, yielding the core in
/// between, then sleeps in poll(): the kernel wakes that thread straight into the session. From any other thread a read
/// is the socket's asynchronous receive (epoll engine, then a pool thread).
/// </para>
/// <para>
/// Contract with <see cref="Session"/> (which this is built for): one reader calling ReadAsync/AdvanceTo in turn; one
/// flusher at a time writing and flushing, never writing while a flush is pending. Socket errors surface as
/// <see cref="IOException"/>. Neither side closes the socket; its owner does, after both sides completed.
/// </para>
/// </summary>
internal sealed class SocketPipe : IDuplexPipe
{
    public SocketPipe(Socket socket, uint maxFrame)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Input = new Reader(socket, maxFrame);
        Output = new Writer(socket);
    }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    /// <summary>
    /// Makes the calling thread the connection's own reader thread: its reads wait in poll(2) and recv(2) on the
    /// socket directly, so the kernel wakes this thread when a request arrives and the session runs right here, with
    /// no hand-off through the runtime's socket engine and the thread pool (p9ideal's model, and diod's: a thread
    /// per connection). Reads from any other thread keep using the asynchronous path.
    /// </summary>
    public void BindReaderToCurrentThread() => ((Reader)Input).OwnerThreadId = Environment.CurrentManagedThreadId;

    private static IOException Wrap(SocketException e) => new(e.Message, e);

    private sealed class Reader : PipeReader, IFrameLender, IFileSplicer
    {
        private const int InitialSize = 64 * 1024;
        private const int MinReceive = 16 * 1024;
        private const int BigFrame = 128 * 1024; // frames above this are received on their own (ReceiveLength)

        private readonly Socket _socket;
        private readonly int _maxCapacity;
        private LentBuffer? _holder;  // owns _buffer (the reader's reference) once the first receive needed one
        private byte[] _buffer = [];
        private bool _lentFromBuffer; // a frame in _buffer is lent out: never write over, move or return it
        private int _start;        // first unconsumed byte
        private int _end;          // one past the last received byte
        private bool _examinedAll; // the reader has seen everything in [_start, _end): the next read must receive
        private bool _eof;
        private bool _completed;
        // Set and read across threads (CancelPendingRead vs the reader): written with Interlocked (full fences) so
        // that of "cancel, then look for a receive" and "mark receiving, then look for a cancel" one sees the other.
        private int _receiving;
        private int _cancelRequested;
        private int _pipeRead = -1;   // the splice pipe (SpliceToFile), made on first use, closed by Complete
        private int _pipeWrite = -1;
        private int _pipeSize;

        public Reader(Socket socket, uint maxFrame)
        {
            _socket = socket;
            // The largest unconsumed run is one partial frame (the session consumes every whole frame it examines)
            // plus one receive; msize never exceeds maxFrame.
            _maxCapacity = (int)Math.Min(int.MaxValue / 2, (long)maxFrame + (2L * InitialSize));
        }

        private ReadOnlySequence<byte> Unconsumed => new(_buffer, _start, _end - _start);

        // Reader threads not asleep in poll. Spinning pays only while there are cores to spare: with more busy
        // connections than cores a spinning reader steals the core another one (or the client) needs.
        private static int s_awake;
        private static readonly int SpinMaxAwake = Math.Max(1, Environment.ProcessorCount / 2);

        // Before sleeping in poll, a reader looks again this many times, yielding its core in between: a request
        // usually follows its predecessor's reply within microseconds, and a wake-up from poll costs a cross-core
        // reschedule (≈ 100 µs on this project's VMs). Yielding, not spinning, leaves the core to the client or to
        // other connections when they need it. Measured with p9load getattr: c1d1 3× faster, c4d16 unchanged.
        private const int SpinReceives = 50;

        /// <summary>The managed id of the thread that reads by blocking (0: none).</summary>
        public int OwnerThreadId { get; set; }

        public override bool TryRead(out ReadResult result)
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            if (Volatile.Read(ref _cancelRequested) != 0)
            {
                Volatile.Write(ref _cancelRequested, 0);
                result = new ReadResult(Unconsumed, isCanceled: true, isCompleted: false);
                return true;
            }
            if ((_end > _start && !_examinedAll) || _eof)
            {
                result = new ReadResult(Unconsumed, isCanceled: false, isCompleted: _eof);
                return true;
            }
            result = default;
            return false;
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            if (TryRead(out var ready))
                return new ValueTask<ReadResult>(ready);
            if (OwnerThreadId == Environment.CurrentManagedThreadId)
                return new ValueTask<ReadResult>(ReceiveBlocking());

            MakeRoom();
            ValueTask<int> receive;
            Interlocked.Exchange(ref _receiving, 1);
            try
            {
                if (Volatile.Read(ref _cancelRequested) != 0)
                {
                    Volatile.Write(ref _receiving, 0);
                    Volatile.Write(ref _cancelRequested, 0);
                    return new ValueTask<ReadResult>(new ReadResult(Unconsumed, isCanceled: true, isCompleted: false));
                }
                receive = _socket.ReceiveAsync(_buffer.AsMemory(_end, ReceiveLength()), SocketFlags.None, cancellationToken);
            }
            catch (SocketException e)
            {
                Volatile.Write(ref _receiving, 0);
                throw Wrap(e);
            }
            if (receive.IsCompletedSuccessfully)
            {
                Volatile.Write(ref _receiving, 0);
                return new ValueTask<ReadResult>(Received(receive.Result));
            }
            return ReadSlowAsync(receive);
        }

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        private async ValueTask<ReadResult> ReadSlowAsync(ValueTask<int> receive)
        {
            int n;
            try
            {
                n = await receive.ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                if (Volatile.Read(ref _cancelRequested) != 0)
                    n = 0; // woken by CancelPendingRead's shutdown
                else
                    throw Wrap(e);
            }
            finally
            {
                Volatile.Write(ref _receiving, 0);
            }
            return Received(n);
        }

        /// <summary>
        /// The reader thread's receive: recv without waiting, and when nothing is there, poll until something is (or
        /// until CancelPendingRead's shutdown makes the socket readable at end of stream).
        /// </summary>
        private unsafe ReadResult ReceiveBlocking()
        {
            MakeRoom();
            var handle = _socket.SafeHandle;
            bool added = false;
            Interlocked.Exchange(ref _receiving, 1);
            Interlocked.Increment(ref s_awake);
            try
            {
                handle.DangerousAddRef(ref added);
                int fd = (int)handle.DangerousGetHandle();
                int spins = SpinReceives;
                while (true)
                {
                    if (Volatile.Read(ref _cancelRequested) != 0)
                        return Received(0);
                    nint n;
                    fixed (byte* p = &_buffer[_end])
                        n = SocketNative.recv(fd, p, (nuint)ReceiveLength(), SocketNative.MSG_DONTWAIT);
                    if (n >= 0)
                        return Received((int)n);
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == SocketNative.EINTR)
                        continue;
                    if (errno != SocketNative.EAGAIN)
                        throw new IOException($"recv: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
                    if (spins-- > 0 && Volatile.Read(ref s_awake) <= SpinMaxAwake)
                    {
                        Thread.Yield();
                        continue;
                    }
                    var pfd = new SocketNative.PollFd { Fd = fd, Events = SocketNative.POLLIN | SocketNative.POLLRDHUP };
                    Interlocked.Decrement(ref s_awake);
                    int polled = SocketNative.poll(&pfd, 1, -1);
                    int pollErrno = polled < 0 ? Marshal.GetLastPInvokeError() : 0;
                    Interlocked.Increment(ref s_awake);
                    if (polled < 0 && pollErrno != SocketNative.EINTR)
                        throw new IOException($"poll: {Marshal.GetPInvokeErrorMessage(pollErrno)}", pollErrno);
                }
            }
            finally
            {
                Interlocked.Decrement(ref s_awake);
                Volatile.Write(ref _receiving, 0);
                if (added)
                    handle.DangerousRelease();
            }
        }

        private ReadResult Received(int n)
        {
            if (Volatile.Read(ref _cancelRequested) != 0)
            {
                // CancelPendingRead woke the receive (shutdown): keep what arrived, report the cancellation.
                Volatile.Write(ref _cancelRequested, 0);
                _end += n;
                _examinedAll = false;
                return new ReadResult(Unconsumed, isCanceled: true, isCompleted: false);
            }
            if (n == 0)
                _eof = true;
            _end += n;
            _examinedAll = false;
            return new ReadResult(Unconsumed, isCanceled: false, isCompleted: _eof);
        }

        /// <summary>
        /// Before a receive: free space after the data, and room for the whole frame that has started arriving so it
        /// ends up contiguous. Moves the partial frame to the front only when it would not fit where it is.
        /// </summary>
        private void MakeRoom()
        {
            if (_holder is null)
                Replace(InitialSize, 0);
            if (_start == _end && !_lentFromBuffer)
                _start = _end = 0;

            int pending = _end - _start;
            int frame = pending >= 4 ? (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_start)), (uint)_maxCapacity) : 0;
            int need = Math.Max(frame, pending) + MinReceive;
            if (_buffer.Length - _start >= need && _buffer.Length - _end >= MinReceive)
                return;

            if (need > _maxCapacity + MinReceive)
                throw new InvalidOperationException($"a partial frame of {pending} bytes outgrew the receive buffer"); // the session's scanner bounds frames first
            if (_buffer.Length < need || _lentFromBuffer)
            {
                // A fresh buffer: the old one is too small, or a worker still reads a frame in it (it keeps the old
                // array alive through its reference; the unconsumed tail moves here).
                Replace(Math.Max(need, _lentFromBuffer ? _buffer.Length : _buffer.Length * 2), pending);
            }
            else
            {
                _buffer.AsSpan(_start, pending).CopyTo(_buffer);
            }
            _start = 0;
            _end = pending;
        }

        /// <summary>
        /// How much to receive: all the free space, except while a big frame is arriving — then its remainder and a
        /// little more. Taking much of the next big frame with it would leave that part to be moved to the front
        /// (or into a fresh buffer when the frame was lent) before the rest of it could arrive contiguously.
        /// </summary>
        private int ReceiveLength()
        {
            int free = _buffer.Length - _end;
            int pending = _end - _start;
            if (pending < 4)
                return free;
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_start));
            if (size <= BigFrame || size <= (uint)pending)
                return free;
            return (int)Math.Min(free, size - (uint)pending + MinReceive);
        }

        /// <summary>Moves the unconsumed bytes into a new buffer of at least <paramref name="size"/> bytes and drops the reader's reference to the old one.</summary>
        private void Replace(int size, int pending)
        {
            var next = LentBuffer.Rent(size);
            _buffer.AsSpan(_start, pending).CopyTo(next.Array);
            _holder?.Release();
            _holder = next;
            _buffer = next.Array;
            _lentFromBuffer = false;
        }

        public bool TryLend(ReadOnlySpan<byte> frame, out LentBuffer? holder, out int offset)
        {
            holder = null;
            offset = 0;
            if (_holder is null || frame.IsEmpty || !_buffer.AsSpan(_start, _end - _start).Overlaps(frame, out int at) || at < 0 || at + frame.Length > _end - _start)
                return false;
            _holder.AddRef();
            _lentFromBuffer = true;
            holder = _holder;
            offset = _start + at;
            return true;
        }

        public bool CanSplice => OwnerThreadId == Environment.CurrentManagedThreadId && !_completed && !_eof;

        public unsafe bool PrepareSplice()
        {
            if (_pipeRead >= 0)
                return true;
            int* fds = stackalloc int[2];
            if (LibC.pipe2(fds, Libc.O_CLOEXEC | Libc.O_NONBLOCK) != 0)
                return false;
            // A pipe as big as a frame moves a 1 MiB payload in one splice each way; where the limit is lower
            // (/proc/sys/fs/pipe-max-size for unprivileged users) the default 64 KiB still works, in more steps.
            LibC.fcntl(fds[1], SocketNative.F_SETPIPE_SZ, 1024 * 1024);
            int size = LibC.fcntl(fds[1], SocketNative.F_GETPIPE_SZ, 0);
            _pipeRead = fds[0];
            _pipeWrite = fds[1];
            _pipeSize = size > 0 ? size : 64 * 1024;
            return true;
        }

        public unsafe long SpliceToFile(SafeFd? file, long offset, long length, out Errno fileError)
        {
            fileError = Errno.None;
            var sock = _socket.SafeHandle;
            bool sockAdded = false, fileAdded = false;
            byte[]? scratch = null;
            long written = 0, left = length;
            int inPipe = 0;
            bool discard = file is null, copy = false;
            Interlocked.Exchange(ref _receiving, 1); // so that CancelPendingRead (abort, partial-frame timeout) wakes the poll
            try
            {
                sock.DangerousAddRef(ref sockAdded);
                int sfd = (int)sock.DangerousGetHandle();
                int ffd = -1;
                if (file is not null)
                {
                    file.DangerousAddRef(ref fileAdded);
                    ffd = file.RawValue;
                }

                while (left > 0 || inPipe > 0)
                {
                    if (inPipe > 0 && !discard && !copy)
                    {
                        // pipe → file: the one copy, into the page cache.
                        long off = offset + written;
                        nint n = SocketNative.splice(_pipeRead, null, ffd, &off, (nuint)inPipe, SocketNative.SPLICE_F_MOVE);
                        if (n > 0)
                        {
                            inPipe -= (int)n;
                            written += n;
                            continue;
                        }
                        int err = n < 0 ? Marshal.GetLastPInvokeError() : (int)Errno.EIO;
                        if (err == SocketNative.EINTR)
                            continue;
                        if (err == (int)Errno.EINVAL && written == 0)
                            copy = true; // a filesystem without splice_write: through user space instead
                        else
                        {
                            fileError = (Errno)err;
                            discard = true;
                        }
                        continue;
                    }

                    if (inPipe > 0)
                    {
                        // Copy mode (pwrite what comes out of the pipe) or discard mode (the file failed: the rest
                        // of the payload must still be taken off the socket).
                        scratch ??= BufferPool.Shared.Rent(64 * 1024);
                        nint n;
                        fixed (byte* b = scratch)
                        {
                            n = LibC.read(_pipeRead, b, (nuint)Math.Min(inPipe, scratch.Length));
                            if (n < 0 && Marshal.GetLastPInvokeError() == SocketNative.EINTR)
                                continue;
                            if (n <= 0)
                                throw new IOException("read from the splice pipe failed");
                            inPipe -= (int)n;
                            for (int done = 0; done < n && !discard;)
                            {
                                nint w = Libc.pwrite(file!, b + done, (nuint)(n - done), offset + written);
                                if (w > 0)
                                {
                                    done += (int)w;
                                    written += w;
                                    continue;
                                }
                                int err = w < 0 ? Marshal.GetLastPInvokeError() : (int)Errno.EIO;
                                if (err == SocketNative.EINTR)
                                    continue;
                                fileError = (Errno)err;
                                discard = true;
                            }
                        }
                        continue;
                    }

                    // socket → pipe: moves the received pages, no copy.
                    if (Volatile.Read(ref _cancelRequested) != 0)
                        throw new IOException("the connection was aborted inside a Twrite payload");
                    nint r = SocketNative.splice(sfd, null, _pipeWrite, null, (nuint)Math.Min(left, _pipeSize), SocketNative.SPLICE_F_MOVE | SocketNative.SPLICE_F_NONBLOCK);
                    if (r > 0)
                    {
                        left -= r;
                        inPipe += (int)r;
                        continue;
                    }
                    if (r == 0)
                        throw new IOException("the peer closed the connection inside a Twrite payload");
                    int e = Marshal.GetLastPInvokeError();
                    if (e == SocketNative.EINTR)
                        continue;
                    if (e != SocketNative.EAGAIN)
                        throw new IOException($"splice: {Marshal.GetPInvokeErrorMessage(e)}", e);
                    var pfd = new SocketNative.PollFd { Fd = sfd, Events = SocketNative.POLLIN | SocketNative.POLLRDHUP };
                    if (SocketNative.poll(&pfd, 1, -1) < 0 && Marshal.GetLastPInvokeError() != SocketNative.EINTR)
                        throw new IOException($"poll: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                }
                return written;
            }
            finally
            {
                Volatile.Write(ref _receiving, 0);
                if (scratch is not null)
                    BufferPool.Shared.Return(scratch);
                if (fileAdded)
                    file!.DangerousRelease();
                if (sockAdded)
                    sock.DangerousRelease();
            }
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            int c = Position(consumed);
            int x = Position(examined);
            if (c < _start || c > _end || x < c || x > _end)
                throw new ArgumentOutOfRangeException(nameof(consumed), "a position outside the last read");
            _start = c;
            _examinedAll = x == _end;
            if (_start == _end && !_lentFromBuffer)
                _start = _end = 0;
        }

        private int Position(SequencePosition p) =>
            p.GetObject() is null ? _start :
            ReferenceEquals(p.GetObject(), _buffer) ? p.GetInteger() :
            throw new ArgumentOutOfRangeException(nameof(p), "a position from another buffer");

        /// <summary>
        /// Wakes a pending read, which then returns IsCanceled. A receive waiting on the socket is woken by shutting
        /// down the receive side: the session ends after a cancelled read (abort, shutdown, timeout), so nothing is
        /// read after it.
        /// </summary>
        public override void CancelPendingRead()
        {
            Interlocked.Exchange(ref _cancelRequested, 1);
            if (Volatile.Read(ref _receiving) != 0)
            {
                try
                {
                    _socket.Shutdown(SocketShutdown.Receive);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // already closed: the receive fails or has completed by itself
                }
            }
        }

        public override void Complete(Exception? exception = null)
        {
            if (_completed)
                return;
            _completed = true;
            if (_holder is not null && Volatile.Read(ref _receiving) == 0)
                _holder.Release(); // borrowers keep theirs: the array returns to the pool with the last
            _holder = null;
            if (_pipeRead >= 0 && Volatile.Read(ref _receiving) == 0)
            {
                LibC.close(_pipeRead);
                LibC.close(_pipeWrite);
                _pipeRead = _pipeWrite = -1;
            }
            _buffer = [];
            _start = _end = 0;
        }
    }

    private sealed class Writer : PipeWriter, IDirectSender, IValueTaskSource<FlushResult>
    {
        private readonly Socket _socket;
        private readonly ReplyBuffer _pending = new(16 * 1024); // written, not yet sent (the same growable pooled array the session encodes into)
        private bool _completed;
        private bool _sending;
        private ManualResetValueTaskSourceCore<FlushResult> _flushCore; // the one slow flush in progress
        private ValueTask<int> _send;
        private int _sent;
        private CancellationToken _sendCancellation;
        private Action? _onSent;

        public Writer(Socket socket) => _socket = socket;

        public unsafe int SendNow(ReadOnlySpan<byte> data)
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            if (_pending.Length > 0 || _sending || data.IsEmpty)
                return 0;
            var handle = _socket.SafeHandle;
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                int fd = (int)handle.DangerousGetHandle();
                int sent = 0;
                while (sent < data.Length)
                {
                    nint n;
                    fixed (byte* p = data[sent..])
                        n = SocketNative.send(fd, p, (nuint)(data.Length - sent), SocketNative.MSG_DONTWAIT | SocketNative.MSG_NOSIGNAL);
                    if (n > 0)
                    {
                        sent += (int)n;
                        continue;
                    }
                    int errno = n < 0 ? Marshal.GetLastPInvokeError() : SocketNative.EAGAIN;
                    if (errno == SocketNative.EINTR)
                        continue;
                    if (errno == SocketNative.EAGAIN)
                        break;
                    throw new IOException($"send: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
                }
                return sent;
            }
            finally
            {
                if (added)
                    handle.DangerousRelease();
            }
        }

        public override bool CanGetUnflushedBytes => true;

        public override long UnflushedBytes => _pending.Length;

        public override void Advance(int bytes) => _pending.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0)
        {
            CheckWritable();
            return _pending.GetMemory(sizeHint);
        }

        public override Span<byte> GetSpan(int sizeHint = 0)
        {
            CheckWritable();
            return _pending.GetSpan(sizeHint);
        }

        private void CheckWritable()
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            if (_sending)
                throw new InvalidOperationException("written to while a flush is pending");
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            if (_completed)
                throw new InvalidOperationException("the writer is completed");
            int sent = 0;
            while (sent < _pending.Length)
            {
                ValueTask<int> send;
                try
                {
                    send = _socket.SendAsync(_pending.WrittenMemory[sent..], SocketFlags.None, cancellationToken);
                }
                catch (SocketException e)
                {
                    _pending.Clear();
                    throw Wrap(e);
                }
                if (!send.IsCompletedSuccessfully)
                {
                    _sending = true;
                    return FlushSlow(send, sent, cancellationToken);
                }
                sent += send.Result;
            }
            _pending.Clear();
            return new ValueTask<FlushResult>(default(FlushResult));
        }

        // The slow flush: the socket did not take everything at once. The writer itself is the flush's value-task
        // source and the send's continuation is a cached delegate, so a slow flush allocates nothing (an async method
        // here allocated a state-machine box whenever the pooling builder's per-thread cache was empty).
        private ValueTask<FlushResult> FlushSlow(ValueTask<int> send, int sent, CancellationToken cancellationToken)
        {
            _flushCore.Reset();
            _send = send;
            _sent = sent;
            _sendCancellation = cancellationToken;
            var flush = new ValueTask<FlushResult>(this, _flushCore.Version);
            ContinueSend();
            return flush;
        }

        private void ContinueSend()
        {
            while (true)
            {
                if (!_send.IsCompleted)
                {
                    _send.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onSent ??= ContinueSend);
                    return;
                }
                try
                {
                    _sent += _send.GetAwaiter().GetResult();
                    if (_sent >= _pending.Length)
                    {
                        EndFlush(null);
                        return;
                    }
#pragma warning disable CA2012 // consumed exactly once: by GetResult above, on the next turn of this loop
                    _send = _socket.SendAsync(_pending.WrittenMemory[_sent..], SocketFlags.None, _sendCancellation);
#pragma warning restore CA2012
                }
                catch (SocketException e)
                {
                    EndFlush(Wrap(e));
                    return;
                }
                catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException)
                {
                    EndFlush(e);
                    return;
                }
            }
        }

        private void EndFlush(Exception? error)
        {
            _send = default;
            _sendCancellation = default;
            _pending.Clear();
            _sending = false;
            if (error is null)
                _flushCore.SetResult(default);
            else
                _flushCore.SetException(error);
        }

        FlushResult IValueTaskSource<FlushResult>.GetResult(short token) => _flushCore.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => _flushCore.GetStatus(token);

        void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _flushCore.OnCompleted(continuation, state, token, flags);

        public override void CancelPendingFlush()
        {
            // The session never cancels a flush: it ends the connection instead, which fails the pending send.
        }

        public override void Complete(Exception? exception = null)
        {
            if (_completed)
                return;
            _completed = true;
            if (!_sending)
                _pending.Release(); // with a send pending, the socket still reads the array: left to the GC
        }
    }
}
