using System.Text.RegularExpressions;

namespace Gofer.Interop.Tests.Run;

/// <summary>
/// <c>gofer run</c> end to end, as a separate process, on temp copies of examples/bundle and examples/pod.
/// </summary>
public class GoferRunTests
{
    // Remove these Skips when `gofer serve --bundle` serves (helper `server`): until then the launch fails and gofer
    // run shows in-memory copies of the host sources, so writes cannot reach the host and host changes are not seen.

    private static async Task<GoferRunProcess.Result> RunBundleAsync(string bundle, string stdin, params string[] command) =>
        await GoferRunProcess.RunAsync(["run", "--bundle", bundle, "--", .. command], stdin);

    [Fact]
    public async Task LsLongRoot_ListsTheRootfsAndEveryMountPoint()
    {
        var (root, bundle) = GoferRunProcess.CopyExample("bundle");
        try
        {
            var r = await RunBundleAsync(bundle, string.Empty, "ls", "-l", "/");
            Assert.True(r.Status == 0, r.Err);
            var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.StartsWith("total ", lines[0], StringComparison.Ordinal);
            foreach (var name in new[] { "data", "dev", "etc", "home", "proc", "scratch", "sys", "tmp", "work" })
            {
                Assert.Contains(lines, l => Regex.IsMatch(l, @"^d[rwxst-]{9} +\d+ \S+ +\S+ +\d+ .* " + name + "$"));
            }
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task Commands_CatStatTreeMounts()
    {
        var (root, bundle) = GoferRunProcess.CopyExample("bundle");
        try
        {
            var script = "cat /etc/hostname\nstat /home/user/hello.txt\ntree /data\nmounts\n";
            var r = await RunBundleAsync(bundle, script, "sh");
            Assert.True(r.Status == 0, r.Err);
            Assert.Contains(File.ReadAllText(Path.Combine(bundle, "rootfs", "etc", "hostname")), r.Out, StringComparison.Ordinal);
            Assert.Contains("  File: /home/user/hello.txt\n", r.Out, StringComparison.Ordinal);
            Assert.Contains("/data\n└── readme.txt\n\n0 directories, 1 file\n", r.Out, StringComparison.Ordinal);
            Assert.Matches(new Regex(@"(?m)^/ +\S+ +" + Regex.Escape(Path.Combine(bundle, "rootfs")) + @" +0 +exclusive +rw$"), r.Out);
            Assert.Matches(new Regex(@"(?m)^/work +\S+ +" + Regex.Escape(Path.Combine(bundle, "work")) + @" +1 +exclusive +rw$"), r.Out);
            Assert.Matches(new Regex(@"(?m)^/data +\S+ +" + Regex.Escape(Path.Combine(bundle, "data-ro")) + @" +2 +remote_revalidating +ro,nosuid,nodev$"), r.Out);
            Assert.Matches(new Regex(@"(?m)^/scratch +tmpfs +\S+ +- +- +rw,noexec"), r.Out);
            Assert.Matches(new Regex(@"(?m)^/tmp +tmpfs +tmpfs +- +- +rw,mode=01777$"), r.Out);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task ReadOnlyBind_RefusesWrites_WithTheMessage_AndStatus1()
    {
        var (root, bundle) = GoferRunProcess.CopyExample("bundle");
        try
        {
            var r = await RunBundleAsync(bundle, string.Empty, "write", "/data/x", "text");
            Assert.Equal(1, r.Status);
            Assert.Contains("write: cannot create '/data/x': Read-only file system", r.Err, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(bundle, "data-ro", "x")));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task ExitStatuses_ErrorIs1_UsageIs2_UnknownIs127()
    {
        var (root, bundle) = GoferRunProcess.CopyExample("bundle");
        try
        {
            var missing = await RunBundleAsync(bundle, string.Empty, "ls", "/nope");
            Assert.Equal(1, missing.Status);
            Assert.Contains("ls: cannot access '/nope': No such file or directory", missing.Err, StringComparison.Ordinal);
            Assert.Equal(2, (await RunBundleAsync(bundle, string.Empty, "truncate", "/work/notes.txt")).Status);
            Assert.Equal(127, (await RunBundleAsync(bundle, string.Empty, "frob")).Status);
            Assert.Equal(2, (await GoferRunProcess.RunAsync(["run", "--bundle", bundle, "--pod", bundle, "--", "ls"])).Status);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task SandboxTmp_IsNotTheHostsTmp()
    {
        var (root, bundle) = GoferRunProcess.CopyExample("bundle");
        var name = "gofer-run-probe-" + Guid.NewGuid().ToString("N");
        try
        {
            var r = await RunBundleAsync(bundle, $"write /tmp/{name} inside\nls /tmp\ncat /tmp/{name}\n", "sh");
            Assert.True(r.Status == 0, r.Err);
            Assert.Equal($"{name}\ninside\n", r.Out);
            Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), name)));
            Assert.False(File.Exists(Path.Combine("/tmp", name)));

            // A new sandbox starts with an empty /tmp of its own.
            var again = await RunBundleAsync(bundle, string.Empty, "ls", "-a", "/tmp");
            Assert.Equal(".\n..\n", again.Out);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task Pod_FileWrittenThroughC1_IsReadThroughC2()
    {
        var (root, pod) = GoferRunProcess.CopyExample("pod");
        try
        {
            var script = "write c1:/shared/msg 'hello from c1'\ncat c2:/mnt/shared/msg\ncat c2:/etc/hostname\ncat /__runsc_containers__/c2/mnt/shared/msg\n";
            var r = await GoferRunProcess.RunAsync(["run", "--pod", Path.Combine(pod, "c1"), Path.Combine(pod, "c2"), "--", "sh"], script);
            Assert.True(r.Status == 0, r.Err);
            Assert.Equal("hello from c1\nc2\nhello from c1\n", r.Out);

            var viaFile = await GoferRunProcess.RunAsync(["run", "--pod-file", Path.Combine(pod, "pod.txt"), "--", "cat", "c2:/etc/hostname", "/etc/hostname"]);
            Assert.Equal("c2\nc1\n", viaFile.Out);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task WritesToTheReadWriteBind_LandOnTheHost()
    {
        var (root, bundle) = GoferRunProcess.CopyExample("bundle");
        try
        {
            var r = await RunBundleAsync(bundle, "write /work/new.txt made inside\nappend /work/notes.txt more\nmkdir /work/d\n", "sh");
            Assert.True(r.Status == 0, r.Err);
            Assert.Equal("made inside\n", File.ReadAllText(Path.Combine(bundle, "work", "new.txt")));
            Assert.EndsWith("more\n", File.ReadAllText(Path.Combine(bundle, "work", "notes.txt")), StringComparison.Ordinal);
            Assert.True(Directory.Exists(Path.Combine(bundle, "work", "d")));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task HostChanges_ShowUnderTheRemoteRevalidatingBind()
    {
        // /data is remote_revalidating (a bind without a hint). One sandbox session reads it, the host changes it,
        // the same session reads again: the change must show. A marker file sequences the two sides.
        var (root, bundle) = GoferRunProcess.CopyExample("bundle");
        try
        {
            var readme = Path.Combine(bundle, "data-ro", "readme.txt");
            var before = File.ReadAllText(readme);
            var gofer = Gofer.Runtime.GoferCommand.Current();
            var psi = new System.Diagnostics.ProcessStartInfo(gofer.FileName)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in gofer.PrefixArguments.Concat(["run", "--bundle", bundle, "--", "sh"]))
            {
                psi.ArgumentList.Add(a);
            }

            using var p = System.Diagnostics.Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            await p.StandardInput.WriteLineAsync("cat /data/readme.txt\necho ---");
            await p.StandardInput.FlushAsync();
            var seen = new System.Text.StringBuilder();
            string? line;
            while ((line = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(3))) is not null && line != "---")
            {
                seen.Append(line).Append('\n');
            }

            Assert.Equal(before, seen.ToString());
            File.WriteAllText(readme, "changed on the host\n");
            File.WriteAllText(Path.Combine(bundle, "data-ro", "added.txt"), "new\n");
            await p.StandardInput.WriteLineAsync("cat /data/readme.txt /data/added.txt\nexit");
            p.StandardInput.Close();
            var rest = await p.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromMinutes(3));
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            Assert.True(p.ExitCode == 0, await stderr);
            Assert.Equal("changed on the host\nnew\n", rest);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }
}
