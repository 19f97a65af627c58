using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Gofer.Interop.Tests.Guest;

/// <summary>
/// Tests of the harness itself, without booting: the console parser, the check list shared by
/// C and C#, and the checker binary on a host directory (every check passes; a missing
/// directory makes every check FAIL with the reason).
/// </summary>
[Collection(GuestCollection.Name)]
public sealed partial class GuestCheckerTests(GuestFixture fixture)
{
    [Fact]
    public void Parser_reads_pass_fail_and_ignores_kernel_noise()
    {
        string[] console =
        [
            "GUEST-START 6.1.0",
            "CHECK a create_rw PASS 0.04s ",
            "[   12.3] random: crng init doneCHECK a xattr FAIL getxattr returned 3 bytes (after 0.01s)",
            "CHECK b create_rw FAIL open f: Permission denied (after 0.00s)\r",
            "CHECKER a bogus PASS",
            "RUN-END a start=1.50 end=4.25",
        ];
        var parsed = GuestRunResult.ParseChecks(console);
        Assert.True(parsed["a"]["create_rw"].Passed);
        Assert.False(parsed["a"]["xattr"].Passed);
        Assert.Equal("getxattr returned 3 bytes (after 0.01s)", parsed["a"]["xattr"].Detail);
        Assert.False(parsed["b"]["create_rw"].Passed);
        Assert.False(parsed["a"].ContainsKey("bogus"));
        var run = new GuestRunResult
        {
            Boot = GuestPlan.Tcp, Server = GuestServer.Diod, Console = console, Elapsed = TimeSpan.Zero, TimedOut = false, ServerLog = "",
        };
        Assert.Equal(2.75, run.MountSeconds("a")!.Value, 3);
        Assert.False(run.GuestFinished);
    }

    /// <summary>The C check table and <see cref="GuestChecks.All"/> name the same checks in the same order.</summary>
    [Fact]
    public void Check_list_matches_checker_source()
    {
        string source = File.ReadAllText(Path.Combine(GuestServers.RepoRoot(), "tests", "Gofer.Interop.Tests", "Guest", "guest", "checker.c"));
        var inC = CheckTableRegex().Matches(source).Select(m => (m.Groups[1].Value, m.Groups[2].Value == "1")).ToList();
        Assert.NotEmpty(inC);
        Assert.Equal(inC, GuestChecks.All.Select(c => (c.Name, c.Heavy)).ToList());
    }

    [Fact]
    public void Checker_on_a_host_directory_passes_every_light_check()
    {
        string dir = Directory.CreateTempSubdirectory("gofer-checker-").FullName;
        try
        {
            (string output, var checks) = RunChecker(dir);
            Assert.Equal(GuestChecks.All.Where(c => !c.Heavy).Select(c => c.Name).Order(), checks.Keys.Order());
            var failed = checks.Values.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Detail}").ToList();
            Assert.True(failed.Count == 0, "on the host file system:\n" + string.Join("\n", failed));
            Assert.Contains("DONE host", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A check that cannot set up is a FAIL with the reason, never a silent pass.</summary>
    [Fact]
    public void Checker_reports_fail_with_reason_when_the_directory_is_missing()
    {
        string missing = Path.Combine(Path.GetTempPath(), "gofer-checker-missing-" + Guid.NewGuid().ToString("N"), "x");
        (_, var checks) = RunChecker(missing);
        Assert.NotEmpty(checks);
        Assert.All(checks.Values, c =>
        {
            Assert.False(c.Passed, c.Name);
            Assert.Contains("No such file or directory", c.Detail, StringComparison.Ordinal);
        });
    }

    private (string Output, IReadOnlyDictionary<string, CheckOutcome> Checks) RunChecker(string dir)
    {
        var psi = new ProcessStartInfo(fixture.Image.Checker) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[] { "--label", "host", "--dir", dir, "--set", "light" })
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), "checker did not finish");
        return (output, GuestRunResult.ParseChecks(output.Split('\n'))["host"]);
    }

    [GeneratedRegex(@"\{ ""([a-z0-9_]+)"", check_[a-z0-9_]+, ([01]), [0-9]+ \}")]
    private static partial Regex CheckTableRegex();
}
