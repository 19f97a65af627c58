using System.Diagnostics;
using Gofer.Runtime;

namespace Gofer.Interop.Tests.Run;

/// <summary>Runs <c>gofer run …</c> as a separate process (the built gofer next to the tests) on copies of the examples.</summary>
internal static class GoferRunProcess
{
    internal sealed record Result(int Status, string Out, string Err);

    /// <summary>The repository root (where Gofer.sln is), found upwards from the test binaries.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Gofer.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Gofer.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A copy of examples/NAME in a fresh temp directory (the caller deletes <c>Root</c>).</summary>
    public static (string Root, string Copy) CopyExample(string name)
    {
        var root = Directory.CreateTempSubdirectory("gofer-run-e2e-").FullName;
        var copy = Path.Combine(root, name);
        CopyTree(Path.Combine(RepoRoot(), "examples", name), copy);
        return (root, copy);
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from))
        {
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        }

        foreach (var d in Directory.GetDirectories(from))
        {
            CopyTree(d, Path.Combine(to, Path.GetFileName(d)));
        }
    }

    public static async Task<Result> RunAsync(IEnumerable<string> args, string stdin = "")
    {
        var gofer = GoferCommand.Current();
        var psi = new ProcessStartInfo(gofer.FileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in gofer.PrefixArguments.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3)); // a loaded CI machine: generous
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("gofer run did not finish: " + string.Join(' ', psi.ArgumentList));
        }

        return new Result(p.ExitCode, await stdout, await stderr);
    }
}
