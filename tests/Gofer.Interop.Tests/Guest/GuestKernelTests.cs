using System.Text;

namespace Gofer.Interop.Tests.Guest;

/// <summary>
/// The real sandbox kernel: a Debian Linux kernel under QEMU (TCG) mounts the server under test
/// with v9fs and runs guest/checker.c in each mount. One test per (mount, check), read from one
/// cached boot per transport; the server is <see cref="GuestServers.Selected"/>.
/// </summary>
[Collection(GuestCollection.Name)]
public sealed class GuestKernelTests(GuestFixture fixture)
{
    public static TheoryData<string, string> TcpChecks => Data(GuestPlan.Tcp);

    public static TheoryData<string, string> FdChecks => Data(GuestPlan.Fd);

    [Theory]
    [MemberData(nameof(TcpChecks))]
    public async Task Tcp(string mount, string check) => AssertCheck(await fixture.RunAsync(GuestPlan.Tcp), mount, check);

    [Theory]
    [MemberData(nameof(FdChecks))]
    public async Task Fd(string mount, string check) => AssertCheck(await fixture.RunAsync(GuestPlan.Fd), mount, check);

    [Fact]
    public async Task Tcp_boot_mounts_every_configuration_and_powers_off() => AssertBoot(await fixture.RunAsync(GuestPlan.Tcp));

    [Fact]
    public async Task Fd_boot_mounts_over_inherited_socket_and_powers_off() => AssertBoot(await fixture.RunAsync(GuestPlan.Fd));

    /// <summary>The options we asked for are the ones the kernel mounted with (/proc/mounts).</summary>
    [Fact]
    public async Task Mount_options_reach_the_kernel()
    {
        GuestRunResult run = await fixture.RunAsync(GuestPlan.Tcp);
        var problems = new StringBuilder();
        foreach (GuestMount m in GuestPlan.Tcp.Mounts)
        {
            string? line = run.MountLine(m.Label);
            if (line is null)
            {
                problems.AppendLine($"{m.Label}: not mounted ({run.MountFailure(m.Label) ?? "no MOUNT line"})");
                continue;
            }

            foreach (string opt in m.Options.Split(','))
            {
                // cache=none is the default and not shown; msize shows the negotiated value
                // (diod caps it at 64 KiB), so only access=, cache=<not none> and trans are compared.
                bool shown = opt.StartsWith("access=", StringComparison.Ordinal) ||
                             (opt.StartsWith("cache=", StringComparison.Ordinal) && opt != "cache=none");
                // Linux 6.1 shows the cache mode as a bare word ("loose", "mmap"); newer ones as cache=….
                string[] mounted = line.Split(' ', ',');
                if (shown && !mounted.Contains(opt) && !mounted.Contains(opt["cache=".Length..]))
                {
                    problems.AppendLine($"{m.Label}: '{opt}' missing from '{line}'");
                }
            }

            if (!line.Contains("trans=tcp", StringComparison.Ordinal))
            {
                problems.AppendLine($"{m.Label}: not trans=tcp: '{line}'");
            }
        }

        Assert.True(problems.Length == 0, problems + run.Tail());
    }

    private static TheoryData<string, string> Data(GuestBoot boot)
    {
        var data = new TheoryData<string, string>();
        foreach (GuestMount m in boot.Mounts)
        {
            foreach (string c in m.Checks)
            {
                data.Add(m.Label, c);
            }
        }

        return data;
    }

    private void AssertCheck(GuestRunResult run, string mount, string check)
    {
        string? known = GuestKnownFailures.Reason(run.Server, mount, check);
        if (!run.Checks.TryGetValue(mount, out var checks) || !checks.TryGetValue(check, out CheckOutcome? outcome))
        {
            string why = run.MountFailure(mount) is { } mf ? "the mount failed: " + mf
                : run.TimedOut ? $"the guest timed out after {run.Elapsed.TotalSeconds:F0}s"
                : !run.GuestFinished ? "the guest stopped before GUEST-END (crash or panic?)"
                : "the checker never reported it";
            Assert.Fail($"check {check} in {run.Boot.Name}/{mount} ({run.Server}) has no result: {why}\n{run.Tail()}");
            return;
        }

        if (known is not null)
        {
            // Expected failure of a reference server: documents its behaviour and keeps the check honest.
            Assert.False(outcome.Passed, $"{check} in {mount} now passes on {run.Server}; remove it from GuestKnownFailures ({known})");
            return;
        }

        Assert.True(outcome.Passed, $"check {check} FAILED in {run.Boot.Name}/{mount} against {run.Server}: {outcome.Detail}\n{run.Summary()}\n{run.Tail(30)}");
    }

    private static void AssertBoot(GuestRunResult run)
    {
        var problems = new StringBuilder();
        if (run.TimedOut)
        {
            problems.AppendLine($"timed out after {run.Elapsed.TotalSeconds:F0}s");
        }

        if (!run.GuestFinished)
        {
            problems.AppendLine("no GUEST-END: the guest did not reach power-off");
        }

        foreach (GuestMount m in run.Boot.Mounts)
        {
            if (run.MountFailure(m.Label) is { } mf)
            {
                problems.AppendLine(mf);
            }
            else if (!run.Done(m.Label))
            {
                problems.AppendLine($"{m.Label}: checker did not finish (no DONE)");
            }

            run.Checks.TryGetValue(m.Label, out var got);
            var expected = m.Checks.ToHashSet(StringComparer.Ordinal);
            var reported = got?.Keys.ToHashSet(StringComparer.Ordinal) ?? [];
            if (!expected.SetEquals(reported))
            {
                problems.AppendLine($"{m.Label}: expected checks [{string.Join(",", expected.Except(reported))}] missing, unexpected [{string.Join(",", reported.Except(expected))}]");
            }
        }

        Assert.True(problems.Length == 0, problems + run.Summary() + run.Tail());
    }
}

/// <summary>Checks a reference server is known to fail, with the reason (never used for Gofer).</summary>
public static class GuestKnownFailures
{
    private static readonly Dictionary<(GuestServer Server, string Check), (string[] Mounts, string Reason)> Known = new()
    {
        [(GuestServer.Diod, "unlink_open")] = (["*"],
            "diod re-resolves the path for Tgetattr on an open fid whose file was unlinked (ENOENT, ESTALE under cache=loose)"),
    };

    public static string? Reason(GuestServer server, string mount, string check) =>
        Known.TryGetValue((server, check), out var k) && (k.Mounts.Contains("*") || k.Mounts.Contains(mount)) ? k.Reason : null;
}
