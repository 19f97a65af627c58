using System.Text;
using Gofer.Sandbox.Synthetic;
using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;
using static Gofer.Tests.Sandbox.VfsTestHelpers;

namespace Gofer.Tests.Sandbox;

public class MountPlanTests
{
    private static async Task<MountNamespace> SandboxAsync(TmpfsFileSystem rootfs, bool overlay, MountFlags rootFlags = MountFlags.None)
    {
        var ns = await MountNamespace.CreateAsync(new MountSpec("/", rootfs) { Overlay = overlay, Flags = rootFlags, Source = "rootfs", ExtraOptions = ["rfdno=3", "wfdno=3"] });
        var specs = new List<MountSpec>(await ns.StandardMountsAsync());
        specs.Add(new MountSpec("/data/volume", new TmpfsFileSystem()) { Source = "/host/vol", ExtraOptions = ["rfdno=4", "cache=remote_revalidating"] });
        specs.Add(MountNamespace.TmpSpec());
        await ns.ApplyMountsAsync(specs);
        return ns;
    }

    [Fact]
    public async Task Synthetic_mount_points_over_a_read_only_root_without_overlay()
    {
        // The rootfs has none of the destinations and refuses writes: every mount point must be synthetic.
        var rootfs = await ReadOnlyLowerAsync(async l => await l.WriteFileAsync("/hello", "world"));
        var ns = await SandboxAsync(rootfs, overlay: false, MountFlags.ReadOnly);

        Assert.Equal(["/", "/proc", "/sys", "/dev", "/dev/pts", "/data/volume", "/tmp"], ns.GetMounts().Select(m => m.Destination));
        Assert.Equal(["data", "dev", "hello", "proc", "sys", "tmp"], await ns.NamesAsync("/"));
        Assert.Equal(FileType.Directory, (await ns.StatAsync("/data")).Type);
        Assert.Equal(["volume"], await ns.NamesAsync("/data"));
        await ns.WriteFileAsync("/data/volume/f", "v");
        await ns.WriteFileAsync("/tmp/t", "t");

        // The root stays read-only; synthetic directories are not real ones.
        await ThrowsErrno(Errno.EROFS, () => ns.MkdirAsync("/data/x"));
        await ThrowsErrno(Errno.EBUSY, () => ns.RmdirAsync("/data/volume"));
        Assert.Equal(["hello"], await LowerNamesAsync(rootfs));
    }

    private static async Task<string[]> LowerNamesAsync(TmpfsFileSystem fs) =>
        await (await MountNamespace.CreateAsync(new MountSpec("/", fs))).NamesAsync("/");

    [Fact]
    public async Task Mount_points_go_to_the_overlay_upper_when_the_root_has_an_overlay()
    {
        var rootfs = await ReadOnlyLowerAsync(async l => await l.MkdirAsync("/etc"));
        var ns = await SandboxAsync(rootfs, overlay: true);
        Assert.Equal(["data", "dev", "etc", "proc", "sys", "tmp"], await ns.NamesAsync("/"));

        // A real directory in the upper layer: it can hold other entries beside the mount.
        await ns.MkdirAsync("/data/other");
        Assert.Equal(["other", "volume"], await ns.NamesAsync("/data"));
        Assert.Equal(["etc"], await LowerNamesAsync(rootfs));
    }

