using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Gofer.Recording;

/// <summary>
/// <c>gofer serve --record DIR</c>: writes each connection's 9P traffic, both directions with timestamps, to its
/// own pcapng file in DIR, framed as a synthetic TCP connection 127.0.0.1:&lt;port&gt; → 127.0.0.1:564 so that
/// <c>tshark -r FILE -d tcp.port==564,9p</c> and <c>gofer trace FILE</c> decode it.
/// </summary>
/// <remarks>
/// <para>File naming: <c>DIR/conn-NNNNNN-yyyyMMddTHHmmss.ffffffZ-pPID.pcapng</c>, where NNNNNN counts the
/// connections of this recorder from 1, the time is when the connection was opened (UTC) and PID is the gofer's
/// process id, so that two gofers sharing DIR never collide and names sort by connection. One file per
/// connection (rather than one file of many streams) so a connection's file is complete and closed as soon as the
/// connection ends, one bad connection's file cannot spoil the others, and corpora are picked per connection.
/// The synthetic client port is 49152 + (N − 1) mod 16384 (the IANA dynamic range).</para>
/// <para>Threading: producers copy the bytes into a pooled buffer and post them to an unbounded channel whose
/// size in bytes is bounded by <see cref="TrafficRecorderOptions.MaxQueuedBytes"/>; one background task writes all
/// files. When the bound is hit the chunk is dropped and counted (<see cref="RecordingOverflow.Drop"/>, the
/// default) or the producer waits (<see cref="RecordingOverflow.Block"/>). An I/O error on a connection's file is
/// logged once and recording stops for that connection only; the server never sees it.</para>
/// </remarks>
internal sealed partial class TrafficRecorder : IAsyncDisposable, IDisposable
{
    /// <summary>Synthetic client ports are taken from the IANA dynamic range 49152–65535.</summary>
    private const int EphemeralBase = 49152;
    private const int EphemeralCount = 65536 - EphemeralBase;

    private readonly TrafficRecorderOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<Item> _queue = Channel.CreateUnbounded<Item>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    /// <summary>
    /// Buffers are rented on the connections' threads and returned on the writer's, which defeats the shared
    /// pool's per-thread caches (every rent would allocate). A pool of our own keeps them in common buckets;
    /// 32 per size class bounds what it retains to about the queue's own bound.
    /// </summary>
    private readonly ArrayPool<byte> _buffers = ArrayPool<byte>.Create(maxArrayLength: 1 << 20, maxArraysPerBucket: 32);
    private readonly TaskCompletionSource _writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _startTimestamp;
    private readonly long _startUnixMicros;
    private readonly object _room = new(); // Monitor.Wait/PulseAll, which System.Threading.Lock lacks
    private readonly int _processId = Environment.ProcessId;
    private int _waiters;
    private long _queuedBytes;
    private int _connections;
    private long _droppedChunks;
    private long _droppedBytes;
    private volatile bool _closed;

