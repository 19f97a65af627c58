using System.Security.Cryptography;
using P9.Protocol.Client;
using P9.Protocol.Wire;

namespace Gofer.Interop.Tests.Client;

/// <summary>
/// The P9Client against a real server process (the required interop suite). Each test gets its own server
/// and export directory. Subclasses pick the server.
/// </summary>
public abstract class ClientInteropTests<TServer> : IAsyncLifetime
    where TServer : NinePServer, new()
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    protected TServer Server { get; } = new();

    private P9Client? _client;
    private P9Fid? _root;

    protected P9Client Client => _client!;

    protected P9Fid Root => _root!;

    public async Task InitializeAsync()
    {
        await Server.StartAsync();
        _client = await Server.ConnectAsync().WaitAsync(Generous);
        _root = await _client.AttachAsync("root", Server.AttachName, 0).AsTask().WaitAsync(Generous);
    }

    public async Task DisposeAsync()
    {
        if (_root is not null)
            await _root.DisposeAsync();
        if (_client is not null)
            await _client.DisposeAsync();
        await Server.DisposeAsync();
    }

    private string HostPath(string name) => Path.Combine(Server.Root, name);

    [Fact]
    public void Negotiates_msize_no_larger_than_the_server_grants()
    {
        Assert.Equal("9P2000.L", Client.Version);
        Assert.True(Client.Msize <= Server.MaxMsize);
        Assert.True(Client.Msize >= 4096);
        Assert.Equal(QidType.Dir, Root.Qid.Type & QidType.Dir);
    }

    [Fact]
    public async Task Create_write_one_MiB_read_back_in_msize_chunks()
    {
        var data = RandomNumberGenerator.GetBytes(1024 * 1024);
        await using (var file = await Root.CreateAsync("big", LopenFlags.ReadWrite, 0x81A4 /* S_IFREG|0644 */))
        {
            Assert.True(file.IsOpen);
            Client.Stats.Reset();
            Assert.Equal(data.Length, await file.WriteAsync(0, data));
            long writes = Client.Stats.Requests(P9MessageType.Twrite);
            Assert.True(writes >= data.Length / file.ChunkSize, $"{writes} Twrites for chunk {file.ChunkSize}");
            Assert.True(file.ChunkSize <= Client.Msize - 24);
        }
        Assert.Equal(data, await File.ReadAllBytesAsync(HostPath("big")));

        await using var again = await Root.WalkAsync("big");
        await again.OpenAsync(LopenFlags.ReadOnly);
        var back = new byte[data.Length + 100];
        Assert.Equal(data.Length, await again.ReadAsync(0, back));
        Assert.Equal(data, back.AsSpan(0, data.Length).ToArray());
        Assert.Equal(data, await again.ReadAllAsync());
        // pread semantics: an offset in the middle.
        var mid = new byte[1000];
        Assert.Equal(1000, await again.ReadAsync(500_000, mid));
        Assert.Equal(data.AsSpan(500_000, 1000).ToArray(), mid);
    }

    [Fact]
    public async Task ReadDir_of_1000_entries_follows_cookies()
    {
        Directory.CreateDirectory(HostPath("d"));
        var expected = new HashSet<string>();
        for (int i = 0; i < 1000; i++)
        {
            string name = $"entry-with-a-longish-name-{i:D4}";
            File.WriteAllBytes(Path.Combine(HostPath("d"), name), []);
            expected.Add(name);
        }
        await using var dir = await Root.WalkAsync("d");
        await dir.OpenAsync(LopenFlags.ReadOnly | LopenFlags.Directory);
        Client.Stats.Reset();
        var all = await dir.ReadDirAllAsync();
        var names = all.Select(e => e.Name).Where(n => n is not "." and not "..").ToList();
        Assert.Equal(1000, names.Count);
        Assert.True(expected.SetEquals(names));
        Assert.True(Client.Stats.Requests(P9MessageType.Treaddir) >= 2, "the end needs an empty Rreaddir");

        // A small msize forces many Treaddir round trips, each resuming at the previous batch's last cookie.
        await using (var small = await Server.ConnectAsync(msize: 4096))
        await using (var root = await small.AttachAsync("root", Server.AttachName, 0))
        await using (var d = await root.WalkAsync("d"))
        {
            await d.OpenAsync(LopenFlags.ReadOnly | LopenFlags.Directory);
            var viaSmall = await d.ReadDirAllAsync();
            Assert.Equal(all.Select(e => e.Name).Order(), viaSmall.Select(e => e.Name).Order());
            Assert.True(small.Stats.Requests(P9MessageType.Treaddir) > 10, $"{small.Stats.Requests(P9MessageType.Treaddir)} Treaddir at msize 4096");
        }

        // Resume from a cookie in the middle: the rest of the listing, nothing before it.
        int cut = all.Count / 2;
        var tail = new List<P9DirEntry>();
        ulong cookie = all[cut - 1].Offset;
        while (true)
        {
            var batch = await dir.ReadDirAsync(cookie);
            if (batch.Count == 0)
                break;
            tail.AddRange(batch);
            cookie = batch[^1].Offset;
        }
        Assert.Equal(all.Skip(cut).Select(e => e.Name), tail.Select(e => e.Name));
    }

    [Fact]
    public async Task GetAttr_and_SetAttr()
    {
        File.WriteAllBytes(HostPath("f"), new byte[123]);
        await using var f = await Root.WalkAsync("f");
        var attr = await f.GetAttrAsync(GetattrMask.All);
        Assert.Equal(123UL, attr.Size);
        Assert.Equal(0x8000u, attr.Mode & 0xF000u);
        await f.SetAttrAsync(new P9SetAttr
        {
            Valid = SetattrMask.Mode | SetattrMask.Size | SetattrMask.Mtime | SetattrMask.MtimeSet,
            Mode = 0x1C0, // 0700
            Size = 4096,
            MtimeSec = 1_000_000_000,
        });
        attr = await f.GetAttrAsync();
        Assert.Equal(4096UL, attr.Size);
        Assert.Equal(0x1C0u, attr.Mode & 0xFFFu);
        Assert.Equal(1_000_000_000UL, attr.MtimeSec);
        Assert.Equal(4096, new FileInfo(HostPath("f")).Length);
    }

    [Fact]
    public async Task Mkdir_rename_unlink()
    {
        var qid = await Root.MkdirAsync("sub", 0x1ED);
        Assert.Equal(QidType.Dir, qid.Type & QidType.Dir);
        Assert.True(Directory.Exists(HostPath("sub")));

        await using (var f = await Root.CreateAsync("a", LopenFlags.WriteOnly, 0x1A4))
        {
        }
        await using (var sub = await Root.WalkAsync("sub"))
        await using (var a = await Root.WalkAsync("a"))
        {
            await a.RenameAsync(sub, "b");
        }
        Assert.True(File.Exists(Path.Combine(HostPath("sub"), "b")));
        Assert.False(File.Exists(HostPath("a")));

        await using (var sub = await Root.WalkAsync("sub"))
        {
            try
            {
                await sub.RenameAtAsync("b", Root, "c");
                Assert.True(File.Exists(HostPath("c")));
            }
            catch (P9Exception e) when (e.Errno == LinuxErrno.EOPNOTSUPP)
            {
                // Server without Trenameat: the Linux client falls back to Trename, exercised above.
                File.Move(Path.Combine(HostPath("sub"), "b"), HostPath("c"));
            }
        }
        await Root.UnlinkAtAsync("c");
        Assert.False(File.Exists(HostPath("c")));
        await Root.UnlinkAtAsync("sub", UnlinkatFlags.RemoveDir);
        Assert.False(Directory.Exists(HostPath("sub")));

        var missing = await Assert.ThrowsAsync<P9Exception>(async () => await Root.UnlinkAtAsync("nope"));
        Assert.Equal(LinuxErrno.ENOENT, missing.Errno);
    }

    [Fact]
    public async Task Symlink_readlink_and_link()
    {
        File.WriteAllText(HostPath("target"), "hello");
        var qid = await Root.SymlinkAsync("ln", "target");
        Assert.Equal(QidType.Symlink, qid.Type & QidType.Symlink);
        await using (var ln = await Root.WalkAsync("ln"))
            Assert.Equal("target", await ln.ReadLinkAsync());
        Assert.Equal("target", new FileInfo(HostPath("ln")).LinkTarget);

        await using (var t = await Root.WalkAsync("target"))
        {
            await Root.LinkAsync("hard", t);
            var attr = await t.GetAttrAsync();
            Assert.Equal(2UL, attr.Nlink);
        }
        Assert.Equal("hello", File.ReadAllText(HostPath("hard")));
    }

    [Fact]
    public async Task Xattrs_get_set_list_remove()
    {
        File.WriteAllText(HostPath("x"), "");
        await using var x = await Root.WalkAsync("x");
        var value = "value-bytes"u8.ToArray();
        await x.SetXattrAsync("user.test", value);
        Assert.Equal(value, await x.GetXattrAsync("user.test"));
        var big = RandomNumberGenerator.GetBytes(3000);
        await x.SetXattrAsync("user.big", big);
        Assert.Equal(big, await x.GetXattrAsync("user.big"));
        var names = await x.ListXattrsAsync();
        Assert.Contains("user.test", names);
        Assert.Contains("user.big", names);

        await x.RemoveXattrAsync("user.test");
        var gone = await Assert.ThrowsAsync<P9Exception>(async () => await x.GetXattrAsync("user.test"));
        Assert.Equal(LinuxErrno.ENODATA, gone.Errno);
        Assert.DoesNotContain("user.test", await x.ListXattrsAsync());

        // XATTR_CREATE on an existing name: the error comes back (from Txattrcreate or from the clunk).
        var exists = await Assert.ThrowsAsync<P9Exception>(async () => await x.SetXattrAsync("user.big", value, XattrFlags.Create));
        Assert.Equal(LinuxErrno.EEXIST, exists.Errno);
        Assert.Equal(0, Client.Stats.Errors(P9MessageType.Tflush));
    }

    [Fact]
    public async Task Locks_and_getlock()
    {
        await using var f = await Root.CreateAsync("locked", LopenFlags.ReadWrite, 0x1A4);
        Assert.Equal(LockStatus.Success, await f.LockAsync(LockType.WriteLock, LockFlags.None, 0, 0, 42, "test-host"));
        var info = await f.GetLockAsync(LockType.WriteLock, 0, 0, 42, "test-host");
        Assert.True(Enum.IsDefined(info.Type));
        Assert.Equal(LockStatus.Success, await f.LockAsync(LockType.Unlock, LockFlags.None, 0, 0, 42, "test-host"));
    }

    [Fact]
    public async Task StatFs_and_fsync()
    {
        var s = await Root.StatFsAsync();
        Assert.True(s.Bsize > 0);
        Assert.True(s.Blocks > 0);
        Assert.True(s.Namelen >= 255);
        await using var f = await Root.CreateAsync("s", LopenFlags.ReadWrite, 0x1A4);
        await f.WriteAsync(0, new byte[10]);
        await f.FsyncAsync();
        await f.FsyncAsync(dataSync: true);
    }

    [Fact]
    public async Task Partial_walk_reports_resolved_count_and_creates_no_fid()
    {
        Directory.CreateDirectory(Path.Combine(HostPath("a"), "b"));
        int fidsBefore = Client.FidsInUse;
        var qids = new Qid[16];
        var partial = await Root.WalkPartialAsync(new[] { "a", "b", "missing", "deeper" }, qids);
        Assert.Equal(2, partial.Resolved);
        Assert.Null(partial.Fid);
        Assert.Equal(QidType.Dir, qids[1].Type & QidType.Dir);
        Assert.Equal(fidsBefore, Client.FidsInUse);

        var full = await Root.WalkPartialAsync(new[] { "a", "b" }, qids);
        Assert.Equal(2, full.Resolved);
        Assert.NotNull(full.Fid);
        await full.Fid!.DisposeAsync();
        Assert.Equal(fidsBefore, Client.FidsInUse);

        var first = await Assert.ThrowsAsync<P9Exception>(async () => await Root.WalkPartialAsync(new[] { "zzz" }, qids));
        Assert.Equal(LinuxErrno.ENOENT, first.Errno);
        Assert.Equal(fidsBefore, Client.FidsInUse);
    }

    [Fact]
    public async Task Walk_of_more_than_16_names_is_split()
    {
        string path = Server.Root;
        var names = new List<string>();
        for (int i = 0; i < 20; i++)
        {
            names.Add("n" + i);
            path = Path.Combine(path, "n" + i);
        }
        Directory.CreateDirectory(path);
        await using var deep = await Root.WalkAsync(names);
        Assert.Equal(QidType.Dir, deep.Qid.Type & QidType.Dir);
        Assert.Equal(2L, Client.Stats.Requests(P9MessageType.Twalk));
    }

    [Fact]
    public async Task Many_requests_in_flight_on_one_connection()
    {
        File.WriteAllBytes(HostPath("m"), new byte[77]);
        await using var m = await Root.WalkAsync("m");
        var tasks = Enumerable.Range(0, 200).Select(_ => m.GetAttrAsync().AsTask()).ToArray();
        var attrs = await Task.WhenAll(tasks).WaitAsync(Generous);
        Assert.All(attrs, a => Assert.Equal(77UL, a.Size));
    }

    [Fact]
    public async Task Fids_are_reused_after_clunk()
    {
        File.WriteAllText(HostPath("r"), "");
        int before = Client.FidsInUse;
        for (int i = 0; i < 50; i++)
        {
            await using var r = await Root.WalkAsync("r");
            await r.GetAttrAsync();
        }
        Assert.Equal(before, Client.FidsInUse);
        Assert.Equal(50L, Client.Stats.Requests(P9MessageType.Tclunk));
    }
}

public sealed class DiodClientTests : ClientInteropTests<DiodServer>
{
}

public sealed class GoferClientTests : ClientInteropTests<GoferServer>
{
}
