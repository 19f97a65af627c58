using System.Buffers;
using System.Buffers.Binary;
using Gofer.HostFs.Native;

namespace Gofer.HostFs;

/// <summary>
/// Whole-directory listings kept in memory and invalidated by inotify, so that a Treaddir of an unchanged directory
/// makes no getdents64 call. One instance per process (<see cref="Shared"/>), used by every export whose root is on a
/// local filesystem: inotify instances are a per-user resource (<c>max_user_instances</c>, 128 by default, shared with
/// every other program of that user) while watches are plentiful, a bundle serves one export per mount, and one set of
/// bounds for the process is what matters for memory. A listing holds raw linux_dirent64 records, so exports with
/// different qid maps can share it; qids are computed when entries are served.
/// <para>
/// Why it is exact: fsnotify queues IN_CREATE/IN_DELETE/IN_MOVED_* on a directory from inside the syscall that changes
/// it, before that syscall returns. Every use of a listing is preceded by <see cref="Drain"/>, which reads the inotify
/// descriptor until EAGAIN and applies what it read under one lock, so an event queued before the Treaddir began has
/// been applied — by this thread or by the one that read it — before the listing is trusted. A fill adds the watch
/// first and records the entry's generation before it reads; an event applied while it reads changes the generation
/// and the listing is not published, and one still queued at publication is applied by the next drain.
/// </para>
/// <para>
/// Two gaps inotify leaves are closed by rule rather than by events: a directory removed while some descriptor still
/// holds it gets IN_DELETE_SELF only when the last descriptor closes (the gofer's own fids hold one), so listings with
/// nothing but "." and ".." — the only listings rmdir can apply to — are never cached; and only filesystems on which every
/// change passes through the local VFS (<see cref="IsLocalFileSystem"/>) are cached at all, checked for each directory
/// at fill time as well as for the export root, since an export may contain mount points.
/// </para>
/// <para>
/// Bounds: at most <see cref="MaxDirectories"/> directories (least recently used evicted, its watch removed), a listing
/// of more than <see cref="MaxListingBytes"/> of records is not cached, all listings together stay under
/// <see cref="MaxTotalBytes"/>, and directories unused for a minute are dropped by a timer.
/// </para>
/// </summary>
internal sealed class DirListingCache : IDisposable
{
    public const int DefaultMaxDirectories = 256;
    public const int DefaultMaxListingBytes = 1024 * 1024;  // ~30 000 entries with short names
    public const long DefaultMaxTotalBytes = 32L * 1024 * 1024;

    private const uint WatchMask = Libc.IN_CREATE | Libc.IN_DELETE | Libc.IN_MOVED_FROM | Libc.IN_MOVED_TO
        | Libc.IN_DELETE_SELF | Libc.IN_MOVE_SELF | Libc.IN_ONLYDIR;

    // Room left before each getdents64 of a fill: any record fits (19 + 255 + NUL, padded to 8), and a 1000-entry
    // directory is read by two calls.
    private const int FillChunk = 64 * 1024;
    private const int FillMinRoom = 4096;

    // Directories unused for a minute are dropped; the timer looks every 20 s.
    private const long IdleMilliseconds = 60_000;
    private static readonly TimeSpan TrimPeriod = TimeSpan.FromSeconds(20);
    private static readonly Lock s_sharedGate = new();
    private static DirListingCache? s_shared;

    private readonly Lock _gate = new();
    private readonly SafeFd _inotify;

    // One inotify read: up to 4 KiB of events (an event with a name is at most 16 + 256 bytes).
    private readonly byte[] _events = new byte[4096];
    private readonly Dictionary<(ulong Dev, ulong Ino), Entry> _byInode = [];
    private readonly Dictionary<int, Entry> _byWatch = [];
    private readonly List<Entry> _scratch = [];
    private readonly Timer? _trimmer;
    private long _totalBytes;
    private long _fills;
    private long _invalidations;
    private long _overflows;
    private bool _disposed;

