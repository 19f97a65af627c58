using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Gofer.Runtime;
using Gofer.Runtime.Native;

namespace Gofer.Tests.Runtime;

public sealed class ProcessSpawnerTests
{
    // Generous: CI machines are small and loaded. Only a bound on waits, never an assertion on speed.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Child_has_exactly_0_1_2_and_the_inherited_sockets_at_3_and_up()
    {
        var pairs = Enumerable.Range(0, 4).Select(_ => Descriptors.CreateSocketPair()).ToList();
        var leaky = CreateInheritablePipe();
        try
        {
            await using var child = ProcessSpawner.Spawn(new SpawnOptions
            {
                FileName = "/bin/sleep",
                Arguments = ["600"],
                InheritedFds = pairs.Select(p => (System.Runtime.InteropServices.SafeHandle)p.Second).ToList(),
            });

            var fds = ListFds(child.Pid);
            Assert.Equal(new[] { 0, 1, 2, 3, 4, 5, 6 }, fds.Keys.Order().ToArray());
            for (var i = 0; i < pairs.Count; i++)
            {
                var expected = new FileInfo($"/proc/self/fd/{pairs[i].Second.Fd}").LinkTarget!;
                Assert.StartsWith("socket:[", expected);
                Assert.Equal(expected, fds[3 + i]);
            }

            // The parent's non-close-on-exec pipe must not appear in the child.
            Assert.DoesNotContain(new FileInfo($"/proc/self/fd/{leaky.Read.Fd}").LinkTarget!, fds.Values);

            var status = await child.StopAsync(Patience);
            Assert.Equal(15, status.Signal);
            Assert.Null(status.ExitCode);
        }
        finally
        {
            leaky.Read.Dispose();
            leaky.Write.Dispose();
            foreach (var (a, b) in pairs)
            {
                a.Dispose();
                b.Dispose();
            }
        }
    }

    [Fact]
    public async Task Many_inherited_fds_land_at_their_targets_even_when_sources_overlap_target_numbers()
    {
        // With 64 sockets the parent's source numbers fall inside the child's target range 3..66, in an
        // order unrelated to the targets: a naive dup2 sequence would overwrite sources still to be moved.
        var pairs = Enumerable.Range(0, 64).Select(_ => Descriptors.CreateSocketPair()).ToList();
        try
        {
            var sources = pairs.Select(p => p.Second).Reverse().ToList();
            await using var child = ProcessSpawner.Spawn(new SpawnOptions
            {
                FileName = "/bin/sleep",
                Arguments = ["600"],
                InheritedFds = sources.Cast<System.Runtime.InteropServices.SafeHandle>().ToList(),
            });

            var fds = ListFds(child.Pid);
            Assert.Equal(Enumerable.Range(0, 3 + sources.Count).ToArray(), fds.Keys.Order().ToArray());
            for (var i = 0; i < sources.Count; i++)
            {
                Assert.Equal(new FileInfo($"/proc/self/fd/{sources[i].Fd}").LinkTarget, fds[3 + i]);
            }

            await child.StopAsync(Patience);
        }
        finally
        {
            foreach (var (a, b) in pairs)
            {
                a.Dispose();
                b.Dispose();
            }
        }
    }

    [Fact]
    public async Task Each_inherited_fd_is_connected_to_its_own_peer()
    {
        var pairs = Enumerable.Range(0, 3).Select(_ => Descriptors.CreateSocketPair()).ToList();
        await using var child = ProcessSpawner.Spawn(new SpawnOptions
        {
            FileName = "/bin/sh",
            Arguments = ["-c", "for i in 3 4 5; do read line <&$i; echo \"$i:$line\" >&$i; done"],
            InheritedFds = pairs.Select(p => (System.Runtime.InteropServices.SafeHandle)p.Second).ToList(),
        });

        // The parent's copies of the child's ends are closed so EOF is visible if the child dies.
        foreach (var p in pairs)
        {
            p.Second.Dispose();
        }

        var sockets = pairs.Select(p => p.First.ToSocket()).ToList();
        try
        {
            // Send in reverse order: the child answers in FD order, so a wrong mapping would hang or mismatch.
            for (var i = sockets.Count - 1; i >= 0; i--)
            {
                await sockets[i].SendAsync(Encoding.ASCII.GetBytes($"hello-{i}\n"));
            }

            for (var i = 0; i < sockets.Count; i++)
            {
                var line = await ReadLineAsync(sockets[i]).WaitAsync(Patience);
                Assert.Equal($"{3 + i}:hello-{i}", line);
            }

            var status = await child.Exited.WaitAsync(Patience);
            Assert.Equal(0, status.ExitCode);
        }
        finally
        {
            foreach (var s in sockets)
            {
                s.Dispose();
            }
        }
    }

