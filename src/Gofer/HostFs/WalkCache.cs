using Gofer.HostFs.Native;

namespace Gofer.HostFs;

/// <summary>
/// The O_PATH descriptors of recently walked names, so that walking a name again costs one statx instead of
/// openat2 + statx, and the clunk of a walked fid closes nothing (the cache still holds the descriptor).
/// <para>
/// Correctness: a cached descriptor is never trusted on its own. Each hit is revalidated by
/// <c>statx(parent, name, AT_SYMLINK_NOFOLLOW)</c>: only when the name still resolves to the cached (dev, ino) is the
/// descriptor used. While the cache holds the descriptor the inode cannot be freed, so its number cannot be reused
/// by another file on that filesystem: equal (dev, ino) means the same object. A name that now resolves elsewhere
/// (renamed, replaced, deleted on the host or by a client) misses and is opened afresh, replacing the entry. The
/// lookup is the same single validated component, relative to the same directory fd, as the openat2 it replaces,
/// so nothing outside the export becomes reachable.
/// </para>
/// <para>
/// Bounds: at most <see cref="Capacity"/> descriptors (an eighth of RLIMIT_NOFILE, at most 4096), and an entry not
/// hit during one whole sweep period (1 s) is dropped at the next sweep, so a file deleted on the host is held open by
/// the cache for at most 2 s after its last walk (the gofer's own unlink, remove and rename drop the entry at once).
/// When opening fails with EMFILE the walk empties the cache and retries.
/// </para>
/// </summary>
internal sealed class WalkCache : IDisposable
{
    private static readonly TimeSpan SweepPeriod = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<Key, Entry> _map;
    private readonly Dictionary<Key, Entry>.AlternateLookup<SpanKey> _lookup;
    private readonly Timer? _sweeper;
    private bool _disposed;

    public WalkCache(int capacity, bool sweepPeriodically = true)
    {
        Capacity = capacity;
        _map = new Dictionary<Key, Entry>(KeyComparer.Instance);
        _lookup = _map.GetAlternateLookup<SpanKey>();
        if (sweepPeriodically)
        {
            _sweeper = new Timer(static s => ((WalkCache)s!).Sweep(), this, SweepPeriod, SweepPeriod);
        }
    }

    public int Capacity { get; }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _map.Count;
            }
        }
    }

    private long _hits;

    /// <summary>Walks answered from the cache after revalidation (for tests and stats).</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>The capacity for this process: an eighth of the soft RLIMIT_NOFILE, clamped to [0, 4096].</summary>
    public static int DefaultCapacity()
    {
        ulong soft = Libc.SoftFileLimit();
        return soft == 0 ? 128 : (int)Math.Min(soft / 8, 4096UL);
    }

    /// <summary>Counts a revalidated hit.</summary>
    public void NoteHit() => Interlocked.Increment(ref _hits);

    /// <summary>
    /// The cached descriptor for <paramref name="name"/> in directory (<paramref name="parentDev"/>,
    /// <paramref name="parentIno"/>), with one reference added for the caller, and the identity it was cached with.
    /// The caller must revalidate it before use and release it either way.
    /// </summary>
    public bool TryGet(ulong parentDev, ulong parentIno, ReadOnlySpan<byte> name, out SharedFd fd, out ulong dev, out ulong ino)
    {
        lock (_gate)
        {
            if (_lookup.TryGetValue(new SpanKey(parentDev, parentIno, name), out Entry? e))
            {
                e.Used = true;
                fd = e.Fd.AddRef();
                dev = e.Dev;
                ino = e.Ino;
                return true;
            }
        }

        fd = null!;
        dev = ino = 0;
        return false;
    }

    /// <summary>Remembers <paramref name="fd"/> (adding a reference of the cache's own) for the name, replacing any older entry.</summary>
    public void Put(ulong parentDev, ulong parentIno, ReadOnlySpan<byte> name, SharedFd fd, ulong dev, ulong ino)
    {
        SharedFd? old = null;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            var key = new SpanKey(parentDev, parentIno, name);
            if (_lookup.TryGetValue(key, out Entry? e))
            {
                old = e.Fd;
            }
            else if (_map.Count >= Capacity)
            {
                return; // full: the sweep makes room for names that are walked again
            }
            else
            {
                e = new Entry();
                _lookup.TryAdd(key, e);
            }

            e.Fd = fd.AddRef();
            e.Dev = dev;
            e.Ino = ino;
            e.Used = true;
        }

        old?.Release();
    }

    /// <summary>Drops the entry for a name the gofer itself just unlinked or renamed, so its inode is not held open.</summary>
    public void Forget(ulong parentDev, ulong parentIno, ReadOnlySpan<byte> name)
    {
        Entry? e;
        lock (_gate)
        {
            if (!_lookup.Remove(new SpanKey(parentDev, parentIno, name), out _, out e))
            {
                return;
            }
        }

        e.Fd.Release();
    }

    /// <summary>Drops every entry that was not hit since the previous sweep, and marks the rest unhit.</summary>
    public void Sweep() => Drop(all: false);

    /// <summary>Drops every entry (EMFILE, or the export is going away).</summary>
    public void Clear() => Drop(all: true);

    private void Drop(bool all)
    {
        lock (_gate)
        {
            foreach (var (key, e) in _map)
            {
                if (all || !e.Used)
                {
                    _map.Remove(key); // allowed while enumerating
                    e.Fd.Release();   // under the lock: a sweep closes few descriptors
                }
                else
                {
                    e.Used = false;
                }
            }
        }
    }

    public void Dispose()
    {
        _sweeper?.Dispose();
        lock (_gate)
        {
            _disposed = true;
        }

        Clear();
    }

    private sealed class Entry
    {
        public SharedFd Fd = null!;
        public ulong Dev;
        public ulong Ino;
        public bool Used;
    }

    private readonly record struct Key(ulong ParentDev, ulong ParentIno, byte[] Name);

    private readonly ref struct SpanKey(ulong parentDev, ulong parentIno, ReadOnlySpan<byte> name)
    {
        public readonly ulong ParentDev = parentDev;
        public readonly ulong ParentIno = parentIno;
        public readonly ReadOnlySpan<byte> Name = name;
    }

    private sealed class KeyComparer : IEqualityComparer<Key>, IAlternateEqualityComparer<SpanKey, Key>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(Key x, Key y) => x.ParentIno == y.ParentIno && x.ParentDev == y.ParentDev && x.Name.AsSpan().SequenceEqual(y.Name);

        public int GetHashCode(Key key) => Hash(key.ParentDev, key.ParentIno, key.Name);

        public bool Equals(SpanKey alternate, Key other) =>
            alternate.ParentIno == other.ParentIno && alternate.ParentDev == other.ParentDev && alternate.Name.SequenceEqual(other.Name);

        public int GetHashCode(SpanKey alternate) => Hash(alternate.ParentDev, alternate.ParentIno, alternate.Name);

        public Key Create(SpanKey alternate) => new(alternate.ParentDev, alternate.ParentIno, alternate.Name.ToArray());

        private static int Hash(ulong dev, ulong ino, ReadOnlySpan<byte> name)
        {
            var h = new HashCode();
            h.Add(ino);
            h.Add(dev);
            h.AddBytes(name);
            return h.ToHashCode();
        }
    }
}
