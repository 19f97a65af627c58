using System.Text;
using Gofer.Sandbox.Overlay;
using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;
using static Gofer.Tests.Sandbox.VfsTestHelpers;

namespace Gofer.Tests.Sandbox;

public class OverlayTests
{
    /// <summary>
    /// Lower: /etc/conf (0640, uid 7, user.tag), /etc/keep, /bin/tool (04755), /dir/a, /dir/sub/b, /link -> etc/conf.
    /// </summary>
    private static async Task<(MountNamespace Ns, TmpfsFileSystem Lower)> OverlayAsync()
    {
        var lower = await ReadOnlyLowerAsync(async l =>
        {
            await l.MkdirAsync("/etc", 0x1ED);
            await l.WriteFileAsync("/etc/conf", "lower conf");
            await l.ChmodAsync("/etc/conf", 0x1A0);
            await l.ChownAsync("/etc/conf", 7, 8);
            await l.UtimesAsync("/etc/conf", new Timespec(100, 1), new Timespec(200, 2));
            await l.SetXattrAsync("/etc/conf", "user.tag", "lower-tag"u8.ToArray());
            await l.WriteFileAsync("/etc/keep", "keep");
            await l.MkdirAsync("/bin", 0x1ED);
            await l.WriteFileAsync("/bin/tool", "#!tool");
            await l.ChmodAsync("/bin/tool", 0x9ED); // 04755
            await l.MkdirAsync("/dir", 0x1ED);
            await l.WriteFileAsync("/dir/a", "a");
            await l.MkdirAsync("/dir/sub", 0x1ED);
            await l.WriteFileAsync("/dir/sub/b", "b");
            await l.SymlinkAsync("etc/conf", "/link");
        });
        var ns = await MountNamespace.CreateAsync(new MountSpec("/", lower) { Overlay = true, Source = "rootfs" });
        return (ns, lower);
    }

    private static async Task<string> LowerContentAsync(TmpfsFileSystem lower, string path)
    {
        var ns = await MountNamespace.CreateAsync(new MountSpec("/", lower));
        return await ns.ReadFileAsync(path);
    }

    private static async Task<string[]> LowerNamesAsync(TmpfsFileSystem lower, string path)
    {
        var ns = await MountNamespace.CreateAsync(new MountSpec("/", lower));
        return await ns.NamesAsync(path);
    }

    [Fact]
    public async Task Copy_up_on_write_preserves_data_mode_owner_times_and_xattrs()
    {
        var (ns, lower) = await OverlayAsync();
        Assert.Equal("overlay", ns.GetMounts()[0].Type);
        await using (var f = await ns.OpenAsync("/etc/conf", OpenFlags.ReadWrite))
        {
            Assert.Equal("lower conf", await f.ReadAllTextAsync());
            await f.PWriteAsync("UPPER"u8.ToArray(), 0);
        }

        Assert.Equal("UPPER conf", await ns.ReadFileAsync("/etc/conf"));
        var st = await ns.StatAsync("/etc/conf");
        Assert.Equal(0x1A0u, st.Perm);
        Assert.Equal(7u, st.Uid);
        Assert.Equal(8u, st.Gid);
        Assert.Equal(new Timespec(100, 1), st.Atime);
        Assert.Equal("lower-tag"u8.ToArray(), await ns.GetXattrAsync("/etc/conf", "user.tag"));

        // The lower layer never changes.
        Assert.Equal("lower conf", await LowerContentAsync(lower, "/etc/conf"));
    }

    [Fact]
    public async Task Copy_up_keeps_setuid_and_happens_on_chmod_and_xattr_set()
    {
        var (ns, lower) = await OverlayAsync();
        await ns.SetXattrAsync("/bin/tool", "user.x", "1"u8.ToArray());
        Assert.Equal(0x9EDu, (await ns.StatAsync("/bin/tool")).Perm);
        Assert.Equal("#!tool", await ns.ReadFileAsync("/bin/tool"));
        await ns.ChmodAsync("/etc/keep", 0x100);
        Assert.Equal(0x100u, (await ns.StatAsync("/etc/keep")).Perm);
        Assert.Equal("keep", await ns.ReadFileAsync("/etc/keep"));

        var lowerNs = await MountNamespace.CreateAsync(new MountSpec("/", lower));
        Assert.NotEqual(0x100u, (await lowerNs.StatAsync("/etc/keep")).Perm);
        await ThrowsErrno(Errno.ENODATA, () => lowerNs.GetXattrAsync("/bin/tool", "user.x"));
    }

    [Fact]
    public async Task Whiteout_hides_lower_entries_and_readdir_merges_without_duplicates()
    {
        var (ns, lower) = await OverlayAsync();
        await ns.UnlinkAsync("/etc/keep");
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/etc/keep"));
        await ns.WriteFileAsync("/etc/new", "n");
        await ns.WriteFileAsync("/etc/conf", "changed"); // copied up: in both layers, listed once
        Assert.Equal(["conf", "new"], await ns.NamesAsync("/etc"));
        Assert.Equal(["conf", "keep"], await LowerNamesAsync(lower, "/etc"));

        // A file can be created again where a whiteout is.
        await ns.WriteFileAsync("/etc/keep", "again");
        Assert.Equal("again", await ns.ReadFileAsync("/etc/keep"));
        Assert.Equal(["conf", "keep", "new"], await ns.NamesAsync("/etc"));

        // Removing a lower symlink works too, and the private xattrs never show.
        await ns.UnlinkAsync("/link");
        Assert.Equal(["bin", "dir", "etc"], await ns.NamesAsync("/"));
        Assert.Empty(await ns.ListXattrAsync("/etc"));
    }