    [Fact]
    public async Task Tmp_is_mounted_only_if_missing_or_empty()
    {
        var empty = await ReadOnlyLowerAsync(async l => await l.MkdirAsync("/tmp"));
        var ns1 = await MountNamespace.CreateAsync(new MountSpec("/", empty) { Overlay = true });
        var r1 = await ns1.ApplyMountsAsync([MountNamespace.TmpSpec()]);
        Assert.True(r1[0].Mounted);
        Assert.Equal("tmpfs", ns1.GetMounts().Single(m => m.Destination == "/tmp").Type);
        Assert.Equal(0x3FFu, (await ns1.StatAsync("/tmp")).Perm); // 01777

        var full = await ReadOnlyLowerAsync(async l =>
        {
            await l.MkdirAsync("/tmp");
            await l.WriteFileAsync("/tmp/precious", "keep me");
        });
        var ns2 = await MountNamespace.CreateAsync(new MountSpec("/", full) { Overlay = true });
        var r2 = await ns2.ApplyMountsAsync([MountNamespace.TmpSpec()]);
        Assert.False(r2[0].Mounted);
        Assert.Equal("exists and is not empty", r2[0].SkippedBecause);
        Assert.Equal("keep me", await ns2.ReadFileAsync("/tmp/precious"));
        Assert.Single(ns2.GetMounts());

        var file = await ReadOnlyLowerAsync(async l => await l.WriteFileAsync("/tmp", "not a dir"));
        var ns3 = await MountNamespace.CreateAsync(new MountSpec("/", file));
        Assert.False((await ns3.ApplyMountsAsync([MountNamespace.TmpSpec()]))[0].Mounted);

        var missing = await ReadOnlyLowerAsync(_ => Task.CompletedTask);
        var ns4 = await MountNamespace.CreateAsync(new MountSpec("/", missing));
        Assert.True((await ns4.ApplyMountsAsync([MountNamespace.TmpSpec()]))[0].Mounted);
        await ns4.WriteFileAsync("/tmp/x", "x");
    }

    [Fact]
    public async Task Mount_table_and_proc_mounts_show_flags_and_extra_options()
    {
        var rootfs = await ReadOnlyLowerAsync(_ => Task.CompletedTask);
        var ns = await SandboxAsync(rootfs, overlay: true);
        var vol = ns.GetMounts().Single(m => m.Destination == "/data/volume");
        Assert.Equal("/host/vol", vol.Source);
        Assert.Equal("rw,rfdno=4,cache=remote_revalidating", vol.OptionsString);
        Assert.Equal(["rfdno=4", "cache=remote_revalidating"], vol.ExtraOptions);

        string procMounts = await ns.ReadFileAsync("/proc/mounts");
        string[] lines = procMounts.TrimEnd('\n').Split('\n');
        Assert.Equal(7, lines.Length);
        Assert.Equal("rootfs / overlay rw,rfdno=3,wfdno=3 0 0", lines[0]);
        Assert.Contains("proc /proc proc rw,nosuid,nodev,noexec 0 0", lines);
        Assert.Contains("sysfs /sys sysfs ro,nosuid,nodev,noexec 0 0", lines);
        Assert.Contains("/host/vol /data/volume tmpfs rw,rfdno=4,cache=remote_revalidating 0 0", lines);
        Assert.Contains("tmpfs /tmp tmpfs rw,mode=1777 0 0", lines);
        Assert.Equal(procMounts, await ns.ReadFileAsync("/proc/self/mounts"));
        Assert.Equal("self/mounts", await ns.ReadLinkAsync("/proc/mounts"));
        Assert.StartsWith("Linux version", await ns.ReadFileAsync("/proc/version"));

        // Generated at open: a later mount shows up.
        await ns.MkdirAsync("/late");
        await ns.MountAsync(new MountSpec("/late", new TmpfsFileSystem()) { Source = "late" });
        Assert.Contains("late /late tmpfs rw 0 0", await ns.ReadFileAsync("/proc/mounts"));
        await ThrowsErrno(Errno.EACCES, () => ns.OpenAsync("/proc/version", OpenFlags.WriteOnly));
        await ThrowsErrno(Errno.EPERM, () => ns.MkdirAsync("/proc/x"));
    }

    [Fact]
    public async Task Sys_and_dev_pts_exist_as_directories()
    {
        var rootfs = await ReadOnlyLowerAsync(_ => Task.CompletedTask);
        var ns = await SandboxAsync(rootfs, overlay: false);
        Assert.Contains("devices", await ns.NamesAsync("/sys"));
        Assert.Empty(await ns.ReadDirAsync("/sys/devices"));
        Assert.Empty(await ns.ReadDirAsync("/dev/pts"));
        Assert.Equal(FsMagic.Devpts, (await ns.StatFsAsync("/dev/pts")).Type);
        Assert.Equal(FsMagic.Sysfs, (await ns.StatFsAsync("/sys/kernel")).Type);
        await ThrowsErrno(Errno.EROFS, () => ns.MkdirAsync("/sys/new"));
    }

