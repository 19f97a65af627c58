using System.Buffers;

namespace Gofer.Server;

/// <summary>
/// A request handed to a worker: its frame copied out of the pipe into a pooled array (so the read loop can move
/// on), its reply buffer, and the flushes waiting for it. Pooled per session and reused; queued on the thread pool
/// as an IThreadPoolWorkItem, so dispatching allocates nothing.
/// </summary>
internal sealed class Request : IThreadPoolWorkItem
{
    public const int Queued = 0;
    public const int Running = 1;
    public const int Cancelled = 2;

    private readonly Session _session;
    private byte[] _frame = [];
    private LentBuffer? _lent;  // the frame read in place from the connection's receive buffer (big Twrite)
    private int _lentOffset;
    private ushort[] _flushes = new ushort[2];

    public Request(Session session) => _session = session;

    public int State;

    public ushort Tag { get; private set; }

    public int Epoch { get; private set; }

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Frame => _lent is null ? _frame.AsSpan(0, Length) : _lent.Array.AsSpan(_lentOffset, Length);

    /// <summary>Swapped for an empty buffer when the filled one is queued for output (no copy of big replies).</summary>
    public ReplyBuffer Reply = new(256);

    public int FlushCount { get; private set; }

    public ReadOnlySpan<ushort> Flushes => _flushes.AsSpan(0, FlushCount);

    /// <summary>Takes a frame lent by the connection's reader (no copy); the reference is released by <see cref="Recycle"/>.</summary>
    public void InitLent(LentBuffer holder, int offset, int length, ushort tag, int epoch)
    {
        ReleaseLent();
        _lent = holder;
        _lentOffset = offset;
        Start(length, tag, epoch);
    }

    /// <summary>Takes a copy of <paramref name="frame"/> (the read loop moves on and reuses its buffer).</summary>
    public void Init(ReadOnlySpan<byte> frame, ushort tag, int epoch)
    {
        ReleaseLent();
        if (_frame.Length < frame.Length)
        {
            if (_frame.Length > 0)
                BufferPool.Shared.Return(_frame);
            _frame = BufferPool.Shared.Rent(frame.Length);
        }
        frame.CopyTo(_frame);
        Start(frame.Length, tag, epoch);
    }

    private void Start(int length, ushort tag, int epoch)
    {
        Length = length;
        Tag = tag;
        Epoch = epoch;
        State = Queued;
        FlushCount = 0;
        Reply.Clear();
    }

    /// <summary>Called under the session's tag lock.</summary>
    public void AddFlush(ushort tag)
    {
        if (FlushCount == _flushes.Length)
            Array.Resize(ref _flushes, _flushes.Length * 2);
        _flushes[FlushCount++] = tag;
    }

    /// <summary>Gives big buffers back so a pooled request does not pin 1 MiB forever.</summary>
    public void Recycle(int keep)
    {
        ReleaseLent();
        Reply.Trim(keep);
        if (_frame.Length > keep)
        {
            BufferPool.Shared.Return(_frame);
            _frame = [];
        }
        Length = 0;
    }

    private void ReleaseLent()
    {
        var lent = _lent;
        _lent = null;
        lent?.Release();
    }

    public void Release()
    {
        ReleaseLent();
        Reply.Release();
        if (_frame.Length > 0)
            BufferPool.Shared.Return(_frame);
        _frame = [];
    }

    public void Execute() => _session.RunWorker(this);
}