    [Fact]
    public async Task Rmdir_then_mkdir_gives_an_opaque_directory()
    {
        var (ns, lower) = await OverlayAsync();
        await ThrowsErrno(Errno.ENOTEMPTY, () => ns.RmdirAsync("/dir"));
        await ns.UnlinkAsync("/dir/sub/b");
        await ns.RmdirAsync("/dir/sub");
        await ns.UnlinkAsync("/dir/a");
        Assert.Empty(await ns.ReadDirAsync("/dir"));
        await ns.RmdirAsync("/dir");
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/dir"));

        await ns.MkdirAsync("/dir");
        Assert.Empty(await ns.ReadDirAsync("/dir"));
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/dir/a"));
        await ns.WriteFileAsync("/dir/fresh", "f");
        Assert.Equal(["fresh"], await ns.NamesAsync("/dir"));
        await ThrowsErrno(Errno.EPERM, () => ns.GetXattrAsync("/dir", OverlayFileSystem.OpaqueXattr));

        Assert.Equal(["a", "sub"], await LowerNamesAsync(lower, "/dir"));
    }

    [Fact]
    public async Task Writes_never_reach_the_lower_layer()
    {
        var (ns, lower) = await OverlayAsync();
        await ns.WriteFileAsync("/dir/sub/b", "new b");
        await ns.TruncateAsync("/dir/a", 0);
        await ns.RenameAsync("/etc/conf", "/etc/renamed");
        await ns.LinkAsync("/etc/keep", "/etc/keep2");
        await ns.MkdirAsync("/dir/sub/deeper");
        await ns.SymlinkAsync("x", "/dir/sl");

        Assert.Equal("b", await LowerContentAsync(lower, "/dir/sub/b"));
        Assert.Equal("a", await LowerContentAsync(lower, "/dir/a"));
        Assert.Equal(["conf", "keep"], await LowerNamesAsync(lower, "/etc"));
        Assert.Equal(["a", "sub"], await LowerNamesAsync(lower, "/dir"));
        Assert.Equal(["b"], await LowerNamesAsync(lower, "/dir/sub"));
        Assert.True(lower.IsReadOnly);
    }

    [Fact]
    public async Task Rename_within_the_overlay()
    {
        var (ns, _) = await OverlayAsync();

        // A lower file: copied up, moved, and its old name whited out.
        await ns.RenameAsync("/etc/conf", "/dir/conf");
        Assert.Equal("lower conf", await ns.ReadFileAsync("/dir/conf"));
        Assert.Equal(["keep"], await ns.NamesAsync("/etc"));
        Assert.Equal(["a", "conf", "sub"], await ns.NamesAsync("/dir"));

        // Over an existing lower file.
        await ns.RenameAsync("/dir/conf", "/etc/keep");
        Assert.Equal("lower conf", await ns.ReadFileAsync("/etc/keep"));
        Assert.Equal(["keep"], await ns.NamesAsync("/etc"));

        // A directory with lower content cannot move (no redirect_dir): EXDEV, like Linux overlayfs.
        await ThrowsErrno(Errno.EXDEV, () => ns.RenameAsync("/dir/sub", "/sub"));

        // An upper-only directory can, even onto a lower name that was removed (it becomes opaque there).
        await ns.MkdirAsync("/newdir");
        await ns.WriteFileAsync("/newdir/x", "x");
        await ns.UnlinkAsync("/dir/a");
        await ns.UnlinkAsync("/dir/sub/b");
        await ns.RmdirAsync("/dir/sub");
        await ns.RenameAsync("/newdir", "/dir/sub");
        Assert.Equal(["x"], await ns.NamesAsync("/dir/sub"));
        Assert.Equal("x", await ns.ReadFileAsync("/dir/sub/x"));
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/dir/sub/b"));
    }

    [Fact]
    public async Task Read_only_open_of_a_lower_file_keeps_reading_lower_after_copy_up()
    {
        var (ns, _) = await OverlayAsync();
        await using var before = await ns.OpenAsync("/etc/conf", OpenFlags.ReadOnly);
        await ns.WriteFileAsync("/etc/conf", "rewritten");
        Assert.Equal("rewritten", await ns.ReadFileAsync("/etc/conf"));
        Assert.Equal("lower conf", await before.ReadAllTextAsync());
    }

    [Fact]
    public async Task Statfs_reports_the_overlay_magic_and_lower_alone_refuses_writes()
    {
        var (ns, lower) = await OverlayAsync();
        Assert.Equal(FsMagic.Overlay, (await ns.StatFsAsync("/")).Type);
        var direct = await MountNamespace.CreateAsync(new MountSpec("/", lower));
        await ThrowsErrno(Errno.EROFS, () => direct.MkdirAsync("/x"));
        await ThrowsErrno(Errno.EROFS, () => direct.OpenAsync("/etc/conf", OpenFlags.WriteOnly));
    }
}
