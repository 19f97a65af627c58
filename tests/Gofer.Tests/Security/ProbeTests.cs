using System.Diagnostics;
using System.Text.RegularExpressions;
using Gofer.Server;

namespace Gofer.Tests.Security;

/// <summary>
/// `p9load -W probe` (the project's server-neutral hostile-input prober, /work/shared/tools/p9load) against the real
/// server: every probe answered or closed, none hung, no escape warning, the server alive afterwards.
/// </summary>
public sealed partial class ProbeTests
{
    [ProbeFact]
    public void P9loadProbe_AllAnsweredOrClosed_NoneHung_NoEscape()
    {
        string work = Path.Combine(Path.GetTempPath(), "gofer-probe-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(work);
        try
        {
            File.Copy(Path.Combine(ProbeFactAttribute.P9loadSource!, "p9load.c"), Path.Combine(work, "p9load.c"));
            var (gccCode, gccOut) = Run("gcc", ["-O2", "-Wall", "-pthread", "-o", Path.Combine(work, "p9load"), Path.Combine(work, "p9load.c")], 300);
            Assert.True(gccCode == 0, "building p9load failed:\n" + gccOut);

            // The export the README's probe section describes: a symlink "escape" to /etc, a big file, a directory.
            using var x = new ConfinedExport(new ServerOptions { PartialFrameTimeout = TimeSpan.FromSeconds(30) });
            File.CreateSymbolicLink(x.Server.Path_("escape"), "/etc");
            File.WriteAllBytes(x.Server.Path_("big"), new byte[8 * 1024 * 1024]);
            string socket = x.Root + ".sock"; // where ServerFixture listens

            var (code, output) = Run(Path.Combine(work, "p9load"), ["-s", "unix:" + socket, "-W", "probe", "-p", "escape/passwd", "-T", "3"], 600);
            Console.WriteLine(output); // the table, for the test log
            var result = ResultLine().Match(output);
            Assert.True(result.Success, "no RESULT line (exit " + code + "):\n" + output);
            Assert.Equal("0", result.Groups["fail"].Value);
            Assert.DoesNotContain("hung", output, StringComparison.Ordinal);
            var probes = ProbeLine().Matches(output).ToArray();
            Assert.NotEmpty(probes);
            foreach (var p in probes)
            {
                string name = p.Groups["name"].Value, verdict = p.Groups["verdict"].Value;
                Assert.True(verdict != "FAIL", "probe failed: " + p.Value);
                Assert.True(p.Groups["alive"].Value.StartsWith("yes", StringComparison.Ordinal), "server not alive after: " + p.Value);
                // The escape probes must be clean: ".." clamps, names with '/' refused, symlinks not followed.
                if (name is "dotdot_root" or "slash_dots" or "slash_path" or "symlink_walk" or "nwname_17")
                    Assert.True(verdict == "ok", "escape probe warned: " + p.Value);
            }
            x.AssertOutsideUntouched();
            using var c = x.Connect().Start();
            Raw.AssertAlive(c);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [GeneratedRegex(@"RESULT workload=probe warn=(?<warn>\d+) fail=(?<fail>\d+)")]
    private static partial Regex ResultLine();

    [GeneratedRegex(@"PROBE id=(?<id>\d+) name=(?<name>\S+) outcome=""(?<outcome>[^""]*)"" alive=(?<alive>\S+) verdict=(?<verdict>\S+)")]
    private static partial Regex ProbeLine();

    private static (int Code, string Output) Run(string file, string[] args, int timeoutSeconds)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill();
            throw new Xunit.Sdk.XunitException($"{file} did not finish within {timeoutSeconds} s");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}

/// <summary>Skipped, saying why, when gcc or the shared p9load source (repository root/../shared) is missing.</summary>
public sealed class ProbeFactAttribute : FactAttribute
{
    public ProbeFactAttribute()
    {
        if (P9loadSource is null)
            Skip = "p9load source not found (expected at <repository root>/../shared/tools/p9load, or GOFER_SHARED_DIR)";
        else if (!File.Exists("/usr/bin/gcc") && !File.Exists("/usr/local/bin/gcc"))
            Skip = "gcc is not installed (needed to build p9load)";
    }

    public static string? P9loadSource { get; } = FindSource();

    private static string? FindSource()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("GOFER_SHARED_DIR") is { Length: > 0 } env)
            candidates.Add(env);
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Gofer.sln")))
            {
                // The repository's sibling; a helper worktree (/work/wt/NAME) sits one level deeper than /work/main.
                candidates.Add(Path.Combine(d.FullName, "..", "shared"));
                candidates.Add(Path.Combine(d.FullName, "..", "..", "shared"));
                break;
            }
        }
        return candidates.Select(c => Path.Combine(c, "tools", "p9load"))
            .FirstOrDefault(c => File.Exists(Path.Combine(c, "p9load.c")));
    }
}
