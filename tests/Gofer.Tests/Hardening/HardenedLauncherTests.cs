using System.Globalization;
using Gofer.Hardening;

namespace Gofer.Tests.Hardening;

[CollectionDefinition("Hardening", DisableParallelization = true)]
public sealed class HardeningCollection;

/// <summary>
/// The confined child, observed from inside (busybox static: one file to bind) and from the
/// host. Run as root; skipped otherwise.
/// </summary>
[Collection("Hardening")]
public sealed class HardenedLauncherTests
{
    [RootFact]
    public async Task Child_sees_only_the_private_root()
    {
        using var outside = new TempDir();
        File.WriteAllText(outside.Combine("canary"), "secret");
        using var export = new TempDir();
        File.WriteAllText(export.Combine("hello"), "hi");

        var result = await Confined.ShellAsync(
            $"ls -a /; echo ---; ls /exports/0; echo ---; cat {outside.Combine("canary")}; echo ---; ls /etc /work /tmp /root; echo end",
            [new HardenedExport(export.Path, ReadOnly: true)]);

        string[] sections = result.Output.Split("---\n");
        Assert.Equal(4, sections.Length);
        string[] rootEntries = sections[0].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // busybox is bound at its real path (/usr/bin/busybox); nothing else of the host is there.
        Assert.Equal([".", "..", "exports", "proc", "usr"], rootEntries);
        Assert.Equal("hello", sections[1].Trim());
        Assert.Contains("No such file or directory", sections[2], StringComparison.Ordinal);
        Assert.DoesNotContain("secret", result.Output, StringComparison.Ordinal);
        Assert.Contains("/etc", sections[3], StringComparison.Ordinal);
        Assert.DoesNotContain("passwd", sections[3], StringComparison.Ordinal);
        Assert.EndsWith("end\n", result.Output, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task Read_only_export_refuses_writes_with_EROFS()
    {
        using var export = new TempDir();
        File.WriteAllText(export.Combine("existing"), "old");

        var result = await Confined.ShellAsync(
            "echo new > /exports/0/created; echo $?; echo changed > /exports/0/existing; mkdir /exports/0/d; rm /exports/0/existing; true",
            [new HardenedExport(export.Path, ReadOnly: true)]);

        Assert.Contains("Read-only file system", result.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(export.Combine("created")));
        Assert.False(Directory.Exists(export.Combine("d")));
        Assert.Equal("old", File.ReadAllText(export.Combine("existing")));
    }

    [RootFact]
    public async Task Read_write_export_accepts_writes_that_land_on_the_host()
    {
        using var readOnly = new TempDir();
        using var readWrite = new TempDir();

        var result = await Confined.ShellAsync(
            "echo data > /exports/1/out && mkdir /exports/1/dir && echo ok",
            [new HardenedExport(readOnly.Path, ReadOnly: true), new HardenedExport(readWrite.Path, ReadOnly: false)]);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("ok\n", result.Output);
        Assert.Equal("data\n", File.ReadAllText(readWrite.Combine("out")));
        Assert.True(Directory.Exists(readWrite.Combine("dir")));
    }

    [RootFact]
    public async Task Private_root_itself_is_read_only()
    {
        using var export = new TempDir();
        var result = await Confined.ShellAsync("mkdir /newdir; echo x > /file; echo x > /proc/sys/kernel/hostname; echo done", [new HardenedExport(export.Path, ReadOnly: false)]);

        Assert.Equal(3, CountOccurrences(result.Output, "Read-only file system"));
        Assert.EndsWith("done\n", result.Output, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task Capabilities_are_reduced_to_the_serving_set_and_no_new_privs_is_set()
    {
        using var export = new TempDir();
        var result = await Confined.ShellAsync("cat /proc/self/status", [new HardenedExport(export.Path, ReadOnly: true)]);

        Dictionary<string, string> status = ParseStatus(result.Output);
        ulong expected = ServingCapabilities.Mask(ServingCapabilities.Default);
        Assert.Equal(expected, Hex(status["CapBnd"]));
        Assert.Equal(expected, Hex(status["CapPrm"]));
        Assert.Equal(expected, Hex(status["CapEff"]));
        Assert.Equal(0UL, Hex(status["CapInh"]));
        Assert.Equal(0UL, Hex(status["CapAmb"]));
        Assert.Equal("1", status["NoNewPrivs"]);
        Assert.Equal(0x1FUL & ~(1UL << 2), expected); // CHOWN, DAC_OVERRIDE, FOWNER, FSETID: not DAC_READ_SEARCH
    }

    [RootFact]
    public async Task Retained_capabilities_are_configurable()
    {
        using var export = new TempDir();
        var result = await Confined.ShellAsync(
            "cat /proc/self/status",
            [new HardenedExport(export.Path, ReadOnly: true)],
            b => b.RetainedCapabilities = [Capability.DacOverride]);

        Assert.Equal(1UL << (int)Capability.DacOverride, Hex(ParseStatus(result.Output)["CapEff"]));
    }

    [RootFact]
    public async Task Child_is_init_of_its_own_pid_namespace_and_sees_no_host_process()
    {
        using var export = new TempDir();
        var result = await Confined.ShellAsync("echo pid=$$; ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '", [new HardenedExport(export.Path, ReadOnly: true)]);

        // PID 1 is the namespace's placeholder init; the child is PID 2.
        Assert.StartsWith("pid=2\n", result.Output, StringComparison.Ordinal);
        int[] pids = [.. result.Output.Split('\n')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse)];
        Assert.Contains(1, pids);
        Assert.Contains(2, pids);
        Assert.All(pids, p => Assert.True(p < 10, $"pid {p} is not one of the child's own"));
        Assert.True(result.Child.Pid > 1);
    }

    [RootFact]
    public async Task The_namespace_init_is_out_of_the_childs_reach()
    {
        using var export = new TempDir();
        // init holds more capabilities than the child and was made non-dumpable: its root,
        // descriptors (it shares the supervisor's table) and memory must stay closed to the
        // child. Listing /proc/1/fd is allowed by procfs (uid match) and shows numbers only.
        var result = await Confined.ShellAsync(
            "ls /proc/1/root/; echo rc=$?; readlink /proc/1/fd/1 || echo rc=1; cat /proc/1/fd/1; echo rc=$?; cat /proc/1/maps; echo rc=$?",
            [new HardenedExport(export.Path, ReadOnly: true)]);

        Assert.True(CountOccurrences(result.Output, "rc=1") == 4, result.Output);
        Assert.Contains("Permission denied", result.Output, StringComparison.Ordinal);
        Assert.Equal(0, result.ExitCode);
    }

    [RootFact]
    public async Task Child_has_its_own_network_namespace()
    {
        using var export = new TempDir();
        var result = await Confined.ShellAsync("cat /proc/net/dev", [new HardenedExport(export.Path, ReadOnly: true)]);

        string[] interfaces = [.. result.Output.Split('\n').Skip(2).Where(l => l.Contains(':', StringComparison.Ordinal)).Select(l => l.Split(':')[0].Trim())];
        Assert.Equal(["lo"], interfaces);
    }

    [RootFact]
    public async Task Parent_mount_namespace_is_unchanged_and_nothing_is_left_on_the_host()
    {
        using var export = new TempDir();
        string before = File.ReadAllText("/proc/self/mountinfo");
        string threadBefore = File.ReadAllText("/proc/thread-self/mountinfo");
        string cwd = Directory.GetCurrentDirectory();

        var result = await Confined.ShellAsync("ls /exports/0; echo ran", [new HardenedExport(export.Path, ReadOnly: false)]);

        Assert.Equal("ran\n", result.Output);
        Assert.Equal(before, File.ReadAllText("/proc/self/mountinfo"));
        Assert.Equal(threadBefore, File.ReadAllText("/proc/thread-self/mountinfo"));
        Assert.Equal(cwd, Directory.GetCurrentDirectory());
        Assert.DoesNotContain(export.Path, File.ReadAllText("/proc/self/mountinfo"), StringComparison.Ordinal);
        Assert.True(Directory.Exists("/etc"), "the test process must still see the host root");
        Assert.Empty(Directory.GetFileSystemEntries(export.Path));
    }

    [RootFact]
    public async Task Read_only_applies_to_submounts_of_an_export()
    {
        using var export = new TempDir();
        string sub = export.Combine("sub");
        Directory.CreateDirectory(sub);
        Assert.Equal(0, Mount("tmpfs", sub, "tmpfs", 0, null));
        try
        {
            var result = await Confined.ShellAsync("echo x > /exports/0/sub/f; echo rc=$?", [new HardenedExport(export.Path, ReadOnly: true)]);

            Assert.Contains("Read-only file system", result.Output, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(sub, "f")));
        }
        finally
        {
            Assert.Equal(0, Umount2(sub, 2));
        }
    }

    [RootFact]
    public async Task Only_the_listed_descriptors_reach_the_child_at_their_numbers()
    {
        using var export = new TempDir();
        using var channel = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.In, System.IO.HandleInheritability.None);
        int write = (int)channel.ClientSafePipeHandle.DangerousGetHandle();
        // A descriptor the runtime did not mark close-on-exec must still not leak.
        int leaky = Dup(write);
        Assert.True(leaky > 0);
        Confined.Result result;
        try
        {
            result = await Confined.ShellAsync(
                "echo via-fd-7 >&7; ls /proc/self/fd | tr '\\n' ' '",
                [new HardenedExport(export.Path, ReadOnly: true)],
                b => b.ExtraFds.Add(new FdMapping(write, 7)));
        }
        finally
        {
            _ = Close(leaky);
            channel.DisposeLocalCopyOfClientHandle();
        }

        using var reader = new StreamReader(channel);
        Assert.Equal("via-fd-7\n", await reader.ReadToEndAsync().WaitAsync(Confined.Patience));

        // busybox ls has closed the directory it read before it prints the listing.
        int[] fds = [.. result.Output.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse)];
        Assert.Equal([0, 1, 2, 7], fds.Order());
    }

