using System.Text;
using Gofer.Runtime;
using Gofer.Spec;
using Gofer.Tests.Spec;

namespace Gofer.Tests.Runtime;

/// <summary>
/// The launcher against a stand-in gofer (a shell script given the real serve arguments): it writes a
/// prepared report on --mounts-fd and then answers one line on each io-fd with "FD:line".
/// </summary>
public sealed class SandboxLauncherTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    // $1.. are the serve arguments. Records them and its pid, writes the report, then echoes per FD.
    private const string FakeGofer = """
        dir=$1; shift
        echo "$@" > "$dir/args"; echo $$ > "$dir/pid"
        shift
        while [ $# -gt 0 ]; do
          case "$1" in
            --io-fds) fds=$(echo "$2" | tr ',' ' '); shift ;;
            --mounts-fd) mfd=$2; shift ;;
          esac
          shift
        done
        [ -f "$dir/before" ] && . "$dir/before"
        eval "cat \"\$dir/report\" >&$mfd"; eval "exec $mfd>&-"
        for fd in $fds; do read line <&$fd; echo "$fd:$line" >&$fd; done
        """;

    private static (TempBundle Bundle, MountPlan Plan, string Work) Setup(Func<IReadOnlyList<ResolvedMount>, IReadOnlyList<ResolvedMount>>? tamper = null, string? before = null)
    {
        var b = new TempBundle("a", "c", "work");
        b.WithConfig("""
            [ { "destination": "/deep/er", "type": "bind", "source": "a" },
              { "destination": "/c", "type": "bind", "source": "c", "options": ["ro"] } ]
            """);
        var plan = b.Plan();
        var expected = ResolvedMount.FromPlan(MountPlanner.ResolveDestinations(plan));
        var work = b.PathOf("work");
        File.WriteAllBytes(Path.Combine(work, "report"), MountsReport.Format(tamper is null ? expected : tamper(expected)));
        if (before is not null)
        {
            File.WriteAllText(Path.Combine(work, "before"), before);
        }

        return (b, plan, work);
    }

    private static LaunchOptions Options(string work) => new()
    {
        Command = new GoferCommand("/bin/sh", ["-c", FakeGofer, "fake-gofer", work]),
        StopTimeout = TimeSpan.FromSeconds(10),
    };

    [Fact]
    public async Task Launch_passes_serve_arguments_verifies_the_report_and_returns_sockets_in_fd_order()
    {
        var (b, plan, work) = Setup();
        using (b)
        {
            await using var launch = await SandboxLauncher.LaunchAsync(plan, Options(work));

            Assert.Equal($"serve --bundle {b.Directory} --io-fds 3,4,5 --mounts-fd 6", File.ReadAllText(Path.Combine(work, "args")).Trim());
            Assert.Equal(3, launch.MountSockets.Count);
            Assert.Equal(new[] { "/", "/deep/er", "/c" }, launch.ResolvedMounts!.Select(m => m.Destination).ToArray());

            for (var i = 0; i < 3; i++)
            {
                await launch.MountSockets[i].SendAsync(Encoding.ASCII.GetBytes($"mount-{i}\n"));
                Assert.Equal($"{3 + i}:mount-{i}", await ReadLineAsync(launch.MountSockets[i]).WaitAsync(Patience));
            }

            var status = await launch.Gofer.Exited.WaitAsync(Patience);
            Assert.Equal(0, status.ExitCode);
        }
    }

    [Fact]
    public async Task Disagreeing_report_fails_with_both_views_and_stops_the_gofer()
    {
        var (b, plan, work) = Setup(
            tamper: e => [e[0], e[1] with { ResolvedDestination = "/somewhere/else" }, e[2]],
            before: "trap '' TERM");
        using (b)
        {
            var e = await Assert.ThrowsAsync<GoferLaunchException>(() => SandboxLauncher.LaunchAsync(plan, Options(work) with { StopTimeout = TimeSpan.FromMilliseconds(300) }));
            Assert.Contains("runtime:\n", e.Message, StringComparison.Ordinal);
            Assert.Contains("fd[1] /deep/er -> /deep/er from", e.Message, StringComparison.Ordinal);
            Assert.Contains("gofer:\n", e.Message, StringComparison.Ordinal);
            Assert.Contains("fd[1] /deep/er -> /somewhere/else from", e.Message, StringComparison.Ordinal);

            // Stopped and reaped (SIGKILL after the ignored SIGTERM): its pid is gone.
            var pid = File.ReadAllText(Path.Combine(work, "pid")).Trim();
            Assert.False(Directory.Exists($"/proc/{pid}"));
        }
    }

    [Fact]
    public async Task Gofer_that_dies_before_reporting_is_reported_with_its_exit_status()
    {
        var (b, plan, work) = Setup(before: "exit 3");
        using (b)
        {
            var e = await Assert.ThrowsAsync<GoferLaunchException>(() => SandboxLauncher.LaunchAsync(plan, Options(work)));
            Assert.Equal("the gofer closed --mounts-fd without reporting its mounts (exited with status 3)", e.Message);
        }
    }

    [Fact]
    public async Task Gofer_that_never_reports_is_stopped_after_the_timeout()
    {
        var (b, plan, work) = Setup(before: "exec /bin/sleep 600");
        using (b)
        {
            var e = await Assert.ThrowsAsync<GoferLaunchException>(() => SandboxLauncher.LaunchAsync(plan, Options(work) with { ReportTimeout = TimeSpan.FromMilliseconds(200) }));
            Assert.Contains("did not report its mounts", e.Message, StringComparison.Ordinal);
            Assert.Contains("killed by signal 15 (SIGTERM)", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Garbage_report_is_a_launch_error()
    {
        var (b, plan, work) = Setup();
        using (b)
        {
            File.WriteAllText(Path.Combine(work, "report"), "hello\n");
            var e = await Assert.ThrowsAsync<GoferLaunchException>(() => SandboxLauncher.LaunchAsync(plan, Options(work)));
            Assert.StartsWith("mounts report: line 1", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Serve_arguments_carry_overlay_and_file_access_when_not_default()
    {
        using var b = new TempBundle().WithConfig();
        var plan = b.Plan(new PlanOptions { Overlay = OverlayConfig.Parse("all:memory") });
        Assert.Equal(
            new[] { "serve", "--bundle", b.Directory, "--io-fds", "3", "--mounts-fd", "4", "--overlay2", "all:memory" },
            GoferCommand.ServeArguments(plan, 3, 4));
        var shared = b.Plan(new PlanOptions { RootFileAccess = FileAccessType.Shared });
        Assert.Equal(new[] { "serve", "--bundle", b.Directory, "--io-fds", "3", "--file-access", "shared" }, GoferCommand.ServeArguments(shared, 3, null));
    }

    private static async Task<string> ReadLineAsync(System.Net.Sockets.Socket socket)
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