    private DirListingCache(SafeFd inotify, int maxDirectories, int maxListingBytes, long maxTotalBytes, bool trimPeriodically)
    {
        _inotify = inotify;
        MaxDirectories = maxDirectories;
        MaxListingBytes = maxListingBytes;
        MaxTotalBytes = maxTotalBytes;
        if (trimPeriodically)
        {
            _trimmer = new Timer(static s => ((DirListingCache)s!).TrimIdle(IdleMilliseconds), this, TrimPeriod, TrimPeriod);
        }
    }

    /// <summary>
    /// The process's cache, made on first use; null when inotify is unavailable (inotify_init1 failed: instance limit,
    /// seccomp, no kernel support). A later call tries again.
    /// </summary>
    public static DirListingCache? Shared
    {
        get
        {
            DirListingCache? shared = Volatile.Read(ref s_shared);
            if (shared is not null)
            {
                return shared;
            }

            lock (s_sharedGate)
            {
                s_shared ??= TryCreate();
                return s_shared;
            }
        }
    }

    public int MaxDirectories { get; }

    public int MaxListingBytes { get; }

    public long MaxTotalBytes { get; }

    /// <summary>Listings published (read from the host and kept).</summary>
    public long Fills => Interlocked.Read(ref _fills);

    /// <summary>Listings dropped because an event named their directory (or an overflow named them all).</summary>
    public long Invalidations => Interlocked.Read(ref _invalidations);

    /// <summary>IN_Q_OVERFLOW events seen.</summary>
    public long Overflows => Interlocked.Read(ref _overflows);

