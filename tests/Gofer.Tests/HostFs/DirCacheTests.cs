using System.Buffers.Binary;
using Gofer.HostFs;
using Gofer.HostFs.Native;
using Xunit.Abstractions;
using static Gofer.Tests.HostFs.DirTests;

namespace Gofer.Tests.HostFs;

/// <summary>
/// The directory listing cache (<see cref="DirListingCache"/>) over a real temporary directory. Each test class instance
/// has its own cache (its own inotify instance), so one test's overflow or eviction cannot touch another's counters.
/// Whether a pass was served from memory is told by <see cref="HostExport.GetdentsCalls"/>: a cached pass makes none.
/// </summary>
public sealed class DirCacheTests : HostFsTestBase, IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly DirListingCache _cache;
    private readonly List<IDisposable> _disposables = [];

    public DirCacheTests(ITestOutputHelper output)
        : this(output, NewCache())
    {
    }

    private DirCacheTests(ITestOutputHelper output, DirListingCache cache)
        : base(new HostExportOptions(), cache)
    {
        _output = output;
        _cache = cache;
        Assert.True(Export.DirCache == cache, "the test directory must be on a local filesystem for the cache to be on");
    }

    public new void Dispose()
    {
        foreach (IDisposable d in Enumerable.Reverse(_disposables))
        {
            d.Dispose();
        }

        base.Dispose();
        _cache.Dispose();
    }

    private static DirListingCache NewCache(int maxDirectories = DirListingCache.DefaultMaxDirectories,
        int maxListingBytes = DirListingCache.DefaultMaxListingBytes, long maxTotalBytes = DirListingCache.DefaultMaxTotalBytes) =>
        DirListingCache.TryCreate(maxDirectories, maxListingBytes, maxTotalBytes, trimPeriodically: false)
        ?? throw new InvalidOperationException("inotify_init1 failed");

    private T Own<T>(T d)
        where T : IDisposable
    {
        _disposables.Add(d);
        return d;
    }

    /// <summary>A second export of the same directory with its own options and cache.</summary>
    private HostExport OpenExport(HostExportOptions options, DirListingCache? cache = null)
    {
        Assert.Equal(Errno.None, HostExport.TryOpen(ExportDir, options, cache, out HostExport? export));
        return Own(export!);
    }

    private HostNode OpenDir(HostExport export, string rel)
    {
        HostNode root = Own(export.Attach());
        return Own(OpenOk(root, P9L.ORdOnly, rel.Split('/')));
    }

    private void MakeFiles(string rel, int count, string prefix = "file-")
    {
        Directory.CreateDirectory(InExport(rel));
        using HostNode dir = WalkOk(Root, rel);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(Errno.None, dir.Mknod(U(prefix + i.ToString("D5")), Libc.S_IFREG | 0x1A4, 0, 0, uint.MaxValue, uint.MaxValue, out _));
        }
    }

    private static string[] Names(IEnumerable<Entry> entries) => [.. entries.Select(e => e.Name).Order(StringComparer.Ordinal)];

    private static string[] HostNames(string path) =>
        [.. Directory.GetFileSystemEntries(path).Select(p => Path.GetFileName(p)!).Append(".").Append("..").Order(StringComparer.Ordinal)];

    private static Errno ReadDirErrno(HostNode dir, ulong cookie)
    {
        var w = new RreaddirWriter(new byte[8192]);
        return dir.ReadDir(cookie, ref w);
    }

    [Fact]
    public void An_unchanged_directory_is_listed_from_memory_with_the_same_entries_cookies_and_qids()
    {
        MakeFiles("d", 300);
        using HostNode dir = OpenOk(Root, P9L.ORdOnly, "d");
        long before = Export.GetdentsCalls;
        List<Entry> first = ReadAll(dir, 4096); // several replies per pass
        long afterFirst = Export.GetdentsCalls;
        Assert.True(afterFirst > before, "the first pass reads the directory");
        Assert.Equal(1, _cache.Fills);

        List<Entry> second = ReadAll(dir, 4096);
        Assert.Equal(afterFirst, Export.GetdentsCalls); // no getdents64: served from memory
        Assert.Equal(first, second);

        // Another fid of the same directory shares the listing, with other reply sizes.
        using HostNode other = OpenOk(Root, P9L.ORdOnly, "d");
        Assert.Equal(first, ReadAll(other, 700));
        Assert.Equal(afterFirst, Export.GetdentsCalls);
        Assert.Equal(1, _cache.Fills);

        // And it is exactly what an export without the cache lists (names, types, cookies, qid paths).
        HostExport plain = OpenExport(new HostExportOptions { DirCache = false });
        Assert.Null(plain.DirCache);
        List<Entry> uncached = ReadAll(OpenDir(plain, "d"), 4096);
        Assert.Equal(first.Select(e => (e.Name, e.Type, e.Offset, e.Qid.Path)), uncached.Select(e => (e.Name, e.Type, e.Offset, e.Qid.Path)));
        Assert.Equal(302, first.Count);
    }

    [Fact]
    public void Host_changes_made_just_before_a_pass_are_always_seen()
    {
        MakeFiles("d", 40);
        string d = InExport("d");
        string elsewhere = InExport("elsewhere"); // same filesystem, outside the listed directory
        Directory.CreateDirectory(elsewhere);
        using HostNode dir = OpenOk(Root, P9L.ORdOnly, "d");
        var rng = new Random(1234);
        long servedFromMemory = 0;
        for (int i = 0; i < 500; i++)
        {
            string[] present = [.. Directory.GetFileSystemEntries(d).Select(p => Path.GetFileName(p)!)];
            string victim = present.Length > 0 ? present[rng.Next(present.Length)] : "";
            bool victimIsFile = victim.Length > 0 && !Directory.Exists(Path.Combine(d, victim)); // files and symlinks
            string name = "n" + i.ToString("D4");
            switch (i % 8)
            {
                case 0:
                    File.WriteAllText(Path.Combine(d, name), "x");
                    break;
                case 1 when victimIsFile:
                    File.Delete(Path.Combine(d, victim));
                    break;
                case 2:
                    File.WriteAllText(Path.Combine(elsewhere, name), "x");
                    File.Move(Path.Combine(elsewhere, name), Path.Combine(d, name)); // rename in
                    break;
                case 3 when victimIsFile:
                    File.Move(Path.Combine(d, victim), Path.Combine(elsewhere, name)); // rename out
                    break;
                case 4 when victimIsFile:
                    File.Move(Path.Combine(d, victim), Path.Combine(d, name)); // rename within
                    break;
                case 5:
                    Directory.CreateDirectory(Path.Combine(d, name));
                    break;
                case 6:
                    File.CreateSymbolicLink(Path.Combine(d, name), "target");
                    break;
                case 7 when Directory.GetDirectories(d) is { Length: > 0 } subdirs:
                    Directory.Delete(subdirs[0]);
                    break;
                default:
                    File.WriteAllText(Path.Combine(d, name), "x");
                    break;
            }

            // No sleep: the change has returned, so the next pass must show it.
            Assert.Equal(HostNames(d), Names(ReadAll(dir, i % 2 == 0 ? 65536 : 600)));

            // Unchanged since: the pass after is served from memory and identical.
            long g = Export.GetdentsCalls;
            Assert.Equal(HostNames(d), Names(ReadAll(dir, 65536)));
            servedFromMemory += Export.GetdentsCalls == g ? 1 : 0;
        }

        _output.WriteLine($"fills {_cache.Fills}, invalidations {_cache.Invalidations}, unchanged passes from memory {servedFromMemory}/500");
        Assert.Equal(500, servedFromMemory);
        Assert.True(_cache.Invalidations >= 400, "changes invalidate the listing");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Concurrent_readers_see_every_change_that_completed_before_their_pass_began(bool cached)
    {
        HostExport export = cached ? Export : OpenExport(new HostExportOptions { DirCache = false });
        Directory.CreateDirectory(InExport("d"));
        File.WriteAllText(InExport("d/seed"), "x");
        const int Files = 1500;
        int created = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        HostNode[] fids = [OpenDir(export, "d"), OpenDir(export, "d"), OpenDir(export, "d")];
        var writer = new Thread(() =>
        {
            for (int i = 0; i < Files; i++)
            {
                File.WriteAllText(InExport("d/w" + i.ToString("D5")), "");
                Volatile.Write(ref created, i + 1);
            }
        });
        var readers = fids.Select(fid => new Thread(() =>
        {
            try
            {
                for (int pass = 0; ; pass++)
                {
                    int seen = Volatile.Read(ref created); // every file below this index existed before the pass began
                    int count = pass % 2 == 0 ? 65536 : 2048; // whole passes in one reply, and passes of many replies
                    var names = ReadAll(fid, count).Select(e => e.Name).ToHashSet();
                    int missing = Enumerable.Range(0, seen).Count(j => !names.Contains("w" + j.ToString("D5")));
                    if (missing > 0)
                    {
                        failures.Enqueue($"pass {pass} (count {count}): {missing} of the {seen} files created before it began are missing ({names.Count} names listed)");
                        return;
                    }

                    if (seen == Files)
                    {
                        return;
                    }
                }
            }
            catch (Exception e)
            {
                failures.Enqueue(e.ToString());
            }
        })).ToList();
        writer.Start();
        readers.ForEach(r => r.Start());
        writer.Join();
        readers.ForEach(r => r.Join());

        Assert.True(failures.IsEmpty, string.Join("\n", failures));
        _output.WriteLine($"fills {_cache.Fills}, invalidations {_cache.Invalidations}");
    }

    [Fact]
    public void Cookies_from_a_cached_pass_replay_without_the_cache_and_the_other_way_round()
    {
        MakeFiles("d", 800);
        using HostNode dir = OpenOk(Root, P9L.ORdOnly, "d");
        ReadAll(dir, 65536);
        long g = Export.GetdentsCalls;
        List<Entry> cached = ReadAll(dir, 65536);
        Assert.Equal(g, Export.GetdentsCalls);

        HostExport plain = OpenExport(new HostExportOptions { DirCache = false });
        HostNode uncachedDir = OpenDir(plain, "d");
        foreach (int k in new[] { 0, 1, 2, 399, 800, 801 })
        {
            List<Entry> next = ReadChunk(uncachedDir, cached[k].Offset, 700);
            Assert.Equal(cached.Skip(k + 1).Take(next.Count).Select(e => e.Name), next.Select(e => e.Name));
            Assert.Equal(k == 801, next.Count == 0);
        }

        List<Entry> uncached = ReadAll(uncachedDir, 65536);
        Assert.Equal(cached.Select(e => e.Offset), uncached.Select(e => e.Offset));

        // A fresh cached fid resumes from any cookie of the listing without a getdents64 ...
        using HostNode fresh = OpenOk(Root, P9L.ORdOnly, "d");
        g = Export.GetdentsCalls;
        foreach (int k in new[] { 801, 0, 5, 700, 3 })
        {
            List<Entry> next = ReadChunk(fresh, uncached[k].Offset, 700);
            Assert.Equal(uncached.Skip(k + 1).Take(next.Count).Select(e => e.Name), next.Select(e => e.Name));
        }

        Assert.Equal(g, Export.GetdentsCalls);

        // ... and a cookie the listing never handed out is sought on the host, exactly as without the cache.
        ulong foreign = uncached[400].Offset - 1;
        Assert.Equal(ReadChunk(uncachedDir, foreign, 2000).Select(e => e.Name), ReadChunk(fresh, foreign, 2000).Select(e => e.Name));
        Assert.True(Export.GetdentsCalls > g);
    }

    [Fact]
    public void A_directory_over_the_size_cap_lists_correctly_and_is_not_read_twice_per_pass()
    {
        using DirListingCache small = NewCache(maxListingBytes: 8192, maxTotalBytes: 8192);
        MakeFiles("big", 1000);
        MakeFiles("small", 5);
        HostExport capped = OpenExport(new HostExportOptions(), small);
        HostExport plain = OpenExport(new HostExportOptions { DirCache = false });
        HostNode bigDir = OpenDir(capped, "big");
        HostNode plainBig = OpenDir(plain, "big");

        List<Entry> expected = ReadAll(plainBig, 65536);
        long plainPass = plain.GetdentsCalls;
        Assert.Equal(expected, ReadAll(bigDir, 65536)); // first pass: a fill attempt, abandoned at the cap, then uncached
        Assert.Equal(0, small.Fills);
        long g = capped.GetdentsCalls;
        Assert.Equal(expected, ReadAll(bigDir, 1000));
        Assert.Equal(expected, ReadAll(bigDir, 65536));
        Assert.Equal(g + (2 * plainPass), capped.GetdentsCalls); // later passes: no second read, only what the uncached path needs

        // A change clears the "too big" mark, and the listing is still right.
        File.WriteAllText(InExport("big/late"), "");
        Assert.Contains("late", ReadAll(bigDir, 65536).Select(e => e.Name));

        // A small directory still fits.
        HostNode smallDir = OpenDir(capped, "small");
        List<Entry> s = ReadAll(smallDir, 65536);
        Assert.Equal(1, small.Fills);
        g = capped.GetdentsCalls;
        Assert.Equal(s, ReadAll(smallDir, 65536));
        Assert.Equal(g, capped.GetdentsCalls);
    }

    [Fact]
    public void The_number_of_directories_and_the_bytes_held_are_bounded()
    {
        using DirListingCache two = NewCache(maxDirectories: 2, maxListingBytes: 4096, maxTotalBytes: 6000);
        HostExport export = OpenExport(new HostExportOptions(), two);
        for (int i = 0; i < 5; i++)
        {
            MakeFiles("d" + i, 60); // ~ 2 KiB of records each
        }

        HostNode[] dirs = [.. Enumerable.Range(0, 5).Select(i => OpenDir(export, "d" + i))];
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal(HostNames(InExport("d" + i)), Names(ReadAll(dirs[i], 65536)));
                Assert.True(two.Count <= 2, $"{two.Count} directories watched");
                Assert.True(two.TotalBytes <= 6000, $"{two.TotalBytes} bytes held");
            }
        }

        Assert.True(two.Fills >= 10, "evicted directories are filled again");

        // Idle directories are dropped with their watches.
        two.TrimIdle(0);
        Assert.Equal(0, two.Count);
        Assert.Equal(0, two.TotalBytes);
        Assert.Equal(HostNames(InExport("d0")), Names(ReadAll(dirs[0], 65536)));
    }

    [Fact]
    public void A_real_inotify_queue_overflow_invalidates_every_listing()
    {
        int maxQueued = int.Parse(File.ReadAllText("/proc/sys/fs/inotify/max_queued_events").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        if (maxQueued > 200_000)
        {
            _output.WriteLine($"max_queued_events is {maxQueued}: too many files to create here; the simulated overflow test covers the path");
            return;
        }

        MakeFiles("a", 3);
        MakeFiles("b", 3);
        using HostNode a = OpenOk(Root, P9L.ORdOnly, "a");
        using HostNode b = OpenOk(Root, P9L.ORdOnly, "b");
        ReadAll(a, 65536);
        ReadAll(b, 65536); // both watched now

        // Flood b's watch past the queue without any drain, then change a: a's event is dropped, only the overflow says so.
        using (HostNode bw = WalkOk(Root, "b"))
        {
            for (int i = 0; i < maxQueued + 100; i++)
            {
                Assert.Equal(Errno.None, bw.Mknod(U("flood-" + i.ToString("D6")), Libc.S_IFREG | 0x1A4, 0, 0, uint.MaxValue, uint.MaxValue, out _));
            }
        }

        File.WriteAllText(InExport("a/late"), "");
        Assert.Contains("late", ReadAll(a, 65536).Select(e => e.Name));
        Assert.True(_cache.Overflows >= 1);
        Assert.Equal(HostNames(InExport("b")), Names(ReadAll(b, 65536)));
    }

    [Fact]
    public void A_simulated_overflow_event_invalidates_every_listing()
    {
        MakeFiles("a", 3);
        MakeFiles("b", 3);
        using HostNode a = OpenOk(Root, P9L.ORdOnly, "a");
        using HostNode b = OpenOk(Root, P9L.ORdOnly, "b");
        List<Entry> la = ReadAll(a, 65536);
        List<Entry> lb = ReadAll(b, 65536);
        long g = Export.GetdentsCalls;
        ReadAll(a, 65536);
        ReadAll(b, 65536);
        Assert.Equal(g, Export.GetdentsCalls);

        // struct inotify_event { wd = -1, mask = IN_Q_OVERFLOW, cookie = 0, len = 0 }
        byte[] ev = new byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(ev, -1);
        BinaryPrimitives.WriteUInt32LittleEndian(ev.AsSpan(4), Libc.IN_Q_OVERFLOW);
        long invalidations = _cache.Invalidations;
        _cache.ApplyEventsForTests(ev);
        Assert.Equal(invalidations + 2, _cache.Invalidations);
        Assert.Equal(1, _cache.Overflows);

        Assert.Equal(la, ReadAll(a, 65536));
        long afterA = Export.GetdentsCalls;
        Assert.True(afterA > g, "a is read again");
        Assert.Equal(lb, ReadAll(b, 65536));
        Assert.True(Export.GetdentsCalls > afterA, "b is read again");
    }

    [Fact]
    public void With_the_option_off_every_pass_calls_getdents()
    {
        MakeFiles("d", 50);
        HostExport plain = OpenExport(new HostExportOptions { DirCache = false }, _cache);
        Assert.Null(plain.DirCache);
        HostNode dir = OpenDir(plain, "d");
        for (int i = 0; i < 3; i++)
        {
            long g = plain.GetdentsCalls;
            Assert.Equal(52, ReadAll(dir, 65536).Count);
            Assert.True(plain.GetdentsCalls > g);
        }

        Assert.Equal(0, _cache.Fills);
    }

    [Fact]
    public void A_directory_moved_while_cached_lists_its_new_parent_and_a_deleted_one_answers_like_the_host()
    {
        MakeFiles("d", 20);
        Directory.CreateDirectory(InExport("p1/p2"));
        using HostNode dir = OpenOk(Root, P9L.ORdOnly, "d");
        List<Entry> before = ReadAll(dir, 65536);
        HostExport plain = OpenExport(new HostExportOptions { DirCache = false });

        // Moved to another parent: ".." now names p2.
        Directory.Move(InExport("d"), InExport("p1/p2/d"));
        List<Entry> moved = ReadAll(dir, 65536);
        List<Entry> truth = ReadAll(OpenDir(plain, "p1/p2/d"), 65536);
        Assert.Equal(truth.Select(e => (e.Name, e.Offset, e.Qid.Path)), moved.Select(e => (e.Name, e.Offset, e.Qid.Path)));
        Assert.NotEqual(before.Single(e => e.Name == "..").Qid.Path, moved.Single(e => e.Name == "..").Qid.Path);
        using (HostNode p2 = WalkOk(Root, "p1", "p2"))
        {
            Assert.Equal(p2.Qid.Path, moved.Single(e => e.Name == "..").Qid.Path);
        }

        // Emptied, then removed while this fid (and the uncached one) still hold it open: as the host says (ENOENT).
        HostNode plainDir = OpenDir(plain, "p1/p2/d");
        foreach (string f in Directory.GetFiles(InExport("p1/p2/d")))
        {
            File.Delete(f);
        }

        Assert.Equal([".", ".."], Names(ReadAll(dir, 65536)));
        long fills = _cache.Fills;
        Directory.Delete(InExport("p1/p2/d"));
        Errno host = ReadDirErrno(plainDir, 0);
        Assert.Equal(host, ReadDirErrno(dir, 0));
        Assert.Equal(Errno.ENOENT, host);
        Assert.Equal(fills, _cache.Fills); // a listing of only "." and ".." is never kept
    }

    [Fact]
    public void Only_local_filesystems_are_cached()
    {
        Assert.True(DirListingCache.IsLocalFileSystem(0xEF53));      // ext4
        Assert.True(DirListingCache.IsLocalFileSystem(0x58465342));  // xfs
        Assert.True(DirListingCache.IsLocalFileSystem(0x9123683E));  // btrfs
        Assert.True(DirListingCache.IsLocalFileSystem(0x01021994));  // tmpfs
        Assert.True(DirListingCache.IsLocalFileSystem(0x794C7630));  // overlayfs
        Assert.False(DirListingCache.IsLocalFileSystem(0x6969));     // nfs
        Assert.False(DirListingCache.IsLocalFileSystem(0x65735546)); // fuse
        Assert.False(DirListingCache.IsLocalFileSystem(0x01021997)); // 9p
        Assert.False(DirListingCache.IsLocalFileSystem(unchecked((int)0xFF534D42))); // cifs
        Assert.False(DirListingCache.IsLocalFileSystem(0xFE534D42)); // smb2
        Assert.False(DirListingCache.IsLocalFileSystem(0x00C36400)); // ceph
        Assert.False(DirListingCache.IsLocalFileSystem(0x9FA0));     // proc
        Assert.False(DirListingCache.IsLocalFileSystem(0x62656572)); // sysfs
        Assert.False(DirListingCache.IsLocalFileSystem(0));

        // A real export on a filesystem whose directories change without events: no cache.
        Assert.Equal(Errno.None, HostExport.TryOpen("/proc", new HostExportOptions(), _cache, out HostExport? proc));
        using (proc)
        {
            Assert.Null(proc!.DirCache);
        }
    }
}
