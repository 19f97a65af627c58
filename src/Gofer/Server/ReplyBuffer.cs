using System.Buffers;

namespace Gofer.Server;

/// <summary>
/// A growable, reusable IBufferWriter over an ArrayPool array: where a handler encodes its reply(ies) before they
/// are handed to the connection's output in one copy. Owned by one request or by the read loop; not thread-safe.
/// </summary>
internal sealed class ReplyBuffer : IBufferWriter<byte>
{
    private byte[] _buffer;
    private int _written;

    public ReplyBuffer(int initialSize = 4096) => _buffer = BufferPool.Shared.Rent(initialSize);

    public int Length => _written;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public void Clear() => _written = 0;

    /// <summary>Clears, and gives a buffer grown by one huge reply back to the pool so idle connections stay small.</summary>
    public void Trim(int keep)
    {
        _written = 0;
        if (_buffer.Length > keep)
        {
            BufferPool.Shared.Return(_buffer);
            _buffer = BufferPool.Shared.Rent(keep);
        }
    }

    /// <summary>
    /// When the replies fit in <paramref name="keep"/> bytes but sit in a bigger buffer (an Rreaddir reserves msize
    /// and usually fills a few KiB), moves them into a pooled buffer of <paramref name="keep"/> bytes and gives the big
    /// one back now: a reply that waits in the output queue then pins only what it needs, and the big array goes back
    /// to the pool on the thread that rented it (no pool misses, so no allocation, under load).
    /// </summary>
    public void Compact(int keep)
    {
        if (_buffer.Length <= keep || _written > keep)
            return;
        var small = BufferPool.Shared.Rent(keep);
        _buffer.AsSpan(0, _written).CopyTo(small);
        BufferPool.Shared.Return(_buffer);
        _buffer = small;
    }

    /// <summary>Removes the first <paramref name="count"/> bytes (used to drop replies that must not be sent).</summary>
    public void Truncate(int length) => _written = Math.Min(_written, Math.Max(0, length));

    public void Advance(int count)
    {
        if ((uint)count > (uint)(_buffer.Length - _written))
            throw new ArgumentOutOfRangeException(nameof(count));
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        data.CopyTo(GetSpan(data.Length));
        _written += data.Length;
    }

    private void Ensure(int sizeHint)
    {
        int need = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= need)
            return;
        int size = Math.Max(_buffer.Length * 2, _written + need);
        var grown = BufferPool.Shared.Rent(size);
        _buffer.AsSpan(0, _written).CopyTo(grown);
        BufferPool.Shared.Return(_buffer);
        _buffer = grown;
    }

    public void Release()
    {
        var b = _buffer;
        _buffer = [];
        _written = 0;
        if (b.Length > 0)
            BufferPool.Shared.Return(b);
    }
}
