using System.Text;
using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;
using static Gofer.Tests.Sandbox.VfsTestHelpers;

namespace Gofer.Tests.Sandbox;

public class TmpfsTests
{
    [Fact]
    public async Task Hard_links_share_data_and_count_nlink()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.WriteFileAsync("/a", "one");
        await ns.LinkAsync("/a", "/b");
        var a = await ns.StatAsync("/a");
        var b = await ns.StatAsync("/b");
        Assert.Equal(a.Ino, b.Ino);
        Assert.Equal(2u, a.Nlink);

        await ns.WriteFileAsync("/b", "two");
        Assert.Equal("two", await ns.ReadFileAsync("/a"));

        await ns.UnlinkAsync("/a");
        Assert.Equal(1u, (await ns.StatAsync("/b")).Nlink);
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/a"));

        await ns.MkdirAsync("/d");
        await ThrowsErrno(Errno.EPERM, () => ns.LinkAsync("/d", "/d2"));
        await ThrowsErrno(Errno.EEXIST, () => ns.LinkAsync("/b", "/d"));
    }

    [Fact]
    public async Task Directory_nlink_counts_subdirectories()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.MkdirAsync("/d");
        Assert.Equal(2u, (await ns.StatAsync("/d")).Nlink);
        await ns.MkdirAsync("/d/x");
        await ns.MkdirAsync("/d/y");
        await ns.WriteFileAsync("/d/f", "");
        Assert.Equal(4u, (await ns.StatAsync("/d")).Nlink);
        await ns.RenameAsync("/d/y", "/y");
        Assert.Equal(3u, (await ns.StatAsync("/d")).Nlink);
        await ns.RmdirAsync("/d/x");
        Assert.Equal(2u, (await ns.StatAsync("/d")).Nlink);
        await ThrowsErrno(Errno.ENOTEMPTY, () => ns.RmdirAsync("/d"));
    }

    [Fact]
    public async Task Rename_over_existing_replaces_it_and_checks_types()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.WriteFileAsync("/src", "new");
        await ns.WriteFileAsync("/dst", "old");
        await using var holder = await ns.OpenAsync("/dst", OpenFlags.ReadOnly);
        await ns.RenameAsync("/src", "/dst");
        Assert.Equal("new", await ns.ReadFileAsync("/dst"));
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/src"));

        // The replaced file lives on for whoever had it open.
        Assert.Equal("old", await holder.ReadAllTextAsync());
        Assert.Equal(0u, (await holder.StatAsync()).Nlink);

        await ns.MkdirAsync("/dir");
        await ns.MkdirAsync("/full");
        await ns.WriteFileAsync("/full/x", "");
        await ns.MkdirAsync("/empty");
        await ThrowsErrno(Errno.EISDIR, () => ns.RenameAsync("/dst", "/dir"));
        await ThrowsErrno(Errno.ENOTDIR, () => ns.RenameAsync("/dir", "/dst"));
        await ThrowsErrno(Errno.ENOTEMPTY, () => ns.RenameAsync("/dir", "/full"));
        await ThrowsErrno(Errno.EEXIST, () => ns.RenameAsync("/dst", "/full/x", RenameFlags.NoReplace));
        await ns.RenameAsync("/dir", "/empty");
        Assert.Equal(["dst", "empty", "full"], await ns.NamesAsync("/"));

        // Renaming one hard link onto another of the same inode does nothing.
        await ns.LinkAsync("/dst", "/dst2");
        await ns.RenameAsync("/dst", "/dst2");
        Assert.Equal(["dst", "dst2", "empty", "full"], await ns.NamesAsync("/"));
    }

    [Fact]
    public async Task Rename_moves_cached_dentries_with_their_subtree()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.MkdirAsync("/a");
        await ns.MkdirAsync("/a/b");
        await ns.WriteFileAsync("/a/b/f", "deep");
        await ns.RenameAsync("/a", "/z");
        Assert.Equal("deep", await ns.ReadFileAsync("/z/b/f"));
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/a/b/f"));
    }

    [Fact]
    public async Task Unlinked_open_file_is_still_readable_and_writable()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.WriteFileAsync("/f", "before");
        await using var f = await ns.OpenAsync("/f", OpenFlags.ReadWrite);
        await ns.UnlinkAsync("/f");
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/f"));
        Assert.Equal("before", await f.ReadAllTextAsync());
        await f.PWriteAsync(Encoding.UTF8.GetBytes("after!"), 0);
        Assert.Equal("after!", await f.ReadAllTextAsync());
        Assert.Equal(0u, (await f.StatAsync()).Nlink);

        // A new file with the same name is a different inode.
        await ns.WriteFileAsync("/f", "fresh");
        Assert.Equal("after!", await f.ReadAllTextAsync());
    }

    [Fact]
    public async Task Sparse_truncate_reads_zeros_and_shrinking_clears_old_data()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.WriteFileAsync("/f", "abcdef");
        await ns.TruncateAsync("/f", 3);
        await ns.TruncateAsync("/f", 1L << 40); // 1 TiB, allocates nothing
        var st = await ns.StatAsync("/f");
        Assert.Equal(1L << 40, st.Size);
        Assert.Equal(8, st.Blocks); // one 4 KiB page, in 512-byte blocks

        await using var f = await ns.OpenAsync("/f", OpenFlags.ReadWrite);
        var buf = new byte[8];
        Assert.Equal(8, await f.PReadAsync(buf, 0));
        Assert.Equal("abc\0\0\0\0\0", Encoding.ASCII.GetString(buf));
        Assert.Equal(8, await f.PReadAsync(buf, (1L << 39) + 5));
        Assert.All(buf, b => Assert.Equal(0, b));
        Assert.Equal(0, await f.PReadAsync(buf, 1L << 40));

        await f.PWriteAsync("xy"u8.ToArray(), 1L << 30);
        Assert.Equal(16, (await f.StatAsync()).Blocks);
        await f.TruncateAsync(0);
        Assert.Equal(0, (await f.StatAsync()).Size);
        Assert.Equal(0, (await f.StatAsync()).Blocks);
    }

    [Fact]
    public async Task O_APPEND_writes_at_the_end_and_O_TRUNC_empties()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.WriteFileAsync("/log", "one\n");
        await using (var a = await ns.OpenAsync("/log", OpenFlags.WriteOnly | OpenFlags.Append))
        {
            await using var other = await ns.OpenAsync("/log", OpenFlags.WriteOnly);
            await a.WriteAsync("two\n"u8.ToArray());
            await other.PWriteAsync("ONE\n"u8.ToArray(), 0);
            await other.PWriteAsync("three-ish\n"u8.ToArray(), 8);

            // Even an explicit offset goes to the end with O_APPEND (Linux's pwrite quirk).
            await a.PWriteAsync("four\n"u8.ToArray(), 0);
            Assert.Equal(23, (await a.StatAsync()).Size);

            // write(2) moved the offset to the end it wrote at; pwrite(2) does not move it.
            Assert.Equal(8, a.Offset);
        }

        Assert.Equal("ONE\ntwo\nthree-ish\nfour\n", await ns.ReadFileAsync("/log"));
        await using (var t = await ns.OpenAsync("/log", OpenFlags.WriteOnly | OpenFlags.Truncate))
        {
            Assert.Equal(0, (await t.StatAsync()).Size);
        }
    }

    [Fact]
    public async Task File_offsets_seek_and_access_modes()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.WriteFileAsync("/f", "0123456789");
        await using var r = await ns.OpenAsync("/f", OpenFlags.ReadOnly);
        var buf = new byte[4];
        Assert.Equal(4, await r.ReadAsync(buf));
        Assert.Equal(4, await r.ReadAsync(buf));
        Assert.Equal("4567", Encoding.ASCII.GetString(buf));
        Assert.Equal(8, r.Offset);
        Assert.Equal(2, await r.ReadAsync(buf));
        Assert.Equal(0, await r.ReadAsync(buf));
        Assert.Equal(7, await r.SeekAsync(-3, 2));
        Assert.Equal(3, await r.ReadAsync(buf));
        await ThrowsErrno(Errno.EINVAL, () => r.SeekAsync(-100, 1));
        await ThrowsErrno(Errno.EBADF, () => r.WriteAsync("x"u8.ToArray()));
        await ThrowsErrno(Errno.EINVAL, () => r.TruncateAsync(0));
        await using var w = await ns.OpenAsync("/f", OpenFlags.WriteOnly);
        await ThrowsErrno(Errno.EBADF, () => w.ReadAsync(buf));
        await r.CloseAsync();
        await ThrowsErrno(Errno.EBADF, () => r.ReadAsync(buf));
        await ThrowsErrno(Errno.EISDIR, () => ns.OpenAsync("/", OpenFlags.WriteOnly));
        await ThrowsErrno(Errno.EEXIST, () => ns.OpenAsync("/f", OpenFlags.WriteOnly | OpenFlags.Create | OpenFlags.Exclusive));
        await ThrowsErrno(Errno.ENOENT, () => ns.OpenAsync("/nope", OpenFlags.ReadOnly));
    }

    [Fact]
    public async Task Times_follow_writes_metadata_changes_and_utimes()
    {
        long now = 1000;
        var fs = new TmpfsFileSystem(new TmpfsOptions { Clock = () => new Timespec(now, 0) });
        var ns = await MountNamespace.CreateAsync(new MountSpec("/", fs));
        await ns.MkdirAsync("/d");
        now = 2000;
        await ns.WriteFileAsync("/d/f", "x");
        var f = await ns.StatAsync("/d/f");
        Assert.Equal(new Timespec(2000, 0), f.Mtime);
        Assert.Equal(new Timespec(2000, 0), (await ns.StatAsync("/d")).Mtime);

        now = 3000;
        await using (var h = await ns.OpenAsync("/d/f", OpenFlags.WriteOnly))
        {
            await h.WriteAsync("y"u8.ToArray());
        }

        f = await ns.StatAsync("/d/f");
        Assert.Equal(new Timespec(3000, 0), f.Mtime);
        Assert.Equal(new Timespec(2000, 0), f.Atime);

        now = 4000;
        await ns.ChmodAsync("/d/f", 0x180);
        f = await ns.StatAsync("/d/f");
        Assert.Equal(new Timespec(4000, 0), f.Ctime);
        Assert.Equal(new Timespec(3000, 0), f.Mtime);
        Assert.Equal(0x180u, f.Perm);

        await ns.UtimesAsync("/d/f", new Timespec(5, 6), new Timespec(7, 8));
        f = await ns.StatAsync("/d/f");
        Assert.Equal(new Timespec(5, 6), f.Atime);
        Assert.Equal(new Timespec(7, 8), f.Mtime);

        now = 6000;
        await ns.UtimesAsync("/d/f", null, null);
        Assert.Equal(new Timespec(6000, 0), (await ns.StatAsync("/d/f")).Mtime);

        now = 7000;
        await ns.UnlinkAsync("/d/f");
        Assert.Equal(new Timespec(7000, 0), (await ns.StatAsync("/d")).Mtime);
    }

    [Fact]
    public async Task Modes_owners_umask_and_special_nodes()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        ns.Credentials = new Credentials(1000, 100);
        await ns.MkdirAsync("/d", 0x1FF);
        var d = await ns.StatAsync("/d");
        Assert.Equal(0x1EDu, d.Perm); // 0777 & ~022
        Assert.Equal(1000u, d.Uid);
        Assert.Equal(100u, d.Gid);
        await ns.ChownAsync("/d", 0, 0);
        Assert.Equal(0u, (await ns.StatAsync("/d")).Uid);

        await ns.MknodAsync("/fifo", (uint)FileType.Fifo | 0x1A4);
        Assert.Equal(FileType.Fifo, (await ns.StatAsync("/fifo")).Type);
        await ThrowsErrno(Errno.ENXIO, () => ns.OpenAsync("/fifo", OpenFlags.ReadOnly));
        await ns.MknodAsync("/blk", (uint)FileType.BlockDevice | 0x1A4, 0x801);
        Assert.Equal(0x801ul, (await ns.StatAsync("/blk")).Rdev);
        await ThrowsErrno(Errno.ENXIO, () => ns.OpenAsync("/blk", OpenFlags.ReadOnly));
        await ThrowsErrno(Errno.EEXIST, () => ns.MknodAsync("/fifo", (uint)FileType.Fifo | 0x1A4));
        await ThrowsErrno(Errno.EPERM, () => ns.MknodAsync("/dd", (uint)FileType.Directory | 0x1A4));

        await ns.SymlinkAsync("/somewhere/else", "/sl");
        Assert.Equal("/somewhere/else", await ns.ReadLinkAsync("/sl"));
        Assert.Equal(15, (await ns.LstatAsync("/sl")).Size);
        await ThrowsErrno(Errno.EINVAL, () => ns.ReadLinkAsync("/d"));
    }

    [Fact]
    public async Task Xattrs_create_replace_list_remove()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.WriteFileAsync("/f", "");
        await ns.SetXattrAsync("/f", "user.a", "1"u8.ToArray(), XattrSetFlags.Create);
        await ThrowsErrno(Errno.EEXIST, () => ns.SetXattrAsync("/f", "user.a", "2"u8.ToArray(), XattrSetFlags.Create));
        await ThrowsErrno(Errno.ENODATA, () => ns.SetXattrAsync("/f", "user.b", "2"u8.ToArray(), XattrSetFlags.Replace));
        await ns.SetXattrAsync("/f", "user.a", "2"u8.ToArray(), XattrSetFlags.Replace);
        await ns.SetXattrAsync("/f", "trusted.t", ""u8.ToArray());
        Assert.Equal("2"u8.ToArray(), await ns.GetXattrAsync("/f", "user.a"));
        Assert.Equal(["trusted.t", "user.a"], await ns.ListXattrAsync("/f"));
        await ns.RemoveXattrAsync("/f", "user.a");
        await ThrowsErrno(Errno.ENODATA, () => ns.GetXattrAsync("/f", "user.a"));
        await ThrowsErrno(Errno.ENODATA, () => ns.RemoveXattrAsync("/f", "user.a"));
        await ThrowsErrno(Errno.EOPNOTSUPP, () => ns.SetXattrAsync("/f", "bogus.x", "1"u8.ToArray()));
        await ThrowsErrno(Errno.E2BIG, () => ns.SetXattrAsync("/f", "user.big", new byte[65537]));
    }

    [Fact]
    public async Task Size_limit_is_ENOSPC_and_statfs_reports_it()
    {
        var fs = new TmpfsFileSystem(new TmpfsOptions { MaxBytes = 8192 });
        var ns = await MountNamespace.CreateAsync(new MountSpec("/", fs));
        await using var f = await ns.OpenAsync("/f", OpenFlags.WriteOnly | OpenFlags.Create);
        await f.WriteAsync(new byte[8192]);
        await ThrowsErrno(Errno.ENOSPC, () => f.WriteAsync(new byte[1]));
        Assert.Equal(8192, (await f.StatAsync()).Size);
        var s = await ns.StatFsAsync("/");
        Assert.Equal(FsMagic.Tmpfs, s.Type);
        Assert.Equal(2ul, s.Blocks);
        Assert.Equal(0ul, s.BlocksFree);
        await f.TruncateAsync(0);
        Assert.Equal(2ul, (await ns.StatFsAsync("/")).BlocksFree);
    }

    [Fact]
    public async Task Readdir_cookies_survive_changes_between_pages()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        for (int i = 0; i < 10; i++)
        {
            await ns.WriteFileAsync($"/f{i}", "");
        }

        await using var d = await ns.OpenAsync("/", OpenFlags.Directory);
        var first = await d.ReadDirAsync(0, 4);
        Assert.Equal(["f0", "f1", "f2", "f3"], first.Select(e => e.Name));
        await ns.UnlinkAsync("/f1");
        await ns.UnlinkAsync("/f5");
        await ns.WriteFileAsync("/late", "");
        var rest = new List<string>();
        long cookie = first[^1].Cookie;
        while (true)
        {
            var page = await d.ReadDirAsync(cookie, 3);
            if (page.Count == 0)
            {
                break;
            }

            rest.AddRange(page.Select(e => e.Name));
            cookie = page[^1].Cookie;
        }

        Assert.Equal(["f4", "f6", "f7", "f8", "f9", "late"], rest);
    }
}
