using System.Text;
using Gofer.Sandbox.Vfs;
using CachePolicy = Gofer.Spec.CachePolicy;
using static Gofer.Tests.Sandbox.VfsTestHelpers;

namespace Gofer.Tests.Sandbox.GoferFs;

/// <summary>The sandbox VFS over a real gofer mount: a real 9P server on a real socket exporting a real temp dir.</summary>
public sealed class GoferFileSystemTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromMinutes(3);

    public static TheoryData<CachePolicy, GoferBackend> PoliciesAndBackends => new()
    {
        { CachePolicy.Exclusive, GoferBackend.Ours },
        { CachePolicy.RemoteRevalidating, GoferBackend.Ours },
        { CachePolicy.Exclusive, GoferBackend.Diod },
        { CachePolicy.RemoteRevalidating, GoferBackend.Diod },
    };

    [Theory]
    [MemberData(nameof(PoliciesAndBackends))]
    public async Task Data_round_trips_through_the_page_cache_and_reaches_the_host(CachePolicy policy, GoferBackend backend)
    {
        await using var server = await GoferTestServer.StartAsync(backend);
        var (ns, _) = await server.SandboxAsync(policy);
        await RunAsync(async () =>
        {
            // 200 KiB + a bit: spans four 64 KiB pages with a short last one.
            var data = new byte[200 * 1024 + 123];
            new Random(7).NextBytes(data);
            await using (var f = await ns.OpenAsync("/mnt/big", OpenFlags.ReadWrite | OpenFlags.Create))
            {
                Assert.Equal(data.Length, await f.PWriteAsync(data, 0));
                Assert.Equal(data, await ReadAllAsync(f));
                // Overwrite across a page boundary and extend past the end: the cached pages must follow.
                var patch = Encoding.ASCII.GetBytes("PATCH-ACROSS-PAGES");
                Assert.Equal(patch.Length, await f.PWriteAsync(patch, 64 * 1024 - 5));
                patch.CopyTo(data, 64 * 1024 - 5);
                var tail = Encoding.ASCII.GetBytes("tail");
                Assert.Equal(tail.Length, await f.PWriteAsync(tail, data.Length));
                data = [.. data, .. tail];
                Assert.Equal(data, await ReadAllAsync(f));
            }

            Assert.Equal(data, await File.ReadAllBytesAsync(server.HostPath("big")));
            Assert.Equal(data.Length, (await ns.StatAsync("/mnt/big")).Size);

            // Truncate through the VFS (O_TRUNC) and re-read.
            await ns.WriteFileAsync("/mnt/big", "short");
            Assert.Equal("short", await ns.ReadFileAsync("/mnt/big"));
            Assert.Equal("short", await File.ReadAllTextAsync(server.HostPath("big")));
            Assert.Equal(5, (await ns.StatAsync("/mnt/big")).Size);

            // O_APPEND writes at the server's end of file.
            await using (var a = await ns.OpenAsync("/mnt/big", OpenFlags.WriteOnly | OpenFlags.Append))
            {
                await a.WriteAsync(Encoding.ASCII.GetBytes("+more"));
            }

            Assert.Equal("short+more", await ns.ReadFileAsync("/mnt/big"));
        });
    }

    [Theory]
    [MemberData(nameof(PoliciesAndBackends))]
    public async Task Namespace_operations_map_to_the_host(CachePolicy policy, GoferBackend backend)
    {
        await using var server = await GoferTestServer.StartAsync(backend);
        await File.WriteAllTextAsync(server.HostPath("host.txt"), "from host");
        Directory.CreateDirectory(server.HostPath("hostdir"));
        var (ns, _) = await server.SandboxAsync(policy);
        await RunAsync(async () =>
        {
            Assert.Equal(["host.txt", "hostdir"], await ns.NamesAsync("/mnt"));
            await ns.MkdirAsync("/mnt/d");
            await ns.WriteFileAsync("/mnt/d/a", "alpha");
            Assert.True(Directory.Exists(server.HostPath("d")));
            Assert.Equal(["a"], await ns.NamesAsync("/mnt/d"));

            // Hard link: same inode, nlink 2 on both names.
            await ns.LinkAsync("/mnt/d/a", "/mnt/d/b");
            var sa = await ns.StatAsync("/mnt/d/a");
            var sb = await ns.StatAsync("/mnt/d/b");
            Assert.Equal(sa.Ino, sb.Ino);
            Assert.Equal(2u, sb.Nlink);

            // Rename over a name, unlink, and the listing follows.
            await ns.RenameAsync("/mnt/d/a", "/mnt/d/c");
            await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/mnt/d/a"));
            Assert.Equal("alpha", await ns.ReadFileAsync("/mnt/d/c"));
            await ns.UnlinkAsync("/mnt/d/b");
            Assert.Equal(1u, (await ns.StatAsync("/mnt/d/c")).Nlink);
            Assert.Equal(["c"], await ns.NamesAsync("/mnt/d"));
            Assert.False(File.Exists(server.HostPath("d/b")));
            Assert.Equal("alpha", await File.ReadAllTextAsync(server.HostPath("d/c")));

            // Rename across directories, then rmdir.
            await ns.RenameAsync("/mnt/d/c", "/mnt/hostdir/moved");
            Assert.Equal("alpha", await File.ReadAllTextAsync(server.HostPath("hostdir/moved")));
            await ns.RmdirAsync("/mnt/d");
            Assert.False(Directory.Exists(server.HostPath("d")));
            await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/mnt/d"));

            // Symlinks: relative target inside the mount, readlink, lstat.
            await ns.SymlinkAsync("hostdir/moved", "/mnt/ln");
            Assert.Equal("hostdir/moved", await ns.ReadLinkAsync("/mnt/ln"));
            Assert.Equal("hostdir/moved", new FileInfo(server.HostPath("ln")).LinkTarget);
            Assert.Equal("alpha", await ns.ReadFileAsync("/mnt/ln"));
            Assert.Equal(FileType.Symlink, (await ns.LstatAsync("/mnt/ln")).Type);

            // A fifo is created on the host (opening it is the VFS's business: ENXIO, no emulation).
            await ns.MknodAsync("/mnt/fifo", (uint)FileType.Fifo | 0x1A4);
            Assert.Equal(FileType.Fifo, (await ns.StatAsync("/mnt/fifo")).Type);

            // Errors come back as the host's errno.
            await ThrowsErrno(Errno.EEXIST, () => ns.MkdirAsync("/mnt/hostdir"));
            await ThrowsErrno(Errno.ENOTEMPTY, () => ns.RmdirAsync("/mnt/hostdir"));
            await ThrowsErrno(Errno.ENOENT, () => ns.OpenAsync("/mnt/missing/x", OpenFlags.ReadOnly));
            Assert.Equal(FsMagic.V9fs, (await ns.StatFsAsync("/mnt")).Type);
        });
    }

    [Theory]
    [InlineData(CachePolicy.Exclusive)]
    [InlineData(CachePolicy.RemoteRevalidating)]
    public async Task Paths_resolve_across_mounts_and_symlinks(CachePolicy policy)
    {
        await using var server = await GoferTestServer.StartAsync();
        Directory.CreateDirectory(server.HostPath("a/b"));
        await File.WriteAllTextAsync(server.HostPath("a/b/file"), "deep");
        // Host symlinks: absolute targets are the SANDBOX's paths (resolved by the VFS, never on the host).
        File.CreateSymbolicLink(server.HostPath("to-root-etc"), "/etc/conf");
        File.CreateSymbolicLink(server.HostPath("a/up"), "../a/b");
        var (ns, _) = await server.SandboxAsync(policy);
        await RunAsync(async () =>
        {
            await ns.MkdirAsync("/etc");
            await ns.WriteFileAsync("/etc/conf", "tmpfs conf");
            Assert.Equal("tmpfs conf", await ns.ReadFileAsync("/mnt/to-root-etc"));
            Assert.Equal("deep", await ns.ReadFileAsync("/mnt/a/up/file"));
            Assert.Equal("deep", await ns.ReadFileAsync("/mnt/a/b/../../a/./b/file"));
            // ".." from the mount root leaves the mount.
            Assert.Equal("tmpfs conf", await ns.ReadFileAsync("/mnt/../etc/conf"));
            Assert.Equal("tmpfs conf", await ns.ReadFileAsync("/mnt/a/../../etc/conf"));
            // A tmpfs symlink into the gofer mount.
            await ns.SymlinkAsync("/mnt/a/b", "/deep");
            Assert.Equal("deep", await ns.ReadFileAsync("/deep/file"));
            await ns.ChdirAsync("/mnt/a");
            Assert.Equal("deep", await ns.ReadFileAsync("b/file"));
            await ThrowsErrno(Errno.ENOTDIR, () => ns.StatAsync("/mnt/a/b/file/x"));
        });
    }

    [Fact]
    public async Task Read_only_is_enforced_by_the_mount_flag_and_by_the_filesystem()
    {
        await using var server = await GoferTestServer.StartAsync();
        await File.WriteAllTextAsync(server.HostPath("f"), "ro");
        var (ns, _) = await server.SandboxAsync(CachePolicy.Exclusive, MountFlags.ReadOnly);
        var (ns2, fs2) = await server.SandboxAsync(CachePolicy.RemoteRevalidating, readOnly: true);
        Assert.True(fs2.IsReadOnly);
        await RunAsync(async () =>
        {
            foreach (var n in new[] { ns, ns2 })
            {
                Assert.Equal("ro", await n.ReadFileAsync("/mnt/f"));
                await ThrowsErrno(Errno.EROFS, () => n.OpenAsync("/mnt/f", OpenFlags.WriteOnly));
                await ThrowsErrno(Errno.EROFS, () => n.OpenAsync("/mnt/new", OpenFlags.WriteOnly | OpenFlags.Create));
                await ThrowsErrno(Errno.EROFS, () => n.MkdirAsync("/mnt/d"));
                await ThrowsErrno(Errno.EROFS, () => n.UnlinkAsync("/mnt/f"));
                await ThrowsErrno(Errno.EROFS, () => n.SetXattrAsync("/mnt/f", "user.x", new byte[] { 1 }));
            }

            // The filesystem itself refuses, whatever the mount says.
            var root = fs2.Root;
            await ThrowsErrno(Errno.EROFS, () => root.MkdirAsync("d", 0x1ED, Credentials.Root));
            await ThrowsErrno(Errno.EROFS, () => root.UnlinkAsync("f"));
            Assert.Equal("ro", await File.ReadAllTextAsync(server.HostPath("f")));
            Assert.False(Directory.Exists(server.HostPath("d")));
        });
    }

    [Theory]
    [InlineData(CachePolicy.Exclusive)]
    [InlineData(CachePolicy.RemoteRevalidating)]
    public async Task Xattrs_set_get_list_remove(CachePolicy policy)
    {
        await using var server = await GoferTestServer.StartAsync();
        var (ns, _) = await server.SandboxAsync(policy);
        await RunAsync(async () =>
        {
            await ns.WriteFileAsync("/mnt/x", "");
            await ns.SetXattrAsync("/mnt/x", "user.color", "blue"u8.ToArray());
            Assert.Equal("blue"u8.ToArray(), await ns.GetXattrAsync("/mnt/x", "user.color"));
            Assert.Contains("user.color", await ns.ListXattrAsync("/mnt/x"));
            await ThrowsErrno(Errno.EEXIST, () => ns.SetXattrAsync("/mnt/x", "user.color", "red"u8.ToArray(), XattrSetFlags.Create));
            await ns.RemoveXattrAsync("/mnt/x", "user.color");
            await ThrowsErrno(Errno.ENODATA, () => ns.GetXattrAsync("/mnt/x", "user.color"));
            Assert.DoesNotContain("user.color", await ns.ListXattrAsync("/mnt/x"));
        });
    }

    private static async Task<byte[]> ReadAllAsync(OpenFile f)
    {
        var ms = new MemoryStream();
        var buf = new byte[50_000]; // not a page multiple: reads straddle pages
        long off = 0;
        while (true)
        {
            int n = await f.PReadAsync(buf, off);
            if (n == 0)
            {
                return ms.ToArray();
            }

            ms.Write(buf, 0, n);
            off += n;
        }
    }

    private static Task RunAsync(Func<Task> body) => body().WaitAsync(Generous);
}
