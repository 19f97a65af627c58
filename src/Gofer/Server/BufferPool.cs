using System.Numerics;

namespace Gofer.Server;

/// <summary>
/// The server's arrays for frames, replies and socket buffers: power-of-two size classes from 4 KiB to 4 MiB, shared
/// by every connection and kept across connections, so steady serving allocates nothing even at msize 1 MiB.
/// <para>
/// Why not <c>ArrayPool&lt;byte&gt;.Shared</c>: it keeps at most 32 arrays per size per core. A few connections at
/// depth 16 with 1 MiB frames hold more than that at once, so every connection's end dropped dozens of 2 MiB arrays
/// and the next connection allocated them again (≈ 150 MB per p9load run of 1 MiB writes), and the large-object
/// churn triggered gen2 collections that trimmed the shared pool further.
/// </para>
/// <para>
/// Bounds: what is kept is at most what was in use at once (arrays are only created on demand), and never more than
/// <see cref="MaxRetainedBytes"/>. <see cref="Trim"/> (every 10 s) gives back, per size, the arrays that stayed
/// unused through three whole periods, so an idle gofer shrinks back within 30 s of a burst.
/// </para>
/// </summary>
internal sealed class BufferPool : IDisposable
{
    private const int MinShift = 12;  // 4 KiB
    private const int MaxShift = 22;  // 4 MiB
    private const int MaxGrowAhead = 32;
    private static readonly TimeSpan TrimPeriod = TimeSpan.FromSeconds(10);

    public static readonly BufferPool Shared = new(maxRetainedBytes: 512L * 1024 * 1024);

    private readonly Bucket[] _buckets = new Bucket[MaxShift - MinShift + 1];
    private long _retained;
    private readonly Timer? _trimmer;

    public BufferPool(long maxRetainedBytes, bool trimPeriodically = true)
    {
        MaxRetainedBytes = maxRetainedBytes;
        for (int i = 0; i < _buckets.Length; i++)
            _buckets[i] = new Bucket(1 << (MinShift + i));
        if (trimPeriodically)
            _trimmer = new Timer(static s => ((BufferPool)s!).Trim(), this, TrimPeriod, TrimPeriod);
    }

    public long MaxRetainedBytes { get; }

    /// <summary>Bytes held by the pool (not lent out).</summary>
    public long RetainedBytes => Interlocked.Read(ref _retained);

    /// <summary>An array of at least <paramref name="minimumLength"/> bytes (exactly a size class when it is one).</summary>
    public byte[] Rent(int minimumLength)
    {
        int index = Index(minimumLength);
        if (index < 0)
            return GC.AllocateUninitializedArray<byte>(minimumLength); // beyond every frame size: not pooled
        var bucket = _buckets[index];
        byte[]? array = null;
        lock (bucket)
        {
            if (bucket.Count > 0)
            {
                array = bucket.Items[--bucket.Count];
                bucket.Items[bucket.Count] = null;
                if (bucket.Count < bucket.LowWater)
                    bucket.LowWater = bucket.Count;
            }
        }
        if (array is null)
        {
            GrowAhead(bucket);
            return GC.AllocateUninitializedArray<byte>(bucket.Size);
        }
        Interlocked.Add(ref _retained, -array.Length);
        return array;
    }

    /// <summary>
    /// A miss means the load needs more arrays of this size than exist. Rather than one more per miss (a new peak of
    /// in-flight 1 MiB replies then allocates again every few seconds for a long time), add half as many again as this
    /// size has made so far, so a rising load stops allocating after a few misses. What is kept stays bounded by
    /// <see cref="MaxRetainedBytes"/> and is trimmed like any other surplus.
    /// </summary>
    private void GrowAhead(Bucket bucket)
    {
        int extra;
        lock (bucket)
        {
            extra = Math.Min(bucket.Made / 2, MaxGrowAhead);
            bucket.Made += 1 + extra;
        }
        for (int i = 0; i < extra && RetainedBytes + bucket.Size <= MaxRetainedBytes; i++)
            Return(GC.AllocateUninitializedArray<byte>(bucket.Size));
    }

    /// <summary>Takes an array back (one rented here; any other size is left to the GC).</summary>
    public void Return(byte[] array)
    {
        ArgumentNullException.ThrowIfNull(array);
        int length = array.Length;
        if (length == 0 || !BitOperations.IsPow2(length))
            return;
        int index = BitOperations.Log2((uint)length) - MinShift;
        if ((uint)index >= (uint)_buckets.Length)
            return;
        if (Interlocked.Add(ref _retained, length) > MaxRetainedBytes)
        {
            Interlocked.Add(ref _retained, -length);
            return;
        }
        var bucket = _buckets[index];
        lock (bucket)
        {
            if (bucket.Count == bucket.Items.Length)
                Array.Resize(ref bucket.Items, Math.Max(8, bucket.Items.Length * 2));
            bucket.Items[bucket.Count++] = array;
        }
    }

    /// <summary>
    /// Drops, per size, as many arrays as went unrented through each of the last three periods (the low-water mark of
    /// the free stack): they are surplus at the current load.
    /// </summary>
    public void Trim()
    {
        foreach (var bucket in _buckets)
        {
            int dropped = 0;
            lock (bucket)
            {
                // Surplus for three periods in a row (30 s), not one: a steady load whose in-flight count wobbles
                // would otherwise lose a few arrays at every trim and allocate them again at the next peak.
                int surplus = Math.Min(bucket.LowWater, Math.Min(bucket.LowWater1, bucket.LowWater2));
                bucket.LowWater2 = bucket.LowWater1;
                bucket.LowWater1 = bucket.LowWater - surplus;
                while (surplus-- > 0 && bucket.Count > 0)
                {
                    bucket.Items[--bucket.Count] = null; // arrays of one size are interchangeable
                    dropped++;
                }
                bucket.LowWater = bucket.Count;
                bucket.Made = Math.Max(0, bucket.Made - dropped);
            }
            if (dropped > 0)
                Interlocked.Add(ref _retained, -(long)dropped * bucket.Size);
        }
    }

    public void Dispose() => _trimmer?.Dispose();

    private static int Index(int length)
    {
        if (length <= 1 << MinShift)
            return 0;
        int shift = BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)length));
        return shift > MaxShift ? -1 : shift - MinShift;
    }

    private sealed class Bucket(int size)
    {
        public readonly int Size = size;
        public byte[]?[] Items = new byte[]?[8];
        public int Count;
        public int LowWater;   // fewest free arrays during the current period
        public int LowWater1;  // ... the period before (less what that trim dropped)
        public int LowWater2;  // ... and the one before that
        public int Made;       // arrays of this size made and not trimmed (sizes the next grow-ahead)
    }
}
