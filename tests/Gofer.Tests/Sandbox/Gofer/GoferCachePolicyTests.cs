using System.Text;
using Gofer.Sandbox.Gofer;
using Gofer.Sandbox.Vfs;
using CachePolicy = Gofer.Spec.CachePolicy;
using P9.Protocol.Wire;
using Xunit.Abstractions;
using static Gofer.Tests.Sandbox.VfsTestHelpers;

namespace Gofer.Tests.Sandbox.GoferFs;

/// <summary>The cache policies, measured by counting the client's RPCs against a real server.</summary>
public sealed class GoferCachePolicyTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Generous = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task Remote_revalidating_sees_host_create_modify_rename_and_delete_on_the_next_access()
    {
        await using var server = await GoferTestServer.StartAsync();
        Directory.CreateDirectory(server.HostPath("d/e"));
        var (ns, _) = await server.SandboxAsync(CachePolicy.RemoteRevalidating);
        await RunAsync(async () =>
        {
            // Create.
            await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/mnt/d/e/f"));
            await File.WriteAllTextAsync(server.HostPath("d/e/f"), "one");
            Assert.Equal(3, (await ns.StatAsync("/mnt/d/e/f")).Size);
            Assert.Equal("one", await ns.ReadFileAsync("/mnt/d/e/f"));
            Assert.Contains("f", await ns.NamesAsync("/mnt/d/e"));

            // Modify in place (same inode): stat and the cached pages both follow.
            await File.WriteAllTextAsync(server.HostPath("d/e/f"), "two, longer");
            Assert.Equal(11, (await ns.StatAsync("/mnt/d/e/f")).Size);
            Assert.Equal("two, longer", await ns.ReadFileAsync("/mnt/d/e/f"));

            // Replace by rename (a new inode under the cached name) and move the old name away.
            await File.WriteAllTextAsync(server.HostPath("d/e/g"), "three");
            File.Move(server.HostPath("d/e/g"), server.HostPath("d/e/f"), overwrite: true);
            Assert.Equal("three", await ns.ReadFileAsync("/mnt/d/e/f"));
            File.Move(server.HostPath("d/e/f"), server.HostPath("d/e/h"));
            await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/mnt/d/e/f"));
            Assert.Equal("three", await ns.ReadFileAsync("/mnt/d/e/h"));

            // A directory in the middle of a cached path replaced on the host.
            Directory.Move(server.HostPath("d"), server.HostPath("old-d"));
            Directory.CreateDirectory(server.HostPath("d/e"));
            await File.WriteAllTextAsync(server.HostPath("d/e/h"), "new tree");
            Assert.Equal("new tree", await ns.ReadFileAsync("/mnt/d/e/h"));

            // Delete.
            File.Delete(server.HostPath("d/e/h"));
            await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/mnt/d/e/h"));
            Assert.DoesNotContain("h", await ns.NamesAsync("/mnt/d/e"));
            Directory.Delete(server.HostPath("d"), recursive: true);
            await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/mnt/d/e"));
        });
    }

    [Fact]
    public async Task Exclusive_repeated_stat_open_and_read_send_no_rpcs_after_the_first()
    {
        await using var server = await GoferTestServer.StartAsync();
        Directory.CreateDirectory(server.HostPath("a/b"));
        await File.WriteAllTextAsync(server.HostPath("a/b/file"), new string('x', 100_000));
        var (ns, fs) = await server.SandboxAsync(CachePolicy.Exclusive);
        await RunAsync(async () =>
        {
            await ns.StatAsync("/mnt/a/b/file");
            Assert.Equal(100_000, (await ns.ReadFileAsync("/mnt/a/b/file")).Length);
            await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/mnt/a/missing"));
            Assert.Equal(["file"], await ns.NamesAsync("/mnt/a/b"));
            Assert.True(fs.TotalRpcs > 0);

            fs.ResetRpcStats();
            for (int i = 0; i < 3; i++)
            {
                var st = await ns.StatAsync("/mnt/a/b/file");
                Assert.Equal(100_000, st.Size);
                Assert.Equal(100_000, (await ns.ReadFileAsync("/mnt/a/b/file")).Length);
                await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/mnt/a/missing")); // negative dentry
                Assert.Equal(["file"], await ns.NamesAsync("/mnt/a/b"));              // cached listing
            }

            output.WriteLine("exclusive, warm stat/open/read/readdir/negative x3: " + fs.TotalRpcs + " RPCs");
            Assert.Equal(0, fs.TotalRpcs);

            // Our own writes keep the cache right (and cost only the write itself plus one getattr on the next stat).
            await using (var f = await ns.OpenAsync("/mnt/a/b/file", OpenFlags.ReadWrite))
            {
                await f.PWriteAsync("HEAD"u8.ToArray(), 0);
            }

            Assert.StartsWith("HEADxx", await ns.ReadFileAsync("/mnt/a/b/file"));
            await ns.WriteFileAsync("/mnt/a/missing", "now here");
            Assert.Equal("now here", await ns.ReadFileAsync("/mnt/a/missing"));
            Assert.Equal(["b", "missing"], await ns.NamesAsync("/mnt/a"));
            Assert.Equal("now here", await File.ReadAllTextAsync(server.HostPath("a/missing")));
        });
    }

    [Fact]
    public async Task Dentry_cache_bound_holds_over_10000_distinct_files()
    {
        const int Files = 10_000;
        const int Bound = 1000;
        await using var server = await GoferTestServer.StartAsync();
        Directory.CreateDirectory(server.HostPath("many"));
        for (int i = 0; i < Files; i++)
        {
            await File.WriteAllBytesAsync(server.HostPath($"many/f{i}"), []);
        }

        var (ns, fs) = await server.SandboxAsync(CachePolicy.Exclusive, maxDentries: Bound);
        await RunAsync(async () =>
        {
            int peak = 0;
            for (int i = 0; i < Files; i++)
            {
                await ns.StatAsync($"/mnt/many/f{i}");
                peak = Math.Max(peak, fs.LiveFids);
            }

            var s = fs.Client.Stats;
            long walks = s.Requests(P9MessageType.Twalk) - s.Errors(P9MessageType.Twalk);
            long clunks = s.Requests(P9MessageType.Tclunk);
            output.WriteLine($"10000 files, bound {Bound}: live fids {fs.LiveFids}, peak {peak}, walks {walks}, clunks {clunks}");
            // The root fid, "/mnt/many", and the bounded dentries: nothing grows with the number of files walked.
            Assert.True(peak <= Bound + 3, $"peak live fids {peak}");
            Assert.True(clunks >= Files - Bound - 1, $"clunks {clunks}");
            // Every file is still reachable after eviction.
            Assert.Equal(0, (await ns.StatAsync("/mnt/many/f0")).Size);
        });
    }

    [Fact]
    public async Task File_data_cache_stays_under_its_byte_cap_and_refetches_what_it_dropped()
    {
        const long Cap = 2 * GoferFileSystem.PageSize;
        await using var server = await GoferTestServer.StartAsync();
        for (int i = 0; i < 5; i++)
        {
            await File.WriteAllTextAsync(server.HostPath($"f{i}"), new string((char)('a' + i), 100_000));
        }

        var (ns, fs) = await server.SandboxAsync(CachePolicy.Exclusive, maxCachedBytes: Cap);
        await RunAsync(async () =>
        {
            for (int round = 0; round < 2; round++)
            {
                for (int i = 0; i < 5; i++)
                {
                    Assert.Equal(new string((char)('a' + i), 100_000), await ns.ReadFileAsync($"/mnt/f{i}"));
                    Assert.InRange(fs.CachedBytes, 1, Cap);
                }
            }

            // The last file read is the one cached: reading it again costs nothing.
            fs.ResetRpcStats();
            Assert.Equal(new string('e', 100_000), await ns.ReadFileAsync("/mnt/f4"));
            Assert.Equal(0, fs.TotalRpcs);
        });
    }

    /// <summary>The figures for the report: RPCs per stat of a 5-component path, cold and warm, per policy.</summary>
    [Theory]
    [InlineData(CachePolicy.Exclusive)]
    [InlineData(CachePolicy.RemoteRevalidating)]
    public async Task Rpcs_per_stat_of_a_five_component_path(CachePolicy policy)
    {
        await using var server = await GoferTestServer.StartAsync();
        Directory.CreateDirectory(server.HostPath("a/b/c/d"));
        await File.WriteAllTextAsync(server.HostPath("a/b/c/d/file"), "x");
        var (ns, fs) = await server.SandboxAsync(policy);
        await RunAsync(async () =>
        {
            fs.ResetRpcStats();
            await ns.StatAsync("/mnt/a/b/c/d/file");
            long cold = fs.TotalRpcs;
            string coldDetail = Detail(fs);
            fs.ResetRpcStats();
            await ns.StatAsync("/mnt/a/b/c/d/file");
            long warm = fs.TotalRpcs;
            string warmDetail = Detail(fs);
            output.WriteLine($"{policy}: stat /mnt/a/b/c/d/file cold {cold} RPCs ({coldDetail}), warm {warm} RPCs ({warmDetail})");
            if (policy == CachePolicy.Exclusive)
            {
                Assert.Equal(0, warm);
                Assert.Equal(6, cold); // 5 Twalk + 1 Tgetattr (the file's type and attributes)
            }
            else
            {
                // One batched Twalk of all 5 names (+ its Tclunk) and the Tgetattr that refreshes the attributes.
                Assert.Equal(1, fs.Client.Stats.Requests(P9MessageType.Twalk));
                Assert.Equal(1, fs.Client.Stats.Requests(P9MessageType.Tgetattr));
                Assert.True(warm <= 3, $"warm {warm}");
                Assert.Equal(7, cold);
            }
        });
    }

    private static string Detail(GoferFileSystem fs) =>
        string.Join(", ", fs.RpcSnapshot().Select(s => $"{s.Type} {s.Requests}"));

    private static Task RunAsync(Func<Task> body) => body().WaitAsync(Generous);
}
