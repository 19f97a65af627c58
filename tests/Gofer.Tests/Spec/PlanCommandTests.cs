using System.Text;
using Gofer.Runtime;

namespace Gofer.Tests.Spec;

/// <summary>`gofer plan` as a user runs it: the real executable, its stdout and stderr.</summary>
public sealed class PlanCommandTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    internal static async Task<(int Code, string Out, string Err)> RunGofer(params string[] args)
    {
        var command = GoferCommand.Current();
        var (outRead, outWrite) = Descriptors.CreatePipe();
        var (errRead, errWrite) = Descriptors.CreatePipe();
        using (outRead)
        using (errRead)
        {
            ChildProcess child;
            using (outWrite)
            using (errWrite)
            {
                child = ProcessSpawner.Spawn(new SpawnOptions
                {
                    FileName = command.FileName,
                    Arguments = [.. command.PrefixArguments, .. args],
                    StandardOutput = outWrite,
                    StandardError = errWrite,
                });
            }

            await using (child)
            {
                var stdout = Task.Run(() => MountsReportIo.ReadToEnd(outRead));
                var stderr = Task.Run(() => MountsReportIo.ReadToEnd(errRead));
                var status = await child.Exited.WaitAsync(Patience);
                return (status.ExitCode ?? -1, Encoding.UTF8.GetString(await stdout), Encoding.UTF8.GetString(await stderr));
            }
        }
    }

    [Fact]
    public async Task Plan_prints_the_example_table()
    {
        var (code, stdout, stderr) = await RunGofer("plan", "--bundle", Path.Combine(ResolverAndPodTests.RepoRoot(), "examples", "bundle"));
        Assert.True(code == 0, stderr);
        Assert.Contains("DESTINATION", stdout, StringComparison.Ordinal);
        Assert.Contains("gofer FDs:   3", stdout, StringComparison.Ordinal);
        Assert.Matches(@"\n/data\s+9p\s+\S+/data-ro\s+2\s+remote_revalidating\s+ro,nosuid,nodev", stdout);
        Assert.Matches(@"\n/work\s+9p\s+\S+/work\s+1\s+exclusive\s+rw", stdout);
    }

    [Fact]
    public async Task Plan_json_and_overlay()
    {
        var (code, stdout, stderr) = await RunGofer("plan", "--bundle", Path.Combine(ResolverAndPodTests.RepoRoot(), "examples", "bundle"), "--json", "--overlay2", "all:memory");
        Assert.True(code == 0, stderr);
        Assert.Contains("\"overlay2\": \"all:memory\"", stdout, StringComparison.Ordinal);
        Assert.Contains("\"goferReadOnly\": true", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plan_of_a_bad_bundle_names_the_field_and_fails()
    {
        using var b = new TempBundle();
        File.WriteAllText(Path.Combine(b.Directory, "config.json"), """{ "root": { "path": "rootfs" }, "mounts": [ { "destination": "relative" } ] }""");
        var (code, stdout, stderr) = await RunGofer("plan", "--bundle", b.Directory);
        Assert.Equal(1, code);
        Assert.Empty(stdout);
        Assert.Equal("gofer plan: config.json: mounts[0].destination: must be an absolute path (got \"relative\")\n", stderr);
    }

    [Fact]
    public async Task Plan_refuses_a_file_backed_overlay()
    {
        var (code, _, stderr) = await RunGofer("plan", "--bundle", Path.Combine(ResolverAndPodTests.RepoRoot(), "examples", "bundle"), "--overlay2", "root:self");
        Assert.Equal(1, code);
        Assert.Contains("needs a file-backed overlay store", stderr, StringComparison.Ordinal);
    }
}
