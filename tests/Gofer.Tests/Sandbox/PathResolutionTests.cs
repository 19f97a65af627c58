using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;
using static Gofer.Tests.Sandbox.VfsTestHelpers;

namespace Gofer.Tests.Sandbox;

public class PathResolutionTests
{
    [Fact]
    public async Task Symlink_chain_of_40_resolves_and_41_is_ELOOP()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.WriteFileAsync("/target", "end");
        await ns.SymlinkAsync("/target", "/l0");
        for (int i = 1; i <= 40; i++)
        {
            await ns.SymlinkAsync($"l{i - 1}", $"/l{i}");
        }

        // l39 -> ... -> l0 -> target: 40 links followed.
        Assert.Equal("end", await ns.ReadFileAsync("/l39"));

        // l40 needs 41.
        await ThrowsErrno(Errno.ELOOP, () => ns.StatAsync("/l40"));

        // lstat does not follow the final link at all.
        Assert.Equal(FileType.Symlink, (await ns.LstatAsync("/l40")).Type);
    }

    [Fact]
    public async Task Self_loop_is_ELOOP()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.SymlinkAsync("loop", "/loop");
        await ThrowsErrno(Errno.ELOOP, () => ns.StatAsync("/loop"));
        await ThrowsErrno(Errno.ELOOP, () => ns.StatAsync("/loop/x"));
    }

    [Fact]
    public async Task DotDot_leaves_a_mount_through_its_mount_point()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.MkdirAsync("/a");
        await ns.MkdirAsync("/a/mnt");
        await ns.WriteFileAsync("/a/sibling", "s");
        var sub = new TmpfsFileSystem();
        await ns.MountAsync(new MountSpec("/a/mnt", sub));
        await ns.MkdirAsync("/a/mnt/inner");

        // From inside the mount, ".." at its root is the mount point's parent (/a), not the mount root again.
        Assert.Equal("s", await ns.ReadFileAsync("/a/mnt/../sibling"));
        Assert.Equal("s", await ns.ReadFileAsync("/a/mnt/inner/../../sibling"));

        await ns.ChdirAsync("/a/mnt/inner");
        Assert.Equal("/a/mnt/inner", ns.Getcwd());
        Assert.Equal("s", await ns.ReadFileAsync("../../sibling"));

        // ".." at the namespace root stays at the root.
        Assert.Equal("s", await ns.ReadFileAsync("/../../a/sibling"));
    }

    [Fact]
    public async Task Mount_hides_what_is_below_and_stacks()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.MkdirAsync("/m");
        await ns.WriteFileAsync("/m/under", "u");
        await ns.MountAsync(new MountSpec("/m", new TmpfsFileSystem()));
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/m/under"));
        await ns.WriteFileAsync("/m/first", "1");
        await ns.MountAsync(new MountSpec("/m", new TmpfsFileSystem()));
        Assert.Empty(await ns.ReadDirAsync("/m"));
        Assert.Equal(3, ns.GetMounts().Count);
        Assert.All(ns.GetMounts().Skip(1), m => Assert.Equal("/m", m.Destination));
    }

    [Fact]
    public async Task Absolute_symlink_into_another_mount_resolves_in_the_namespace()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.MkdirAsync("/data");
        await ns.MountAsync(new MountSpec("/data", new TmpfsFileSystem()));
        await ns.MkdirAsync("/data/dir");
        await ns.WriteFileAsync("/data/dir/file", "in data");
        await ns.MkdirAsync("/etc");
        await ns.SymlinkAsync("/data/dir", "/etc/link");
        await ns.SymlinkAsync("../data/dir/file", "/etc/rel");

        Assert.Equal("in data", await ns.ReadFileAsync("/etc/link/file"));
        Assert.Equal("in data", await ns.ReadFileAsync("/etc/rel"));

        // A symlink inside the mount that climbs out of it with "..".
        await ns.SymlinkAsync("../../etc/rel", "/data/dir/back");
        Assert.Equal("in data", await ns.ReadFileAsync("/data/dir/back"));

        // Writes through the link land in the other mount.
        await ns.WriteFileAsync("/etc/link/new", "x");
        Assert.Contains("new", await ns.NamesAsync("/data/dir"));
    }

    [Fact]
    public async Task Trailing_slash_and_ENOTDIR_rules()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.WriteFileAsync("/f", "x");
        await ns.MkdirAsync("/d");
        await ns.SymlinkAsync("d", "/ld");

        await ThrowsErrno(Errno.ENOTDIR, () => ns.StatAsync("/f/"));
        await ThrowsErrno(Errno.ENOTDIR, () => ns.StatAsync("/f/x"));
        await ThrowsErrno(Errno.ENOTDIR, () => ns.StatAsync("/f/."));
        Assert.Equal(FileType.Directory, (await ns.StatAsync("/d/")).Type);

        // A trailing slash makes even lstat follow a symlink to a directory.
        Assert.Equal(FileType.Directory, (await ns.LstatAsync("/ld/")).Type);
        Assert.Equal(FileType.Symlink, (await ns.LstatAsync("/ld")).Type);

        await ThrowsErrno(Errno.EISDIR, () => ns.OpenAsync("/new/", OpenFlags.Create | OpenFlags.WriteOnly));
        await ThrowsErrno(Errno.ENOTDIR, () => ns.OpenAsync("/f", OpenFlags.Directory));
        await ThrowsErrno(Errno.ENOTDIR, () => ns.UnlinkAsync("/f/"));
        await ThrowsErrno(Errno.ENOTDIR, () => ns.RmdirAsync("/f"));
        await ThrowsErrno(Errno.EISDIR, () => ns.UnlinkAsync("/d"));
        await ns.MkdirAsync("/e/");
        Assert.Equal(FileType.Directory, (await ns.StatAsync("/e")).Type);
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync(""));
        await ThrowsErrno(Errno.ENOENT, () => ns.StatAsync("/missing/x"));
    }

    [Fact]
    public async Task O_NOFOLLOW_on_a_final_symlink_is_ELOOP()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.WriteFileAsync("/f", "x");
        await ns.SymlinkAsync("f", "/l");
        await ThrowsErrno(Errno.ELOOP, () => ns.OpenAsync("/l", OpenFlags.ReadOnly | OpenFlags.NoFollow));
        await ThrowsErrno(Errno.EEXIST, () => ns.OpenAsync("/l", OpenFlags.WriteOnly | OpenFlags.Create | OpenFlags.Exclusive));
    }

    [Fact]
    public async Task O_CREAT_through_a_dangling_symlink_creates_its_target()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.MkdirAsync("/d");
        await ns.SymlinkAsync("d/created", "/dangling");
        await ns.WriteFileAsync("/dangling", "made");
        Assert.Equal("made", await ns.ReadFileAsync("/d/created"));
    }

    [Fact]
    public async Task Long_names_are_ENAMETOOLONG()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ThrowsErrno(Errno.ENAMETOOLONG, () => ns.MkdirAsync("/" + new string('a', 256)));
        await ns.MkdirAsync("/" + new string('a', 255));
    }

    [Fact]
    public async Task Rename_across_mounts_is_EXDEV_and_into_own_subtree_is_EINVAL()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.MkdirAsync("/m");
        await ns.MountAsync(new MountSpec("/m", new TmpfsFileSystem()));
        await ns.WriteFileAsync("/f", "x");
        await ThrowsErrno(Errno.EXDEV, () => ns.RenameAsync("/f", "/m/f"));
        await ThrowsErrno(Errno.EXDEV, () => ns.LinkAsync("/f", "/m/f"));
        await ns.MkdirAsync("/a");
        await ns.MkdirAsync("/a/b");
        await ThrowsErrno(Errno.EINVAL, () => ns.RenameAsync("/a", "/a/b/c"));
        await ThrowsErrno(Errno.EBUSY, () => ns.RenameAsync("/m", "/mm"));
        await ThrowsErrno(Errno.EBUSY, () => ns.RmdirAsync("/m"));
    }
}
