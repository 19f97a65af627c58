using System.IO.Pipelines;
using System.Net.Sockets;
using Gofer.Sandbox.Vfs;
using Gofer.Spec;
using P9.Protocol.Client;
using P9.Protocol.Wire;

namespace Gofer.Sandbox.Gofer;

/// <summary>Per-message-type RPC accounting of a gofer mount, for `gofer run --stats` and the cache-policy tests.</summary>
internal interface IRpcStatsSource
{
    /// <summary>Every request type sent so far with its count, bytes out/in and Rlerror count.</summary>
    IReadOnlyList<P9MessageStats> RpcSnapshot();

    long TotalRpcs { get; }

    /// <summary>Client-side round trip of each RPC (request queued → reply decoded).</summary>
    LatencyHistogram RpcLatency { get; }

    /// <summary>Fid numbers the client holds right now (attach + walks + opens − clunks): what the gofer pins.</summary>
    int LiveFids { get; }

    void ResetRpcStats();
}

/// <summary>Tunables of one gofer mount (defaults follow gVisor).</summary>
internal sealed record GoferMountOptions
{
    /// <summary>Unreferenced dentries kept per mount before the LRU evicts (and clunks) one. gVisor: 1000.</summary>
    public int MaxCachedDentries { get; init; } = 1000;

    /// <summary>Cap on cached file data across the mount; whole files' pages are dropped least recently used first.</summary>
    public long MaxCachedBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>aname for Tattach ("" = the export root).</summary>
    public string AttachName { get; init; } = "";
}

/// <summary>
/// The sandbox side of a gofer mount: an <see cref="IFileSystem"/> over one 9P2000.L connection. Every node holds one
/// walked (unopened) fid; open handles own opened fids. Two cache policies:
/// <list type="bullet">
/// <item>Exclusive: the sandbox is the only writer, so dentries (also negative ones), attributes, symlink targets,
/// directory listings and file pages are cached and trusted; opened fids are kept per file and reused.</item>
/// <item>RemoteRevalidating: each path walk checks the cached dentries on it with one batched Twalk
/// (<see cref="RevalidateAsync"/>), stat always asks the gofer, and file pages are dropped when a fresh getattr
/// shows the file changed (close-to-open consistency: checked at open and stat).</item>
/// </list>
/// </summary>
internal sealed class GoferFileSystem : IFileSystem, IRpcStatsSource, IAsyncDisposable
{
    /// <summary>Page size of the data cache: large enough that one Tread fills a page on most msizes.</summary>
    internal const int PageSize = 64 * 1024;

    private readonly object _lock = new();
    private readonly Dictionary<ulong, GoferInode> _inodes = [];
    private readonly LinkedList<GoferInode> _pageLru = new();
    private readonly P9Fid _rootFid;
    private readonly GoferNode _root;
    private long _cachedBytes;

    private GoferFileSystem(P9Client client, P9Fid rootFid, P9Attr rootAttr, CachePolicy policy, bool readOnly, Credentials creds, GoferMountOptions options)
    {
        Client = client;
        Policy = policy;
        IsReadOnly = readOnly;
        Credentials = creds;
        Options = options;
        CachePolicy = new DentryCachePolicy(policy == Spec.CachePolicy.RemoteRevalidating, options.MaxCachedDentries);
        _rootFid = rootFid;
        var inode = AcquireInode(rootFid.Qid);
        inode.StoreAttr(GoferNode.ToInodeAttr(rootAttr), this);
        _root = new GoferNode(this, rootFid, inode, FileType.Directory);
    }

    public P9Client Client { get; }

    public CachePolicy Policy { get; }

    public bool Exclusive => Policy == Spec.CachePolicy.Exclusive;

    public Credentials Credentials { get; }

    public GoferMountOptions Options { get; }

    public string TypeName => "9p";

    public bool IsReadOnly { get; }

    public DentryCachePolicy CachePolicy { get; }

    public INode Root => _root;

