using System.Diagnostics;
using System.Globalization;

namespace P9.Protocol.Client;

/// <summary>
/// A lock-free latency histogram with power-of-two microsecond buckets (bucket i holds [2^(i-1), 2^i) µs;
/// bucket 0 holds &lt; 1 µs). Cheap enough to record every RPC.
/// </summary>
public sealed class LatencyHistogram
{
    private const int Buckets = 32; // 2^31 µs ≈ 36 min: anything longer lands in the last bucket
    private readonly long[] _counts = new long[Buckets];
    private long _totalTicks;

    public long Count
    {
        get
        {
            long n = 0;
            for (int i = 0; i < Buckets; i++)
            {
                n += Volatile.Read(ref _counts[i]);
            }

            return n;
        }
    }

    /// <summary>Records one elapsed interval measured with <see cref="Stopwatch.GetTimestamp"/>.</summary>
    public void RecordTicks(long stopwatchTicks)
    {
        long micros = Math.Max(0, stopwatchTicks) * 1_000_000 / Stopwatch.Frequency;
        int bucket = micros == 0 ? 0 : Math.Min(Buckets - 1, 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)micros));
        Interlocked.Increment(ref _counts[bucket]);
        Interlocked.Add(ref _totalTicks, stopwatchTicks);
    }

    /// <summary>Zeroes the histogram (tests count the RPCs of one step).</summary>
    public void Reset()
    {
        for (int i = 0; i < Buckets; i++)
        {
            Volatile.Write(ref _counts[i], 0);
        }

        Volatile.Write(ref _totalTicks, 0);
    }

    public void Record(TimeSpan elapsed) => RecordTicks((long)(elapsed.TotalSeconds * Stopwatch.Frequency));

    /// <summary>Upper bound in µs of the bucket holding quantile <paramref name="q"/> (0..1); 0 when empty.</summary>
    public long QuantileUpperBoundMicros(double q)
    {
        long total = Count;
        if (total == 0)
        {
            return 0;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(q * total));
        long seen = 0;
        for (int i = 0; i < Buckets; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank)
            {
                return 1L << i;
            }
        }

        return 1L << (Buckets - 1);
    }

    /// <summary>"n=…, mean=…µs, p50≤…µs, p90≤…µs, p99≤…µs, max≤…µs" followed by the non-empty buckets.</summary>
    public string Format()
    {
        long n = Count;
        if (n == 0)
        {
            return "no samples";
        }

        double meanUs = Volatile.Read(ref _totalTicks) * 1e6 / Stopwatch.Frequency / n;
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"n={n} mean={meanUs:0.0}µs p50<={QuantileUpperBoundMicros(0.5)}µs p90<={QuantileUpperBoundMicros(0.9)}µs p99<={QuantileUpperBoundMicros(0.99)}µs max<={QuantileUpperBoundMicros(1)}µs"),
        };
        for (int i = 0; i < Buckets; i++)
        {
            long c = Volatile.Read(ref _counts[i]);
            if (c != 0)
            {
                long lo = i == 0 ? 0 : 1L << (i - 1);
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"  [{lo,8}, {1L << i,8}) µs {c,8} {new string('#', (int)Math.Max(1, c * 40 / n))}"));
            }
        }

        return string.Join('\n', lines);
    }
}