    private TrafficRecorder(string directory, ILogger logger, TrafficRecorderOptions options)
    {
        Directory = directory;
        _logger = logger;
        _options = options;
        _startTimestamp = options.Time.GetTimestamp();
        _startUnixMicros = (options.Time.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        // A dedicated thread, not the thread pool: file writes are synchronous, and a slow disk (or producers
        // blocked in RecordingOverflow.Block) must never starve the pool the server's connections run on.
        new Thread(WriteLoop) { IsBackground = true, Name = "gofer-recorder" }.Start();
    }

    /// <summary>The directory the files go to.</summary>
    public string Directory { get; }

    /// <summary>Chunks dropped because the writer was behind (only in <see cref="RecordingOverflow.Drop"/>).</summary>
    public long DroppedChunks => Interlocked.Read(ref _droppedChunks);

    /// <summary>Bytes dropped because the writer was behind.</summary>
    public long DroppedBytes => Interlocked.Read(ref _droppedBytes);

    /// <summary>
    /// Creates the recorder, creating <paramref name="directory"/> if needed. This is the only place a recording
    /// problem surfaces as an exception (a bad <c>--record</c> argument is a configuration error, reported at
    /// startup); everything after it is logged and swallowed.
    /// </summary>
    /// <exception cref="IOException">The directory cannot be created.</exception>
    /// <exception cref="UnauthorizedAccessException">The directory cannot be created.</exception>
    public static TrafficRecorder Create(string directory, ILogger logger, TrafficRecorderOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(logger);
        string full = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(full);
        var recorder = new TrafficRecorder(full, logger, options ?? new TrafficRecorderOptions());
        Log.RecordingStarted(logger, full);
        return recorder;
    }

    /// <summary>
    /// Starts recording a new connection. <paramref name="description"/> (e.g. "unix:/run/gofer.sock",
    /// "fd:3 rootfs") goes into the file's comment so a recording can be traced back to its mount.
    /// </summary>
    public IConnectionRecorder OpenConnection(string? description = null)
    {
        int id = Interlocked.Increment(ref _connections);
        var connection = new ConnectionRecorder(this, id, description);
        if (_closed || !_queue.Writer.TryWrite(new Item(connection, ItemKind.Open, Now(), null, 0)))
        {
            connection.Stop();
        }

        return connection;
    }

    /// <summary>Stops accepting traffic, writes what is queued, closes every open connection's file (with FINs).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_closed)
        {
            await _writerDone.Task.ConfigureAwait(false);
            return;
        }

        _closed = true;
        _queue.Writer.TryComplete();
        lock (_room)
        {
            Monitor.PulseAll(_room);
        }

        await _writerDone.Task.ConfigureAwait(false);
    }

    /// <inheritdoc cref="DisposeAsync"/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private long Now() => _startUnixMicros + (_options.Time.GetElapsedTime(_startTimestamp).Ticks / 10);

    private void Enqueue(ConnectionRecorder connection, bool fromClient, ReadOnlySpan<byte> data)
    {
        int length = data.Length;
        if (length == 0)
        {
            return;
        }

        long now = Now();
        if (!Reserve(length))
        {
            Dropped(connection, fromClient, length, now);
            return;
        }

        byte[] buffer = _buffers.Rent(length);
        data.CopyTo(buffer);
        if (!_queue.Writer.TryWrite(new Item(connection, fromClient ? ItemKind.FromClient : ItemKind.FromServer, now, buffer, length)))
        {
            // The recorder was disposed while this connection still ran: nothing more is recorded.
            _buffers.Return(buffer);
            Release(length);
            connection.Stop();
        }
    }

    private void Enqueue(ConnectionRecorder connection, bool fromClient, in ReadOnlySequence<byte> data)
    {
        if (data.IsSingleSegment)
        {
            Enqueue(connection, fromClient, data.FirstSpan);
            return;
        }

        if (data.Length > Array.MaxLength)
        {
            Dropped(connection, fromClient, int.MaxValue, Now());
            return;
        }

        int length = (int)data.Length;
        long now = Now();
        if (!Reserve(length))
        {
            Dropped(connection, fromClient, length, now);
            return;
        }

        byte[] buffer = _buffers.Rent(length);
        data.CopyTo(buffer);
        if (!_queue.Writer.TryWrite(new Item(connection, fromClient ? ItemKind.FromClient : ItemKind.FromServer, now, buffer, length)))
        {
            _buffers.Return(buffer);
            Release(length);
            connection.Stop();
        }
    }

    private void Dropped(ConnectionRecorder connection, bool fromClient, int length, long now)
    {
        Interlocked.Increment(ref _droppedChunks);
        Interlocked.Add(ref _droppedBytes, length);
        if (connection.NoteDrop(length))
        {
            Log.RecordingBehind(_logger, connection.Id, _options.MaxQueuedBytes);
        }

        // A gap marker costs no buffer: the writer advances the sequence number so the loss shows in the capture.
        if (!_queue.Writer.TryWrite(new Item(connection, fromClient ? ItemKind.FromClient : ItemKind.FromServer, now, null, length)))
        {
            connection.Stop();
        }
    }