    /// <summary>Bytes of file data cached right now (for tests).</summary>
    public long CachedBytes => Interlocked.Read(ref _cachedBytes);

    /// <summary>Connects over a connected stream socket (the pipe owns it afterwards).</summary>
    public static Task<GoferFileSystem> CreateAsync(Socket connection, CachePolicy policy, bool readOnly, Credentials credentials,
        GoferMountOptions? options = null, CancellationToken ct = default) =>
        CreateAsync(P9SocketPipe.Create(connection), policy, readOnly, credentials, options, ct);

    /// <summary>
    /// Tversion + Tattach as the sandbox's uid (n_uname; uname "root" or the numeric uid for servers that want a
    /// name), then a Tgetattr of the root. Failures are <see cref="VfsException"/>s; the connection is closed on failure.
    /// </summary>
    public static async Task<GoferFileSystem> CreateAsync(IDuplexPipe connection, CachePolicy policy, bool readOnly, Credentials credentials,
        GoferMountOptions? options = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        options ??= new GoferMountOptions();
        P9Client client;
        try
        {
            client = await P9Client.ConnectAsync(connection, cancellationToken: ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }

        try
        {
            string uname = credentials.Uid == 0 ? "root" : credentials.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var root = await client.AttachAsync(uname, options.AttachName, credentials.Uid, ct).ConfigureAwait(false);
            var attr = await root.GetAttrAsync(GetattrMask.Basic, ct).ConfigureAwait(false);
            if ((root.Qid.Type & QidType.Dir) == 0)
            {
                await root.DisposeAsync().ConfigureAwait(false);
                throw new VfsException(Errno.ENOTDIR, "the attached root is not a directory");
            }

            return new GoferFileSystem(client, root, attr, policy, readOnly, credentials, options);
        }
        catch (IOException e)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw GoferErrors.Map(e);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask<StatFs> StatFsAsync(CancellationToken ct = default)
    {
        try
        {
            var s = await _rootFid.StatFsAsync(ct).ConfigureAwait(false);
            // The sandbox sees a 9p mount, as a Linux v9fs client reports it, not the host filesystem's magic.
            return new StatFs(FsMagic.V9fs, s.Bsize, s.Blocks, s.Bfree, s.Bavail, s.Files, s.Ffree, s.Namelen);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }
    }

    /// <summary>
    /// One batched check per 16 cached steps: a Twalk of their names from <paramref name="start"/>'s fid to a temporary
    /// fid, comparing each returned qid (path and type) with the cached node's. A short walk or a mismatch marks the
    /// first stale step. The temporary fid of a complete walk is clunked without waiting for the Rclunk, so the check
    /// costs one round trip (two RPCs); a short walk creates no fid (one RPC).
    /// </summary>
    public async ValueTask<int> RevalidateAsync(INode start, IReadOnlyList<RevalidateStep> steps, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(steps);
        var from = (GoferNode)start;
        int done = 0;
        var qids = new Qid[P9Constants.MaxWalkElements];
        while (done < steps.Count)
        {
            int count = Math.Min(steps.Count - done, P9Constants.MaxWalkElements);
            var names = new string[count];
            for (int i = 0; i < count; i++)
            {
                names[i] = steps[done + i].Name;
            }

            P9WalkResult result;
            try
            {
                result = await from.Fid.WalkPartialAsync(names, qids, ct).ConfigureAwait(false);
            }
            catch (P9Exception)
            {
                // The first name is gone (ENOENT) or no longer a directory to walk through: nothing here is valid.
                return done;
            }
            catch (IOException e)
            {
                throw GoferErrors.Map(e);
            }

            result.Fid?.Dispose();
            for (int i = 0; i < result.Resolved; i++)
            {
                var cached = (GoferNode)steps[done + i].Cached;
                if (qids[i].Path != cached.Qid.Path || (qids[i].Type & (QidType.Dir | QidType.Symlink)) != (cached.Qid.Type & (QidType.Dir | QidType.Symlink)))
                {
                    return done + i;
                }
            }

            if (result.Resolved < count)
            {
                return done + result.Resolved;
            }

            from = (GoferNode)steps[done + count - 1].Cached;
            done += count;
        }

        return done;
    }

    // ---- IRpcStatsSource ---------------------------------------------------------------------------------------

    public IReadOnlyList<P9MessageStats> RpcSnapshot() => Client.Stats.Snapshot();

    public LatencyHistogram RpcLatency => Client.Stats.Latency;

    public long TotalRpcs => Client.Stats.TotalRequests;

    public int LiveFids => Client.FidsInUse;

    public void ResetRpcStats() => Client.Stats.Reset();

    /// <summary>Closes the connection: the gofer releases every fid of the session.</summary>
    public async ValueTask DisposeAsync() => await Client.DisposeAsync().ConfigureAwait(false);

    // ---- inodes (state shared by every node and handle of one file, keyed by qid.path) --------------------------

    internal GoferInode AcquireInode(Qid qid)
    {
        lock (_lock)
        {
            if (!_inodes.TryGetValue(qid.Path, out var inode))
            {
                inode = new GoferInode(qid.Path);
                _inodes[qid.Path] = inode;
            }

            inode.Refs++;
            return inode;
        }
    }

    /// <summary>Drops one reference; the last one takes the file's cached state and its cached open fids with it.</summary>
    internal async ValueTask ReleaseInodeAsync(GoferInode inode)
    {
        List<P9Fid>? fids = null;
        lock (_lock)
        {
            if (--inode.Refs > 0)
            {
                return;
            }

            _inodes.Remove(inode.QidPath);
            DropPagesLocked(inode);
            fids = inode.TakeOpenFidsLocked();
        }

        if (fids is not null)
        {
            foreach (var f in fids)
            {
                await f.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    internal object Lock => _lock;

    /// <summary>Looks up the inode of a known qid path without taking a reference (exclusive-mode bookkeeping).</summary>
    internal GoferInode? FindInode(ulong qidPath)
    {
        lock (_lock)
        {
            return _inodes.GetValueOrDefault(qidPath);
        }
    }

    internal GoferInode? FindInodeLocked(ulong qidPath) => _inodes.GetValueOrDefault(qidPath);

    // ---- page cache budget -------------------------------------------------------------------------------------

    internal void DropPagesLocked(GoferInode inode)
    {
        if (inode.Pages is { } pages)
        {
            _cachedBytes -= pages.Count * (long)PageSize;
            pages.Clear();
        }

        if (inode.PageLruNode is not null)
        {
            _pageLru.Remove(inode.PageLruNode);
            inode.PageLruNode = null;
        }
    }

    internal void DropPageLocked(GoferInode inode, long index)
    {
        if (inode.Pages is { } pages && pages.Remove(index))
        {
            _cachedBytes -= PageSize;
        }
    }

    /// <summary>Stores a page if the budget allows, evicting other files' pages (least recently used) to make room.</summary>
    internal void StorePageLocked(GoferInode inode, long index, CachedPage page)
    {
        if (Options.MaxCachedBytes < PageSize || inode.Refs <= 0)
        {
            return;
        }

        inode.Pages ??= [];
        if (!inode.Pages.ContainsKey(index))
        {
            while (_cachedBytes + PageSize > Options.MaxCachedBytes && _pageLru.First is { } oldest)
            {
                DropPagesLocked(oldest.Value);
            }

            _cachedBytes += PageSize;
        }

        inode.Pages[index] = page;
        TouchPagesLocked(inode);
    }

    internal void TouchPagesLocked(GoferInode inode)
    {
        if (inode.PageLruNode is null)
        {
            inode.PageLruNode = _pageLru.AddLast(inode);
        }
        else if (inode.PageLruNode != _pageLru.Last)
        {
            _pageLru.Remove(inode.PageLruNode);
            _pageLru.AddLast(inode.PageLruNode);
        }
    }
}
