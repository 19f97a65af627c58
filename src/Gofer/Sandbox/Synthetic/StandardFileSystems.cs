using Gofer.Sandbox.Devices;
using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;

namespace Gofer.Sandbox.Synthetic;

/// <summary>The sandbox-internal filesystems runsc always mounts: /proc, /sys, /dev, /dev/pts.</summary>
internal static class StandardFileSystems
{
    public const string KernelVersion = "Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016 (gofer sandbox)";

    /// <summary>A minimal procfs: version, mounts (-> self/mounts), self/mounts, filesystems.</summary>
    /// <param name="ns">The namespace whose mount table the files show; read at every open.</param>
    public static SyntheticFileSystem CreateProc(Func<MountNamespace?> ns)
    {
        var proc = new SyntheticFileSystem("proc", FsMagic.Proc);
        var root = proc.RootDir;
        root.AddFile("version", () => KernelVersion + "\n");
        root.AddFile("filesystems", () => "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevpts\nnodev\toverlay\nnodev\t9p\n");

        // Linux has /proc/mounts as a symlink to self/mounts; keep that shape so tools that readlink it agree.
        root.AddSymlink("mounts", "self/mounts");
        var self = root.AddDir("self");
        self.AddFile("mounts", () => ns()?.FormatProcMounts() ?? string.Empty);
        return proc;
    }

    /// <summary>A sysfs skeleton of the usual top-level directories, all empty.</summary>
    public static SyntheticFileSystem CreateSys()
    {
        var sys = new SyntheticFileSystem("sysfs", FsMagic.Sysfs);
        foreach (var d in new[] { "block", "bus", "class", "dev", "devices", "firmware", "fs", "kernel", "module" })
        {
            sys.RootDir.AddDir(d);
        }

        return sys;
    }

    public static SyntheticFileSystem CreateDevpts() => new("devpts", FsMagic.Devpts, 0x1ED);

    /// <summary>
    /// /dev as a tmpfs with the memory devices (opened through <see cref="DeviceRegistry"/>), the usual links
    /// to /proc/self/fd, and empty pts and shm directories.
    /// </summary>
    public static async ValueTask<TmpfsFileSystem> CreateDevAsync(CancellationToken ct = default)
    {
        var dev = new TmpfsFileSystem(new TmpfsOptions { TypeName = "devtmpfs", RootMode = 0x1ED });
        var root = dev.Root;
        var owner = Credentials.Root;
        uint chr666 = Mode.Make(FileType.CharDevice, 0x1B6);
        await root.MknodAsync("null", chr666, DeviceNumber.Make(1, 3), owner, ct).ConfigureAwait(false);
        await root.MknodAsync("zero", chr666, DeviceNumber.Make(1, 5), owner, ct).ConfigureAwait(false);
        await root.MknodAsync("full", chr666, DeviceNumber.Make(1, 7), owner, ct).ConfigureAwait(false);
        await root.MknodAsync("random", chr666, DeviceNumber.Make(1, 8), owner, ct).ConfigureAwait(false);
        await root.MknodAsync("urandom", chr666, DeviceNumber.Make(1, 9), owner, ct).ConfigureAwait(false);
        await root.SymlinkAsync("fd", "/proc/self/fd", owner, ct).ConfigureAwait(false);
        await root.SymlinkAsync("stdin", "/proc/self/fd/0", owner, ct).ConfigureAwait(false);
        await root.SymlinkAsync("stdout", "/proc/self/fd/1", owner, ct).ConfigureAwait(false);
        await root.SymlinkAsync("stderr", "/proc/self/fd/2", owner, ct).ConfigureAwait(false);
        await root.MkdirAsync("pts", 0x1ED, owner, ct).ConfigureAwait(false);
        await root.MkdirAsync("shm", 0x3FF, owner, ct).ConfigureAwait(false);
        return dev;
    }
}
