using P9.Protocol.Wire;

namespace P9.Protocol.Client;

/// <summary>Per-request-type counters for one message type.</summary>
public readonly record struct P9MessageStats(P9MessageType Type, long Requests, long BytesSent, long BytesReceived, long Errors);

/// <summary>
/// RPC accounting for one client: requests sent, bytes out (request frames) and bytes in (reply frames), Rlerror
/// replies, all keyed by the REQUEST type (Rlerror bytes are charged to the request they answer). Interlocked
/// increments into arrays indexed by the type byte: cheap enough to leave on always.
/// </summary>
public sealed class P9ClientStats
{
    private readonly long[] _requests = new long[256];
    private readonly long[] _bytesSent = new long[256];
    private readonly long[] _bytesReceived = new long[256];
    private readonly long[] _errors = new long[256];

    /// <summary>Round trip of every RPC as this client saw it: request queued for sending → reply decoded.</summary>
    public LatencyHistogram Latency { get; } = new();

    public long Requests(P9MessageType request) => Volatile.Read(ref _requests[(byte)request]);

    public long BytesSent(P9MessageType request) => Volatile.Read(ref _bytesSent[(byte)request]);

    public long BytesReceived(P9MessageType request) => Volatile.Read(ref _bytesReceived[(byte)request]);

    public long Errors(P9MessageType request) => Volatile.Read(ref _errors[(byte)request]);

    public long TotalRequests
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < 256; i++)
                sum += Volatile.Read(ref _requests[i]);
            return sum;
        }
    }

    /// <summary>Every request type with a non-zero count, in type order.</summary>
    public IReadOnlyList<P9MessageStats> Snapshot()
    {
        var list = new List<P9MessageStats>();
        for (int i = 0; i < 256; i++)
        {
            long n = Volatile.Read(ref _requests[i]);
            if (n != 0)
                list.Add(new P9MessageStats((P9MessageType)i, n, Volatile.Read(ref _bytesSent[i]), Volatile.Read(ref _bytesReceived[i]), Volatile.Read(ref _errors[i])));
        }
        return list;
    }

    /// <summary>Zeroes every counter (tests count the RPCs of one step).</summary>
    public void Reset()
    {
        for (int i = 0; i < 256; i++)
        {
            Volatile.Write(ref _requests[i], 0);
            Volatile.Write(ref _bytesSent[i], 0);
            Volatile.Write(ref _bytesReceived[i], 0);
            Volatile.Write(ref _errors[i], 0);
        }

        Latency.Reset();
    }

    /// <summary>One line per type: "Twalk 12 req, 300 B out, 200 B in, 1 err".</summary>
    public override string ToString() => string.Join(Environment.NewLine, Snapshot().Select(s =>
        FormattableString.Invariant($"{s.Type} {s.Requests} req, {s.BytesSent} B out, {s.BytesReceived} B in, {s.Errors} err")));

    internal void Sent(P9MessageType request, int bytes)
    {
        Interlocked.Increment(ref _requests[(byte)request]);
        Interlocked.Add(ref _bytesSent[(byte)request], bytes);
    }

    internal void Received(P9MessageType request, int bytes, bool error)
    {
        Interlocked.Add(ref _bytesReceived[(byte)request], bytes);
        if (error)
            Interlocked.Increment(ref _errors[(byte)request]);
    }
}