    private bool Reserve(int length)
    {
        long after = Interlocked.Add(ref _queuedBytes, length);
        if (after <= _options.MaxQueuedBytes || after == length)
        {
            return true; // within budget, or alone in the queue (a single chunk larger than the budget still passes)
        }

        Interlocked.Add(ref _queuedBytes, -length);
        if (_options.Overflow == RecordingOverflow.Drop)
        {
            return false;
        }

        lock (_room)
        {
            _waiters++;
            try
            {
                while (!_closed)
                {
                    long queued = Interlocked.Read(ref _queuedBytes);
                    if (queued == 0 || queued + length <= _options.MaxQueuedBytes)
                    {
                        break;
                    }

                    // Pulsed by the writer as it frees room; the timeout only guards against a missed pulse.
                    Monitor.Wait(_room, TimeSpan.FromMilliseconds(200));
                }
            }
            finally
            {
                _waiters--;
            }
        }

        Interlocked.Add(ref _queuedBytes, length);
        return true;
    }

    private void Release(int length)
    {
        Interlocked.Add(ref _queuedBytes, -length);
        if (Volatile.Read(ref _waiters) > 0)
        {
            lock (_room)
            {
                Monitor.PulseAll(_room);
            }
        }
    }

    private void WriteLoop()
    {
        var reader = _queue.Reader;
        var open = new HashSet<ConnectionRecorder>();
        var dirty = new HashSet<ConnectionRecorder>();
        try
        {
            _options.WriterGate?.GetAwaiter().GetResult();
            while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                while (reader.TryRead(out Item item))
                {
                    Process(item, open, dirty);
                }

                // Flush whenever the queue runs dry, so a file on disk is at most one burst behind the traffic
                // (and a crash loses little), without a flush per message when the server is busy.
                foreach (var connection in dirty)
                {
                    connection.Flush(_logger);
                }

                dirty.Clear();
            }
        }
#pragma warning disable CA1031 // The writer must not die silently or take the server with it; it logs and stops.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.WriterFailed(_logger, ex);
            _closed = true;
            _queue.Writer.TryComplete();
            while (reader.TryRead(out Item item))
            {
                if (item.Buffer is not null)
                {
                    _buffers.Return(item.Buffer);
                    Release(item.Length);
                }
            }
        }
        finally
        {
            foreach (var connection in open)
            {
                connection.Close(_logger, Now());
            }

            _writerDone.TrySetResult();
        }
    }

    private void Process(Item item, HashSet<ConnectionRecorder> open, HashSet<ConnectionRecorder> dirty)
    {
        var connection = item.Connection;
        try
        {
            switch (item.Kind)
            {
                case ItemKind.Open:
                    if (connection.Open(_logger, Directory, _processId, item.Micros))
                    {
                        open.Add(connection);
                        dirty.Add(connection);
                    }

                    break;
                case ItemKind.FromClient:
                case ItemKind.FromServer:
                    connection.Write(_logger, item.Kind == ItemKind.FromClient, item.Micros,
                        item.Buffer is null ? default : item.Buffer.AsSpan(0, item.Length), item.Buffer is null ? item.Length : -1);
                    dirty.Add(connection);
                    break;
                case ItemKind.Close:
                    connection.Close(_logger, item.Micros);
                    open.Remove(connection);
                    dirty.Remove(connection);
                    if (connection.DroppedChunks > 0)
                    {
                        Log.ConnectionLost(_logger, connection.Id, connection.DroppedChunks, connection.DroppedBytes);
                    }

                    break;
            }
        }
        finally
        {
            if (item.Buffer is not null)
            {
                _buffers.Return(item.Buffer);
                Release(item.Length);
            }
        }
    }

    private enum ItemKind : byte
    {
        Open,
        FromClient,
        FromServer,
        Close,
    }

    /// <summary>One queued event. <c>Buffer == null</c> on a data item means "Length bytes dropped".</summary>
    private readonly record struct Item(ConnectionRecorder Connection, ItemKind Kind, long Micros, byte[]? Buffer, int Length);

    /// <summary>The per-connection handle the server holds; writer-side state is touched only by the writer task.</summary>
    private sealed class ConnectionRecorder : IConnectionRecorder
    {
        private readonly TrafficRecorder _owner;
        private readonly string? _description;
        private readonly byte[] _headers = new byte[SyntheticTcp.HeaderLength];
        private volatile bool _stopped;
        private int _disposed;
        private long _droppedChunks;
        private long _droppedBytes;

        // Writer-side state.
        private FileStream? _file;
        private PcapNgWriter? _pcap;
        private SyntheticTcp? _tcp;
        private long _lastMicros;
        private bool _failed;

        public ConnectionRecorder(TrafficRecorder owner, int id, string? description)
        {
            _owner = owner;
            Id = id;
            _description = description;
        }

        public int Id { get; }

        public string? FilePath { get; private set; }

        public long DroppedChunks => Interlocked.Read(ref _droppedChunks);

        public long DroppedBytes => Interlocked.Read(ref _droppedBytes);

        public void Received(ReadOnlySpan<byte> data)
        {
            if (!_stopped)
            {
                _owner.Enqueue(this, fromClient: true, data);
            }
        }

        public void Received(in ReadOnlySequence<byte> data)
        {
            if (!_stopped)
            {
                _owner.Enqueue(this, fromClient: true, data);
            }
        }

        public void Sent(ReadOnlySpan<byte> data)
        {
            if (!_stopped)
            {
                _owner.Enqueue(this, fromClient: false, data);
            }
        }

        public void Sent(in ReadOnlySequence<byte> data)
        {
            if (!_stopped)
            {
                _owner.Enqueue(this, fromClient: false, data);
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _stopped = true;
            if (!_owner._closed)
            {
                _owner._queue.Writer.TryWrite(new Item(this, ItemKind.Close, _owner.Now(), null, 0));
            }
        }

        public void Stop() => _stopped = true;

        /// <summary>Counts a dropped chunk; true the first time, so the warning is logged once per connection.</summary>
        public bool NoteDrop(int length)
        {
            Interlocked.Add(ref _droppedBytes, length);
            return Interlocked.Increment(ref _droppedChunks) == 1;
        }

        public bool Open(ILogger logger, string directory, int processId, long micros)
        {
            var time = DateTimeOffset.UnixEpoch.AddTicks(micros * 10);
            string name = string.Create(CultureInfo.InvariantCulture,
                $"conn-{Id:D6}-{time.UtcDateTime:yyyyMMdd'T'HHmmss'.'ffffff'Z'}-p{processId}.pcapng");
            FilePath = Path.Combine(directory, name);
            try
            {
                // CreateNew: never overwrite an earlier recording.
                _file = new FileStream(FilePath, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);
                _pcap = new PcapNgWriter(_file);
                ushort port = (ushort)(EphemeralBase + ((Id - 1) % EphemeralCount));
                // Fixed, recognisable initial sequence numbers; the server's sits just below 2^32 so that the
                // first large reply wraps the sequence space, which keeps wrap-around handling exercised.
                _tcp = new SyntheticTcp(port, clientIsn: 0x0001_0000u * (uint)(Id & 0xFFFF), serverIsn: 0xFFFF_0000u);
                string comment = _description is null
                    ? $"gofer connection {Id}"
                    : $"gofer connection {Id}: {_description}";
                _pcap.WriteHeader(comment, $"gofer-conn-{Id}");
                _lastMicros = micros;
                Segment(fromClient: true, SyntheticTcp.Syn, default);
                Segment(fromClient: false, SyntheticTcp.Syn | SyntheticTcp.Ack, default);
                Segment(fromClient: true, SyntheticTcp.Ack, default);
                return true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
            {
                Fail(logger, ex);
                return false;
            }
        }

        /// <param name="skipped">When ≥ 0, that many bytes were dropped and <paramref name="data"/> is empty.</param>
        public void Write(ILogger logger, bool fromClient, long micros, ReadOnlySpan<byte> data, int skipped)
        {
            if (_failed || _tcp is null)
            {
                return;
            }

            try
            {
                // Both directions' chunks are stamped on different threads; keep the file's times non-decreasing.
                _lastMicros = Math.Max(_lastMicros, micros);
                if (skipped >= 0)
                {
                    _tcp.Skip(fromClient, skipped);
                    return;
                }

                while (data.Length > 0)
                {
                    int n = Math.Min(data.Length, SyntheticTcp.MaxSegmentPayload);
                    byte flags = n == data.Length ? (byte)(SyntheticTcp.Psh | SyntheticTcp.Ack) : SyntheticTcp.Ack;
                    Segment(fromClient, flags, data[..n]);
                    data = data[n..];
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
            {
                Fail(logger, ex);
            }
        }

        public void Flush(ILogger logger)
        {
            if (_failed || _file is null)
            {
                return;
            }

            try
            {
                _file.Flush();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
            {
                Fail(logger, ex);
            }
        }

        public void Close(ILogger logger, long micros)
        {
            _stopped = true;
            if (_file is null)
            {
                return;
            }

            try
            {
                if (!_failed)
                {
                    _lastMicros = Math.Max(_lastMicros, micros);
                    // We do not know which side closed first; the client's FIN first reads naturally (unmount).
                    Segment(fromClient: true, SyntheticTcp.Fin | SyntheticTcp.Ack, default);
                    Segment(fromClient: false, SyntheticTcp.Fin | SyntheticTcp.Ack, default);
                    Segment(fromClient: true, SyntheticTcp.Ack, default);
                    _file.Flush();
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
            {
                Fail(logger, ex);
            }
            finally
            {
                _file?.Dispose();
                _file = null;
            }
        }

        private void Segment(bool fromClient, byte flags, ReadOnlySpan<byte> payload)
        {
            _tcp!.BuildHeaders(_headers, fromClient, flags, payload);
            _pcap!.WritePacket(_lastMicros, _headers, payload);
        }

        private void Fail(ILogger logger, Exception ex)
        {
            _failed = true;
            _stopped = true;
            Log.ConnectionFileFailed(logger, Id, FilePath ?? "?", ex);
            try
            {
                _file?.Dispose();
            }
            catch (IOException)
            {
                // Already failing; the first error is the one logged.
            }

            _file = null;
        }
    }

    private static partial class Log
    {
        // Event ids 7000–7099 belong to recording.
        [LoggerMessage(EventId = 7000, Level = LogLevel.Information, Message = "Recording 9P traffic to {Directory}")]
        public static partial void RecordingStarted(ILogger logger, string directory);

        [LoggerMessage(EventId = 7001, Level = LogLevel.Warning,
            Message = "Recording of connection {Connection} stopped: cannot write {Path}")]
        public static partial void ConnectionFileFailed(ILogger logger, int connection, string path, Exception exception);

        [LoggerMessage(EventId = 7002, Level = LogLevel.Warning,
            Message = "Recording of connection {Connection} is dropping traffic: more than {MaxQueuedBytes} bytes wait for the disk")]
        public static partial void RecordingBehind(ILogger logger, int connection, long maxQueuedBytes);

        [LoggerMessage(EventId = 7003, Level = LogLevel.Warning,
            Message = "Recording of connection {Connection} lost {Chunks} chunks ({Bytes} bytes); the file shows TCP gaps there")]
        public static partial void ConnectionLost(ILogger logger, int connection, long chunks, long bytes);

        [LoggerMessage(EventId = 7004, Level = LogLevel.Error, Message = "Recording writer failed; recording stopped")]
        public static partial void WriterFailed(ILogger logger, Exception exception);
    }
}