    /// <summary>Directories watched (with or without a current listing).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _byInode.Count;
            }
        }
    }

    /// <summary>Bytes of records held by current listings.</summary>
    public long TotalBytes
    {
        get
        {
            lock (_gate)
            {
                return _totalBytes;
            }
        }
    }

    /// <summary>A private cache (tests, or a caller that wants other bounds); null when inotify_init1 fails.</summary>
    public static DirListingCache? TryCreate(
        int maxDirectories = DefaultMaxDirectories,
        int maxListingBytes = DefaultMaxListingBytes,
        long maxTotalBytes = DefaultMaxTotalBytes,
        bool trimPeriodically = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDirectories, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxListingBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTotalBytes, maxListingBytes);
        int fd = Libc.inotify_init1(Libc.IN_NONBLOCK | Libc.IN_CLOEXEC);
        return fd < 0 ? null : new DirListingCache(new SafeFd(fd), maxDirectories, maxListingBytes, maxTotalBytes, trimPeriodically);
    }

    /// <summary>
    /// Filesystems on which every change to a directory goes through the local VFS, and so raises inotify events:
    /// ext2/3/4, XFS, Btrfs, tmpfs, F2FS, and overlayfs (changes made through the overlay raise events on the overlay's
    /// inodes; changing its layers underneath is undefined behaviour for overlayfs itself). Everything else is
    /// refused — network and cluster filesystems (NFS, CIFS/SMB, 9p, Ceph, GFS2, OCFS2), FUSE, whose changes may
    /// happen elsewhere, and pseudo filesystems (proc, sysfs, cgroup) whose directories change without events.
    /// </summary>
    public static bool IsLocalFileSystem(long fsType) => (ulong)fsType switch
    {
        0xEF53 => true,      // EXT2/3/4_SUPER_MAGIC
        0x58465342 => true,  // XFS_SUPER_MAGIC
        0x9123683E => true,  // BTRFS_SUPER_MAGIC
        0x01021994 => true,  // TMPFS_MAGIC
        0xF2F52010 => true,  // F2FS_SUPER_MAGIC
        0x794C7630 => true,  // OVERLAYFS_SUPER_MAGIC
        _ => false,
    };

    /// <summary>fstatfs of <paramref name="fd"/> names a filesystem in <see cref="IsLocalFileSystem"/>.</summary>
    public static unsafe bool IsOnLocalFileSystem(SafeFd fd)
    {
        StatfsBuf b;
        return Libc.fstatfs(fd, &b) == 0 && IsLocalFileSystem(b.Type);
    }

    /// <summary>
    /// Reads every queued event and applies it. Must precede every use of a listing: afterwards, every change that
    /// completed before the call began has invalidated the listings it affects. One read(2) answering EAGAIN when
    /// nothing changed.
    /// </summary>
    public unsafe void Drain()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            fixed (byte* buf = _events)
            {
                while (true)
                {
                    nint n = Libc.read(_inotify, buf, (nuint)_events.Length);
                    if (n > 0)
                    {
                        ApplyLocked(_events.AsSpan(0, (int)n));
                        continue;
                    }

                    if (n < 0)
                    {
                        Errno e = ErrnoExtensions.Last();
                        if (e == Errno.EINTR)
                        {
                            continue;
                        }

                        if (e != Errno.EAGAIN)
                        {
                            // Cannot happen with a buffer this size; if it does, events may be lost: trust nothing.
                            InvalidateAllLocked();
                        }
                    }

                    return;
                }
            }
        }
    }

    /// <summary>The current listing of (dev, ino), or null. Call <see cref="Drain"/> first.</summary>
    public DirListing? Lookup(ulong dev, ulong ino)
    {
        lock (_gate)
        {
            if (_byInode.TryGetValue((dev, ino), out Entry? entry) && entry.Current is { } listing)
            {
                entry.LastUsed = Environment.TickCount64;
                return listing;
            }

            return null;
        }
    }

    /// <summary>
    /// Reads the whole directory behind <paramref name="dir"/> (an opened directory descriptor whose file position
    /// this moves) and publishes it for (dev, ino). Returns the listing to serve: a published one, or — when the
    /// directory changed while it was read, or has nothing but "." and ".." — a snapshot already marked stale, good
    /// for this request only. Null when the directory cannot be cached (not a local filesystem, over the size cap,
    /// no watch could be added, or getdents64 failed): the caller then reads it the uncached way.
    /// </summary>
    public unsafe DirListing? Fill(HostExport export, SafeFd dir, ulong dev, ulong ino)
    {
        ArgumentNullException.ThrowIfNull(export);
        ArgumentNullException.ThrowIfNull(dir);
        Entry? entry;
        lock (_gate)
        {
            if (_disposed)
            {
                return null;
            }

            if (_byInode.TryGetValue((dev, ino), out entry))
            {
                if (entry.Current is { } current)
                {
                    entry.LastUsed = Environment.TickCount64;
                    return current;
                }

                if (entry.TooBigGeneration == entry.Generation)
                {
                    return null; // unchanged since it was found too big
                }
            }
        }

        if (entry is null)
        {
            if (!IsOnLocalFileSystem(dir))
            {
                return null;
            }

            entry = AddWatch(dir, dev, ino);
            if (entry is null)
            {
                return null;
            }

            Drain(); // events queued before the watch existed cannot name it; this only spares a needless refill
        }

        int generation;
        lock (_gate)
        {
            generation = entry.Generation;
        }

        byte[]? records = ReadWhole(export, dir, out int length, out bool tooBig);
        if (records is null)
        {
            if (tooBig)
            {
                lock (_gate)
                {
                    if (entry.Generation == generation)
                    {
                        entry.TooBigGeneration = generation;
                    }
                }
            }

            return null;
        }

        var listing = new DirListing(records, length, entry);
        if (!HasEntriesBeyondDots(listing.Records))
        {
            listing.MarkStale();
            return listing;
        }

        lock (_gate)
        {
            if (_disposed || !_byInode.TryGetValue((dev, ino), out Entry? now) || now != entry || entry.Generation != generation)
            {
                listing.MarkStale(); // changed (or evicted) while it was read: serve this snapshot once, keep nothing
                return listing;
            }

            if (entry.Current is { } other)
            {
                return other; // another fid published the same generation first
            }

            entry.Current = listing;
            entry.LastUsed = Environment.TickCount64;
            _totalBytes += length;
            Interlocked.Increment(ref _fills);
            EnforceBudgetLocked(entry);
            return listing;
        }
    }

    /// <summary>Tests: applies raw inotify_event records as if read from the descriptor.</summary>
    internal void ApplyEventsForTests(ReadOnlySpan<byte> events)
    {
        lock (_gate)
        {
            ApplyLocked(events);
        }
    }

    /// <summary>Drops every directory unused for <paramref name="idleMilliseconds"/> (the timer passes one minute).</summary>
    internal void TrimIdle(long idleMilliseconds)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            long now = Environment.TickCount64;
            _scratch.Clear();
            foreach (Entry e in _byInode.Values)
            {
                if (now - e.LastUsed >= idleMilliseconds)
                {
                    _scratch.Add(e);
                }
            }

            foreach (Entry e in _scratch)
            {
                RemoveLocked(e, removeWatch: true);
            }

            _scratch.Clear();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (Entry e in _byInode.Values)
            {
                e.Current?.MarkStale();
                e.Current = null;
            }

            _byInode.Clear();
            _byWatch.Clear();
            _totalBytes = 0;
        }

        _trimmer?.Dispose();
        _inotify.Dispose(); // closing the instance removes every watch
    }

    private unsafe Entry? AddWatch(SafeFd dir, ulong dev, ulong ino)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return null;
            }

            if (_byInode.TryGetValue((dev, ino), out Entry? raced))
            {
                return raced;
            }

            if (_byInode.Count >= MaxDirectories)
            {
                EvictLeastRecentlyUsedLocked(null);
            }

            // The watch is added under the lock, so no drain can read an event for a descriptor not yet in _byWatch.
            // The path is the magic link of a descriptor this node holds (a reference is taken so its number cannot be
            // reused meanwhile): it resolves to exactly that inode, whatever happened to its names.
            Span<byte> path = stackalloc byte[ProcFdPath.BufferSize];
            bool added = false;
            int wd;
            try
            {
                dir.DangerousAddRef(ref added);
                ProcFdPath.WriteFull(dir.RawValue, path);
                fixed (byte* p = path)
                {
                    wd = Libc.inotify_add_watch(_inotify, p, WatchMask);
                }
            }
            finally
            {
                if (added)
                {
                    dir.DangerousRelease();
                }
            }

            if (wd < 0)
            {
                return null; // ENOSPC (max_user_watches), EACCES, ENOENT (no /proc): this directory stays uncached
            }

            if (_byWatch.TryGetValue(wd, out Entry? previous))
            {
                // The same inode under another key (cannot happen while (dev, ino) is unique); keep one owner per watch.
                RemoveLocked(previous, removeWatch: false);
            }

            var entry = new Entry(dev, ino, wd) { LastUsed = Environment.TickCount64 };
            _byInode.Add((dev, ino), entry);
            _byWatch.Add(wd, entry);
            return entry;
        }
    }

    /// <summary>
    /// getdents64 from offset 0 to the end into one exact-size array; null on error, or when the records exceed
    /// <see cref="MaxListingBytes"/> (<paramref name="tooBig"/>).
    /// </summary>
    private unsafe byte[]? ReadWhole(HostExport export, SafeFd dir, out int length, out bool tooBig)
    {
        length = 0;
        tooBig = false;
        if (Libc.lseek(dir, 0, Libc.SEEK_SET) < 0)
        {
            return null;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(FillChunk);
        try
        {
            int total = 0;
            while (true)
            {
                if (buffer.Length - total < FillMinRoom)
                {
                    byte[] grown = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, total).CopyTo(grown);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = grown;
                }

                nint n;
                fixed (byte* p = buffer)
                {
                    n = Libc.getdents64(dir, p + total, (nuint)(buffer.Length - total));
                }

                export.CountGetdents();
                if (n < 0)
                {
                    return null;
                }

                if (n == 0)
                {
                    break;
                }

                total += (int)n;
                if (total > MaxListingBytes)
                {
                    tooBig = true;
                    return null;
                }
            }

            if (!RecordsAreWellFormed(buffer.AsSpan(0, total)))
            {
                return null;
            }

            length = total;
            return buffer.AsSpan(0, total).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool RecordsAreWellFormed(ReadOnlySpan<byte> records)
    {
        while (!records.IsEmpty)
        {
            int reclen = DirListing.RecordLength(records);
            if (reclen < 0)
            {
                return false;
            }

            records = records[reclen..];
        }

        return true;
    }

    private static bool HasEntriesBeyondDots(ReadOnlySpan<byte> records)
    {
        while (!records.IsEmpty)
        {
            int reclen = BinaryPrimitives.ReadUInt16LittleEndian(records[Libc.DirentReclenOffset..]);
            ReadOnlySpan<byte> name = DirListing.NameOf(records[..reclen]);
            if (!name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8))
            {
                return true;
            }

            records = records[reclen..];
        }

        return false;
    }

    private void ApplyLocked(ReadOnlySpan<byte> events)
    {
        while (events.Length >= Libc.InotifyEventHeaderSize)
        {
            int wd = BinaryPrimitives.ReadInt32LittleEndian(events);
            uint mask = BinaryPrimitives.ReadUInt32LittleEndian(events[4..]);
            uint nameLength = BinaryPrimitives.ReadUInt32LittleEndian(events[12..]);
            if (nameLength > (uint)(events.Length - Libc.InotifyEventHeaderSize))
            {
                InvalidateAllLocked(); // a torn record: the kernel never writes one, but lost events mean trust nothing
                return;
            }

            if ((mask & Libc.IN_Q_OVERFLOW) != 0)
            {
                Interlocked.Increment(ref _overflows);
                InvalidateAllLocked();
            }
            else if (_byWatch.TryGetValue(wd, out Entry? entry))
            {
                if ((mask & Libc.IN_IGNORED) != 0)
                {
                    RemoveLocked(entry, removeWatch: false); // directory gone or filesystem unmounted: watch already removed
                }
                else
                {
                    InvalidateLocked(entry);
                }
            }

            events = events[(Libc.InotifyEventHeaderSize + (int)nameLength)..];
        }
    }

    private void InvalidateLocked(Entry entry)
    {
        entry.Generation++;
        if (entry.Current is { } listing)
        {
            listing.MarkStale();
            entry.Current = null;
            _totalBytes -= listing.Length;
            Interlocked.Increment(ref _invalidations);
        }
    }

    private void InvalidateAllLocked()
    {
        foreach (Entry e in _byInode.Values)
        {
            InvalidateLocked(e);
        }
    }

    private void RemoveLocked(Entry entry, bool removeWatch)
    {
        InvalidateLocked(entry);
        _byInode.Remove((entry.Dev, entry.Ino));
        _byWatch.Remove(entry.Watch);
        if (removeWatch)
        {
            // Its IN_IGNORED arrives later and names a watch no longer in _byWatch (wds are not reused soon: the kernel
            // allocates them cyclically).
            Libc.inotify_rm_watch(_inotify, entry.Watch);
        }
    }

    private void EvictLeastRecentlyUsedLocked(Entry? keep)
    {
        Entry? oldest = null;
        foreach (Entry e in _byInode.Values)
        {
            if (e != keep && (oldest is null || e.LastUsed < oldest.LastUsed))
            {
                oldest = e;
            }
        }

        if (oldest is not null)
        {
            RemoveLocked(oldest, removeWatch: true);
        }
    }

    private void EnforceBudgetLocked(Entry keep)
    {
        while (_totalBytes > MaxTotalBytes)
        {
            Entry? oldest = null;
            foreach (Entry e in _byInode.Values)
            {
                if (e != keep && e.Current is not null && (oldest is null || e.LastUsed < oldest.LastUsed))
                {
                    oldest = e;
                }
            }

            if (oldest is null)
            {
                return;
            }

            RemoveLocked(oldest, removeWatch: true);
        }
    }

    /// <summary>One watched directory. Fields other than <see cref="LastUsed"/> are guarded by the cache's lock.</summary>
    internal sealed class Entry(ulong dev, ulong ino, int watch)
    {
        public readonly ulong Dev = dev;
        public readonly ulong Ino = ino;
        public readonly int Watch = watch;

        /// <summary>The published listing, null while there is none.</summary>
        public DirListing? Current;

        /// <summary>Bumped by every invalidation: a fill publishes only if it is unchanged since before it read.</summary>
        public int Generation;

        /// <summary>The generation at which the directory was found over the size cap (-1: never).</summary>
        public int TooBigGeneration = -1;

        /// <summary>Environment.TickCount64 of the last pass that started here (written without the lock; a long is atomic on 64-bit).</summary>
        public long LastUsed;
    }
}

