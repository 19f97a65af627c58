using System.Buffers;
using Gofer.HostFs;

namespace Gofer.Server;

/// <summary>
/// Byte arrays for whole-msize frames (a 1 MiB Rread, a 1 MiB Twrite copied for a worker). ArrayPool.Shared serves
/// them from its 2 MiB bucket, and because such a buffer is rented on one thread (the worker, the read loop) and
/// returned on another (the flusher, the worker), it is often parked in another thread's cache when the next request
/// wants one: under load that pool missed often enough to cost kilobytes per request. Here they are exactly
/// <see cref="Size"/> bytes (half the memory) in one shared free list, so a buffer given back is always found.
/// The 64 KiB buffers that reply buffers shrink back to travel between threads the same way and get a free list
/// too. Other sizes go to ArrayPool.Shared; <see cref="Return"/> tells them apart by length.
/// </summary>
internal static class MsizeBuffers
{
    /// <summary>The default MaxMsize (1 MiB + 24) with room to spare; bigger requests fall back to ArrayPool.</summary>
    public const int Size = (1024 * 1024) + 64;

    /// <summary>Sizes above this come from here (smaller ones are cheap and plentiful in ArrayPool.Shared).</summary>
    private const int Threshold = 512 * 1024;

    /// <summary>The size reply buffers keep between requests.</summary>
    public const int KeepSize = 64 * 1024;

    private static readonly ObjectPool<byte[]> s_pool = new(64);
    private static readonly ObjectPool<byte[]> s_keep = new(256);

    public static byte[] Rent(int minimumLength)
    {
        if (minimumLength > Threshold && minimumLength <= Size)
            return s_pool.TryTake() ?? GC.AllocateUninitializedArray<byte>(Size);
        if (minimumLength > KeepSize / 2 && minimumLength <= KeepSize)
            return s_keep.TryTake() ?? ArrayPool<byte>.Shared.Rent(KeepSize);
        return ArrayPool<byte>.Shared.Rent(minimumLength);
    }

    public static void Return(byte[] array)
    {
        if (array.Length == Size)
            s_pool.Return(array);
        else if (array.Length == KeepSize && s_keep.TryReturn(array))
            return;
        else
            ArrayPool<byte>.Shared.Return(array);
    }
}