    [Fact]
    public async Task Exit_code_is_reported()
    {
        await using var child = ProcessSpawner.Spawn(new SpawnOptions { FileName = "/bin/sh", Arguments = ["-c", "exit 7"] });
        var status = await child.Exited.WaitAsync(Patience);
        Assert.Equal(7, status.ExitCode);
        Assert.False(status.Success);
        Assert.Equal("exited with status 7", status.ToString());
        Assert.False(child.Signal(15));
    }

    [Fact]
    public async Task Child_starts_with_no_ignored_signals_and_stop_uses_sigterm()
    {
        // .NET ignores SIGPIPE; an ignored disposition would survive exec without POSIX_SPAWN_SETSIGDEF.
        Assert.NotEqual(0UL, ReadSigMask(Environment.ProcessId, "SigIgn:") & (1UL << 12));
        await using var child = ProcessSpawner.Spawn(new SpawnOptions { FileName = "/bin/sleep", Arguments = ["600"] });
        // Only the classic signals 1-31: glibc keeps its internal real-time signals (32, 33) to itself.
        Assert.Equal(0UL, ReadSigMask(child.Pid, "SigIgn:") & 0x7fffffffUL);
        Assert.Equal(0UL, ReadSigMask(child.Pid, "SigBlk:") & 0x7fffffffUL);
        var status = await child.StopAsync(Patience);
        Assert.Equal(15, status.Signal);
        Assert.Contains("SIGTERM", status.ToString());
    }

    [Fact]
    public async Task Stop_escalates_to_sigkill_when_sigterm_is_ignored()
    {
        // The shell ignores TERM and execs sleep, which inherits the ignored disposition.
        await using var child = ProcessSpawner.Spawn(new SpawnOptions
        {
            FileName = "/bin/sh",
            Arguments = ["-c", "trap '' TERM; exec /bin/sleep 600"],
        });
        await WaitUntil(() => (ReadSigMask(child.Pid, "SigIgn:") & (1UL << 14)) != 0 && File.ReadAllText($"/proc/{child.Pid}/comm").Trim() == "sleep");

        var status = await child.StopAsync(TimeSpan.FromMilliseconds(200));
        Assert.Equal(9, status.Signal);
        Assert.Equal("killed by signal 9 (SIGKILL)", status.ToString());
    }

    [Fact]
    public void Relative_executable_is_refused()
    {
        Assert.Throws<ArgumentException>(() => ProcessSpawner.Spawn(new SpawnOptions { FileName = "sleep" }));
    }

    [Fact]
    public void Missing_executable_reports_errno()
    {
        var e = Assert.Throws<IOException>(() => ProcessSpawner.Spawn(new SpawnOptions { FileName = "/nonexistent/gofer-test" }));
        Assert.Contains("posix_spawn", e.Message);
    }

    [Fact]
    public void Socket_pair_and_pipe_are_close_on_exec()
    {
        var (a, b) = Descriptors.CreateSocketPair();
        var (r, w) = Descriptors.CreatePipe();
        using (a)
        using (b)
        using (r)
        using (w)
        {
            Assert.True(Descriptors.IsCloseOnExec(a));
            Assert.True(Descriptors.IsCloseOnExec(b));
            Assert.True(Descriptors.IsCloseOnExec(r));
            Assert.True(Descriptors.IsCloseOnExec(w));
        }
    }

    /// <summary>
    /// The child's descriptors once it has settled: right after exec, /bin/sleep may still hold a file of its own
    /// open for a moment (locale set-up), so read until two listings 50 ms apart agree (at most 5 s).
    /// </summary>
    internal static Dictionary<int, string> ListFds(int pid)
    {
        var last = ListFdsOnce(pid);
        for (int i = 0; i < 100; i++)
        {
            Thread.Sleep(50);
            var now = ListFdsOnce(pid);
            if (now.Count == last.Count && now.All(kv => last.TryGetValue(kv.Key, out var v) && v == kv.Value))
                return now;
            last = now;
        }
        return last;
    }

    private static Dictionary<int, string> ListFdsOnce(int pid)
    {
        var result = new Dictionary<int, string>();
        foreach (var entry in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            var fd = int.Parse(Path.GetFileName(entry), CultureInfo.InvariantCulture);
            result[fd] = new FileInfo(entry).LinkTarget ?? string.Empty;
        }

        return result;
    }

    private static unsafe (SafeFdHandle Read, SafeFdHandle Write) CreateInheritablePipe()
    {
        var fds = stackalloc int[2];
        Assert.Equal(0, LibC.pipe2(fds, 0));
        return (new SafeFdHandle(fds[0], true), new SafeFdHandle(fds[1], true));
    }

    private static ulong ReadSigMask(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith(field, StringComparison.Ordinal));
        return ulong.Parse(line[field.Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached");
            await Task.Delay(20);
        }
    }

    private static async Task<string> ReadLineAsync(Socket socket)
    {
        var sb = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            var n = await socket.ReceiveAsync(one);
            if (n == 0 || one[0] == '\n')
            {
                return sb.ToString();
            }

            sb.Append((char)one[0]);
        }
    }
}