/// <summary>
/// One directory's records as getdents64 returned them from offset 0 to the end, immutable once made. A listing is
/// served until it is marked stale (an event named its directory, it was evicted, or it was never published);
/// a reader that already holds it keeps a consistent snapshot, and the array is the GC's, so nothing is freed under it.
/// </summary>
internal sealed class DirListing
{
    private readonly byte[] _records;
    private readonly DirListingCache.Entry _owner;
    private volatile bool _stale;

    internal DirListing(byte[] records, int length, DirListingCache.Entry owner)
    {
        _records = records;
        Length = length;
        _owner = owner;
    }

    public int Length { get; }

    public ReadOnlySpan<byte> Records => _records.AsSpan(0, Length);

    public bool IsStale => _stale;

    internal void MarkStale() => _stale = true;

    /// <summary>Records a pass starting here, for eviction and the idle trim.</summary>
    public void Touch() => _owner.LastUsed = Environment.TickCount64;

    /// <summary>
    /// The byte position just after the first record whose d_off is <paramref name="cookie"/> (where lseek to that
    /// cookie would resume), or -1 when no record has it. A linear scan: sequential readers never need it.
    /// </summary>
    public int PositionAfter(ulong cookie)
    {
        ReadOnlySpan<byte> records = Records;
        int position = 0;
        while (position < records.Length)
        {
            int reclen = BinaryPrimitives.ReadUInt16LittleEndian(records[(position + Libc.DirentReclenOffset)..]);
            position += reclen;
            if (BinaryPrimitives.ReadUInt64LittleEndian(records[(position - reclen + Libc.DirentOffOffset)..]) == cookie)
            {
                return position;
            }
        }

        return -1;
    }

    /// <summary>
    /// The length of the linux_dirent64 record that <paramref name="rest"/> starts with, or -1 when it is not a whole,
    /// well-formed record (shorter than a header and one name byte, or claiming more bytes than there are).
    /// </summary>
    internal static int RecordLength(ReadOnlySpan<byte> rest)
    {
        if (rest.Length < Libc.DirentNameOffset + 1)
        {
            return -1;
        }

        int reclen = BinaryPrimitives.ReadUInt16LittleEndian(rest[Libc.DirentReclenOffset..]);
        return reclen < Libc.DirentNameOffset + 1 || reclen > rest.Length ? -1 : reclen;
    }

    /// <summary>The name of one record (its d_name up to the NUL).</summary>
    internal static ReadOnlySpan<byte> NameOf(ReadOnlySpan<byte> record)
    {
        ReadOnlySpan<byte> field = record[Libc.DirentNameOffset..];
        int nul = field.IndexOf((byte)0);
        return nul >= 0 ? field[..nul] : field;
    }
}
