using Gofer.Hardening;

namespace Gofer.Tests.Hardening;

/// <summary>
/// The real thing: the gofer itself (framework-dependent, `dotnet gofer.dll`) started inside
/// the private root, which holds only the system library directories, the shared runtime and
/// the app directory. Proves the .NET runtime starts there (it needs /proc, hence the
/// namespace's own procfs) and that ServeHardening passes the io-fds through.
/// </summary>
[Collection("Hardening")]
public sealed class ConfinedDotnetTests
{
    private static ConfinedProgram Gofer()
    {
        string dotnetRoot = ConfinedProgram.DotnetRootOf(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory())
            ?? throw new InvalidOperationException("the test host is expected to run on a shared runtime");
        string dll = Path.Combine(AppContext.BaseDirectory, "gofer.dll");
        return ConfinedProgram.Dotnet(Path.Combine(dotnetRoot, "dotnet"), dll, dotnetRoot);
    }

    [RootFact]
    public async Task The_gofer_runs_confined_on_the_shared_runtime()
    {
        using var export = new TempDir();
        ConfinedProgram gofer = Gofer();
        var builder = new HardenedLaunchSpecBuilder
        {
            Exports = [new HardenedExport(export.Path, ReadOnly: true)],
            Executable = gofer.Executable,
            Arguments = [.. gofer.LeadingArguments, "--help"],
            Environment = new Dictionary<string, string>(gofer.Environment),
            ExecSupport = gofer.ExecSupport,
        };

        var result = await Confined.RunAsync(builder);

        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Output}");
        Assert.Contains("serve", result.Output, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task The_gofer_apphost_runs_confined()
    {
        using var export = new TempDir();
        string apphost = Path.Combine(AppContext.BaseDirectory, "gofer");
        Assert.True(File.Exists(apphost), "the test output is expected to carry the gofer apphost");
        // The apphost finds the shared runtime through DOTNET_ROOT, which ConfinedProgram sets.
        ConfinedProgram gofer = Gofer() with { Executable = apphost, LeadingArguments = [apphost] };
        var builder = new HardenedLaunchSpecBuilder
        {
            Exports = [new HardenedExport(export.Path, ReadOnly: true)],
            Executable = gofer.Executable,
            Arguments = [.. gofer.LeadingArguments, "--help"],
            Environment = new Dictionary<string, string>(gofer.Environment),
            ExecSupport = gofer.ExecSupport,
        };

        var result = await Confined.RunAsync(builder);

        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Output}");
        Assert.Contains("serve", result.Output, StringComparison.Ordinal);
    }

    [RootFact]
    public void ServeHardening_hands_the_exports_inside_paths_and_refuses_a_nested_hardened()
    {
        using var export = new TempDir();
        Assert.Throws<ArgumentException>(() => ServeHardening.Start(
            [new HardenedExport(export.Path, ReadOnly: true)], [], paths => ["serve", "--hardened", "--root", paths[0]], Gofer()));

        IReadOnlyList<string>? seen = null;
        HardenedChild child = ServeHardening.Start(
            [new HardenedExport(export.Path, ReadOnly: true), new HardenedExport(export.Path, ReadOnly: false)],
            [],
            paths =>
            {
                seen = paths;
                return ["--help"];
            },
            Gofer());
        Assert.Equal(0, child.WaitForExit());
        Assert.Equal(["/exports/0", "/exports/1"], seen);
    }
}