    [RootFact]
    public async Task A_missing_export_source_fails_before_anything_runs()
    {
        using var parent = new TempDir();
        var error = await Assert.ThrowsAsync<HardeningException>(() => Confined.ShellAsync("echo should-not-run", [new HardenedExport(parent.Combine("absent"), ReadOnly: true)]));
        Assert.Contains("export source", error.Message, StringComparison.Ordinal);
    }

    [RootFact]
    public void Refuses_to_start_without_CAP_SYS_ADMIN()
    {
        using var export = new TempDir();
        Exception? failure = null;
        // Capabilities are per thread: drop CAP_SYS_ADMIN from this thread's effective set only.
        var thread = new Thread(() =>
        {
            try
            {
                DropEffective(Capability.SysAdmin);
                HardenedLauncher.Start(new HardenedLaunchSpec
                {
                    Exports = [new HardenedExport(export.Path, ReadOnly: true)],
                    Executable = Confined.Busybox,
                    Arguments = ["busybox", "true"],
                });
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        Assert.True(thread.Join(Confined.Patience));

        var error = Assert.IsType<HardeningException>(failure);
        Assert.Contains("CAP_SYS_ADMIN", error.Message, StringComparison.Ordinal);
        Assert.Contains("refusing to serve unconfined", error.Message, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task Terminate_ends_a_child_that_ignores_SIGTERM()
    {
        using var export = new TempDir();
        using var pipe = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.In, System.IO.HandleInheritability.None);
        int write = (int)pipe.ClientSafePipeHandle.DangerousGetHandle();
        HardenedChild child = HardenedLauncher.Start(new HardenedLaunchSpec
        {
            Exports = [new HardenedExport(export.Path, ReadOnly: true)],
            Executable = Confined.Busybox,
            Arguments = ["busybox", "sh", "-c", "trap '' TERM; echo up; exec busybox sleep 600"],
            InheritedFds = [new FdMapping(write, 1)],
        });
        pipe.DisposeLocalCopyOfClientHandle();
        using var reader = new StreamReader(pipe);
        Assert.Equal("up", await reader.ReadLineAsync());

        int exit = await child.TerminateAsync(TimeSpan.FromSeconds(1)).WaitAsync(Confined.Patience);
        Assert.Equal(128 + 9, exit);
        Assert.False(child.Signal(0), "a reaped child must not be signalled");
    }

    [RootFact]
    public async Task SIGTERM_reaches_the_child_and_the_namespace_init_goes_with_it()
    {
        using var export = new TempDir();
        using var pipe = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.In, System.IO.HandleInheritability.None);
        int write = (int)pipe.ClientSafePipeHandle.DangerousGetHandle();
        HardenedChild child = HardenedLauncher.Start(new HardenedLaunchSpec
        {
            Exports = [new HardenedExport(export.Path, ReadOnly: true)],
            Executable = Confined.Busybox,
            Arguments = ["busybox", "sh", "-c", "echo up; exec busybox sleep 600"],
            InheritedFds = [new FdMapping(write, 1)],
        });
        pipe.DisposeLocalCopyOfClientHandle();
        using var reader = new StreamReader(pipe);
        Assert.Equal("up", await reader.ReadLineAsync());
        Assert.True(child.InitPid > 0);
        Assert.True(Directory.Exists($"/proc/{child.InitPid}"));

        Assert.True(child.Signal(15));
        Assert.Equal(128 + 15, await child.WaitForExitAsync().WaitAsync(Confined.Patience));
        Assert.False(Directory.Exists($"/proc/{child.InitPid}"), "the namespace's init must be killed and reaped");
    }

    internal static Dictionary<string, string> ParseStatus(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(':', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1].Trim());

    private static ulong Hex(string value) => ulong.Parse(value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static int CountOccurrences(string text, string what)
    {
        int count = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static unsafe void DropEffective(Capability capability)
    {
        var header = new Gofer.Hardening.Native.Libc.CapHeader { Version = 0x20080522, Pid = 0 };
        var data = stackalloc Gofer.Hardening.Native.Libc.CapData[2];
        Assert.Equal(0, Gofer.Hardening.Native.Libc.CapGet(&header, data));
        data[(int)capability / 32].Effective &= ~(1u << ((int)capability % 32));
        Assert.Equal(0, Gofer.Hardening.Native.Libc.CapSet(&header, data));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mount", SetLastError = true)]
    private static extern int Mount(string source, string target, string type, ulong flags, string? data);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "umount2", SetLastError = true)]
    private static extern int Umount2(string target, int flags);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static extern int Dup(int fd);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int Close(int fd);
}

[Collection("Hardening")]
public sealed class SeccompAndRepetitionTests
{
    [RootFact]
    public async Task Seccomp_filter_is_installed_and_refuses_namespace_escapes_even_with_CAP_SYS_ADMIN()
    {
        if (SeccompDenyList.ForCurrentArchitecture() is null)
        {
            return; // no syscall table for this architecture yet: nothing to check
        }

        using var export = new TempDir();
        // Keep CAP_SYS_ADMIN on purpose: only the filter can be what refuses unshare then.
        var filtered = await Confined.ShellAsync(
            "grep -E '^Seccomp' /proc/self/status; busybox unshare -m true; echo rc=$?",
            [new HardenedExport(export.Path, ReadOnly: true)],
            b => b.RetainedCapabilities = [.. ServingCapabilities.Default, Capability.SysAdmin]);
        Assert.Contains("Seccomp:\t2", filtered.Output, StringComparison.Ordinal);
        Assert.Contains("Operation not permitted", filtered.Output, StringComparison.Ordinal);
        Assert.Contains("rc=1", filtered.Output, StringComparison.Ordinal);

        var unfiltered = await Confined.ShellAsync(
            "busybox unshare -m true; echo rc=$?",
            [new HardenedExport(export.Path, ReadOnly: true)],
            b =>
            {
                b.RetainedCapabilities = [.. ServingCapabilities.Default, Capability.SysAdmin];
                b.Seccomp = false;
            });
        Assert.Equal("rc=0\n", unfiltered.Output);
    }

    [RootFact]
    public async Task Many_launches_in_a_row_keep_working()
    {
        // Past the runtime's tier-up call-count threshold (30): nothing the confining thread
        // runs may start compiling or create a thread from inside the new namespaces.
        using var export = new TempDir();
        for (int i = 0; i < 40; i++)
        {
            var result = await Confined.ShellAsync("echo $$", [new HardenedExport(export.Path, ReadOnly: true)]);
            Assert.Equal("2\n", result.Output);
        }

        Assert.True(Directory.Exists("/etc"));
    }
}
