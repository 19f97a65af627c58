using System.Text;
using Gofer.Sandbox.Devices;
using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;
using static Gofer.Tests.Sandbox.VfsTestHelpers;

namespace Gofer.Tests.Sandbox;

public class ReadOnlyMountTests
{
    private static async Task<MountNamespace> NamespaceWithReadOnlyDataAsync()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        var data = new TmpfsFileSystem();
        var setup = await MountNamespace.CreateAsync(new MountSpec("/", data));
        await setup.WriteFileAsync("/file", "content");
        await setup.MkdirAsync("/dir");
        await setup.MkdirAsync("/full");
        await setup.WriteFileAsync("/full/x", "x");
        await setup.SymlinkAsync("file", "/link");
        await setup.MknodAsync("/null", (uint)FileType.CharDevice | 0x1B6, DeviceNumber.Make(1, 3));
        await setup.SetXattrAsync("/file", "user.k", "v"u8.ToArray());
        await ns.MkdirAsync("/ro");
        await ns.MountAsync(new MountSpec("/ro", data) { Flags = MountFlags.ReadOnly });
        return ns;
    }

    public static TheoryData<string> Mutations() =>
    [
        "open-write", "open-rdwr", "open-trunc", "open-creat", "creat-excl", "mkdir", "rmdir", "unlink", "rename",
        "rename-into", "link", "symlink", "mknod", "chmod", "chown", "utimes", "truncate", "setxattr", "removexattr",
    ];

    [Theory]
    [MemberData(nameof(Mutations))]
    public async Task Every_mutation_on_a_ro_mount_is_EROFS(string op)
    {
        var ns = await NamespaceWithReadOnlyDataAsync();
        await ns.MkdirAsync("/rw");
        Func<ValueTask> act = op switch
        {
            "open-write" => async () => await ns.OpenAsync("/ro/file", OpenFlags.WriteOnly),
            "open-rdwr" => async () => await ns.OpenAsync("/ro/file", OpenFlags.ReadWrite),
            "open-trunc" => async () => await ns.OpenAsync("/ro/file", OpenFlags.ReadOnly | OpenFlags.Truncate),
            "open-creat" => async () => await ns.OpenAsync("/ro/new", OpenFlags.WriteOnly | OpenFlags.Create),
            "creat-excl" => async () => await ns.OpenAsync("/ro/new", OpenFlags.ReadOnly | OpenFlags.Create | OpenFlags.Exclusive),
            "mkdir" => () => ns.MkdirAsync("/ro/newdir"),
            "rmdir" => () => ns.RmdirAsync("/ro/dir"),
            "unlink" => () => ns.UnlinkAsync("/ro/file"),
            "rename" => () => ns.RenameAsync("/ro/file", "/ro/file2"),
            "rename-into" => () => ns.RenameAsync("/ro/file", "/ro/dir/file"),
            "link" => () => ns.LinkAsync("/ro/file", "/ro/file3"),
            "symlink" => () => ns.SymlinkAsync("x", "/ro/sl"),
            "mknod" => () => ns.MknodAsync("/ro/fifo", (uint)FileType.Fifo | 0x1A4),
            "chmod" => () => ns.ChmodAsync("/ro/file", 0x1FF),
            "chown" => () => ns.ChownAsync("/ro/file", 1, 1),
            "utimes" => () => ns.UtimesAsync("/ro/file", null, null),
            "truncate" => () => ns.TruncateAsync("/ro/file", 0),
            "setxattr" => () => ns.SetXattrAsync("/ro/file", "user.k", "w"u8.ToArray()),
            "removexattr" => () => ns.RemoveXattrAsync("/ro/file", "user.k"),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
        await ThrowsErrno(Errno.EROFS, act);

        // Nothing changed underneath.
        Assert.Equal("content", await ns.ReadFileAsync("/ro/file"));
        Assert.Equal(["dir", "file", "full", "link", "null"], await ns.NamesAsync("/ro"));
        Assert.Equal("v"u8.ToArray(), await ns.GetXattrAsync("/ro/file", "user.k"));
    }

    [Fact]
    public async Task Reads_and_devices_still_work_on_a_ro_mount()
    {
        var ns = await NamespaceWithReadOnlyDataAsync();
        Assert.Equal("content", await ns.ReadFileAsync("/ro/link"));
        Assert.Equal(["user.k"], await ns.ListXattrAsync("/ro/file"));
        await using (var f = await ns.OpenAsync("/ro/null", OpenFlags.WriteOnly))
        {
            // A device node's data is not the filesystem's, so ro does not stop writes to /dev/null.
            Assert.Equal(3, await f.WriteAsync(Encoding.ASCII.GetBytes("abc")));
        }

        await ThrowsErrno(Errno.EROFS, () => ns.AccessAsync("/ro/file", AccessMode.Write));
        await ns.AccessAsync("/ro/file", AccessMode.Read);

        // Creating a name that exists reports EEXIST first, as Linux does.
        await ThrowsErrno(Errno.EEXIST, () => ns.MkdirAsync("/ro/dir"));

        // O_CREAT without O_EXCL on an existing file, opened read-only, is allowed.
        await using var g = await ns.OpenAsync("/ro/file", OpenFlags.ReadOnly | OpenFlags.Create);
        Assert.Equal("content", await g.ReadAllTextAsync());
    }

    [Fact]
    public async Task Noexec_nodev_nosuid_are_visible_and_enforced()
    {
        var (ns, _) = await NewTmpfsNamespaceAsync();
        await ns.MkdirAsync("/bin");
        await ns.MkdirAsync("/data");
        await ns.MountAsync(new MountSpec("/data", new TmpfsFileSystem()) { Flags = MountFlags.NoExec | MountFlags.NoDev | MountFlags.NoSuid });
        await ns.WriteFileAsync("/bin/tool", "#!");
        await ns.ChmodAsync("/bin/tool", 0x1ED);
        await ns.WriteFileAsync("/data/tool", "#!");
        await ns.ChmodAsync("/data/tool", 0x1ED);
        await ns.MknodAsync("/data/zero", (uint)FileType.CharDevice | 0x1B6, DeviceNumber.Make(1, 5));

        await ns.AccessAsync("/bin/tool", AccessMode.Execute);
        await ThrowsErrno(Errno.EACCES, () => ns.AccessAsync("/data/tool", AccessMode.Execute));
        await using (var f = await ns.OpenAsync("/data/tool", OpenFlags.ReadOnly))
        {
            Assert.False(await f.CanExecuteAsync());
            Assert.Equal(MountFlags.NoExec | MountFlags.NoDev | MountFlags.NoSuid, f.MountFlags);
        }

        await using (var f = await ns.OpenAsync("/bin/tool", OpenFlags.ReadOnly))
        {
            Assert.True(await f.CanExecuteAsync());
        }

        await ThrowsErrno(Errno.EACCES, () => ns.OpenAsync("/data/zero", OpenFlags.ReadOnly));
        Assert.Equal(MountFlags.NoExec | MountFlags.NoDev | MountFlags.NoSuid, await ns.GetMountFlagsAsync("/data/tool"));
        var row = ns.GetMounts().Single(m => m.Destination == "/data");
        Assert.Equal("rw,nosuid,nodev,noexec", row.OptionsString);
    }
}