    [Fact]
    public async Task Dev_nodes_behave_like_linux()
    {
        var rootfs = await ReadOnlyLowerAsync(_ => Task.CompletedTask);
        var ns = await SandboxAsync(rootfs, overlay: false);
        var buf = new byte[64];

        await using (var n = await ns.OpenAsync("/dev/null", OpenFlags.ReadWrite))
        {
            Assert.Equal(5, await n.WriteAsync("hello"u8.ToArray()));
            Assert.Equal(0, await n.ReadAsync(buf));
        }

        await using (var z = await ns.OpenAsync("/dev/zero", OpenFlags.ReadWrite))
        {
            Array.Fill(buf, (byte)0xAA);
            Assert.Equal(64, await z.ReadAsync(buf));
            Assert.All(buf, b => Assert.Equal(0, b));
            Assert.Equal(3, await z.WriteAsync("abc"u8.ToArray()));
        }

        await using (var f = await ns.OpenAsync("/dev/full", OpenFlags.ReadWrite))
        {
            await ThrowsErrno(Errno.ENOSPC, () => f.WriteAsync("x"u8.ToArray()));
            Array.Fill(buf, (byte)0xAA);
            Assert.Equal(64, await f.ReadAsync(buf));
            Assert.All(buf, b => Assert.Equal(0, b));
        }

        foreach (var name in new[] { "/dev/random", "/dev/urandom" })
        {
            await using var r = await ns.OpenAsync(name, OpenFlags.ReadOnly);
            var a = new byte[32];
            var b = new byte[32];
            Assert.Equal(32, await r.ReadAsync(a));
            Assert.Equal(32, await r.ReadAsync(b));

            // 2^-256 chance of a false failure.
            Assert.NotEqual(a, b);
        }

        var st = await ns.StatAsync("/dev/null");
        Assert.Equal(FileType.CharDevice, st.Type);
        Assert.Equal(Gofer.Sandbox.Devices.DeviceNumber.Make(1, 3), st.Rdev);
        Assert.Equal(1u, Gofer.Sandbox.Devices.DeviceNumber.Major(st.Rdev));
        Assert.Equal(3u, Gofer.Sandbox.Devices.DeviceNumber.Minor(st.Rdev));
        Assert.Equal("/proc/self/fd", await ns.ReadLinkAsync("/dev/fd"));
        Assert.Equal("devtmpfs", ns.GetMounts().Single(m => m.Destination == "/dev").Type);

        // An unknown device number opens nothing.
        await ns.MknodAsync("/dev/weird", (uint)FileType.CharDevice | 0x1B6, Gofer.Sandbox.Devices.DeviceNumber.Make(250, 1));
        await ThrowsErrno(Errno.ENXIO, () => ns.OpenAsync("/dev/weird", OpenFlags.ReadOnly));
    }

    [Fact]
    public async Task Mount_point_through_a_symlink_and_nested_missing_dirs()
    {
        var rootfs = await ReadOnlyLowerAsync(async l =>
        {
            await l.MkdirAsync("/real");
            await l.SymlinkAsync("/real", "/alias");
        });
        var ns = await MountNamespace.CreateAsync(new MountSpec("/", rootfs));
        await ns.ApplyMountsAsync([new MountSpec("/alias/a/b/c", new TmpfsFileSystem())]);
        await ns.WriteFileAsync("/real/a/b/c/f", "deep");
        Assert.Equal("deep", await ns.ReadFileAsync("/alias/a/b/c/f"));
        Assert.Equal("/real/a/b/c", ns.GetMounts()[1].Destination);
        Assert.Equal(["a"], await ns.NamesAsync("/real"));

        await Assert.ThrowsAsync<VfsException>(async () => await ns.ApplyMountsAsync([new MountSpec("relative", new TmpfsFileSystem())]));
    }
}
