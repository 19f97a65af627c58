using System.Buffers;

namespace P9.Protocol.Client;

/// <summary>Growable pooled byte buffer the callers encode requests into (under the send lock); the writer loop swaps
/// it for an empty one and copies it to the pipe, so many small requests go out in one flush.</summary>
internal sealed class SendBuffer : IBufferWriter<byte>
{
    private byte[] _array = ArrayPool<byte>.Shared.Rent(16 * 1024);

    public int Length { get; private set; }

    public ReadOnlySpan<byte> WrittenSpan => _array.AsSpan(0, Length);

    public void Advance(int count)
    {
        if ((uint)count > (uint)(_array.Length - Length))
            throw new InvalidOperationException("advanced past the buffer");
        Length += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsMemory(Length);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsSpan(Length);
    }

    public void Truncate(int length) => Length = Math.Min(Length, length);

    public void Clear()
    {
        Length = 0;
        // Do not hold on to a huge buffer after a burst of large writes.
        if (_array.Length > 1024 * 1024)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = ArrayPool<byte>.Shared.Rent(16 * 1024);
        }
    }

    private void Ensure(int sizeHint)
    {
        int need = Math.Max(sizeHint, 1);
        if (_array.Length - Length >= need)
            return;
        var bigger = ArrayPool<byte>.Shared.Rent(checked(Math.Max(_array.Length * 2, Length + need)));
        _array.AsSpan(0, Length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_array);
        _array = bigger;
    }
}
