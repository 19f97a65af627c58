using P9.Protocol.Client;

namespace Gofer.Sandbox.Attach;

/// <summary>
/// The stats hook the gofer filesystem implements so <c>gofer run --stats</c> can report per mount: its client's
/// RPC counters (requests, bytes and errors per message type) and a client-side latency histogram of its RPCs.
/// </summary>
internal interface IGoferMountStats
{
    /// <summary>The P9Client's counters for this mount's connection.</summary>
    P9ClientStats RpcStats { get; }

    /// <summary>Round-trip time of each RPC as the client saw it (request sent → reply decoded); null if not measured.</summary>
    LatencyHistogram? RpcLatency { get; }
}
