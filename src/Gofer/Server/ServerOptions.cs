namespace Gofer.Server;

/// <summary>Per-connection limits and behaviour of the 9P server. Every limit bounds memory or work a peer can cause.</summary>
internal sealed record ServerOptions
{
    /// <summary>Largest msize offered. 1 MiB + 24: a full 1 MiB payload plus the Twrite/Tread header, the most the
    /// Linux fd/tcp transports use. The reply is min(client's, this).</summary>
    public uint MaxMsize { get; init; } = (1024 * 1024) + 24;

    /// <summary>Fids one connection may hold; the next fid-creating request gets EMFILE.</summary>
    public int MaxFids { get; init; } = 64 * 1024;

    /// <summary>Requests dispatched to workers and not yet answered; when full the read loop stops reading (back-pressure).</summary>
    public int MaxInFlight { get; init; } = 256;

    /// <summary>
    /// Bytes of xattr values one connection may hold in its fids at once (Txattrwalk results waiting to be read,
    /// Txattrcreate buffers waiting for Tclunk). Each fid may hold up to 64 KiB, so without this a client could
    /// pin fids × 64 KiB (4 GiB at the fid cap). 4 MiB is 64 full-size values, far more than the Linux client ever
    /// keeps open (one per xattr syscall in flight); beyond it a new xattr fid is ENOSPC, as QEMU's max_xattr does.
    /// </summary>
    public long MaxXattrBytes { get; init; } = 4L * 1024 * 1024;

    /// <summary>Tread/Twrite up to this many bytes run inline on the read loop (a page-cache pread/pwrite is as cheap
    /// as a getattr); bigger ones go to a worker so one large transfer cannot stall the connection.</summary>
    public int InlineIoMax { get; init; } = 64 * 1024;

    /// <summary>
    /// Run creates, mkdir, symlink, mknod, rename, link, unlink and remove on workers instead of inline on the read
    /// loop. Off by default: on a local filesystem each is one short syscall, and inline they cost no thread hop and
    /// no frame copy (create at depth 16 ran twice as fast inline). Turn it on (<c>serve --metadata-on-workers</c>)
    /// when the exported directory sits on a filesystem where a metadata operation may block for long (NFS, FUSE),
    /// so one slow create cannot hold up the connection's other requests. It also keeps readdir and every read or
    /// write above <see cref="InlineIoMax"/> on workers (by default a big transfer runs inline when it is the only
    /// request in flight on its connection).
    /// </summary>
    public bool MetadataOnWorkers { get; init; }

    /// <summary>
    /// Socket connections served each on their own thread that blocks in poll/recv (the lowest-latency path: no
    /// hand-off between the runtime's socket engine, the thread pool and the session). A gofer has one connection per
    /// mount, so this is rarely reached; connections beyond it (a busy <c>--listen</c>) are served asynchronously.
    /// </summary>
    public int MaxConnectionThreads { get; init; } = 64;

    /// <summary>A peer that connected but sent no Tversion within this time is dropped.</summary>
    public TimeSpan VersionTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A frame that has started arriving must complete within this time, else the peer is dropped
    /// (a trickling peer holds at most one msize buffer, and not forever).</summary>
    public TimeSpan PartialFrameTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often the per-connection watchdog checks the two timeouts above.</summary>
    public TimeSpan WatchdogPeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Bytes of replies allowed to wait for a slow reader before the read loop stops taking requests.</summary>
    public int MaxPendingOutput { get; init; } = 4 * 1024 * 1024;

    /// <summary>Test seam: called on the worker thread before a dispatched request is claimed (it may still be
    /// flushed "not started" while this blocks). Null in production.</summary>
    internal Action<ushort>? BeforeWorkerStart { get; init; }

    /// <summary>Test seam: called once a dispatched request is running, before its handler. Null in production.</summary>
    internal Action<ushort>? WorkerStarted { get; init; }

    /// <summary>Test seam: called when a Tversion starts waiting for in-flight requests to end. Null in production.</summary>
    internal Action? VersionWaiting { get; init; }

    /// <summary>Log every request and reply with the codec's trace formatter (Debug level, category Gofer.Server.Trace).</summary>
    public bool Trace { get; init; }
}
