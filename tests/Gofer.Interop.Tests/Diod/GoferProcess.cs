using System.Diagnostics;

namespace Gofer.Interop.Tests.Diod;

/// <summary>
/// `gofer serve --listen tcp:127.0.0.1:0` started as a separate process from this test's build output (the Gofer
/// project is referenced, so gofer.dll sits next to the test assembly). The port is read from its "listening" line.
/// Dispose sends SIGTERM (clean shutdown) and kills it by PID only if it does not exit.
/// </summary>
internal sealed class GoferProcess : IDisposable
{
    private readonly Process _process;

    public GoferProcess(string root, params string[] extraArgs)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "gofer.dll");
        Assert.True(File.Exists(dll), $"gofer.dll not found next to the tests ({dll})");
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(root);
        psi.ArgumentList.Add("--listen");
        psi.ArgumentList.Add("tcp:127.0.0.1:0");
        foreach (var a in extraArgs)
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderr)
                    _stderr.Add(e.Data);
            }
        };
        _process.BeginErrorReadLine();
        var line = _process.StandardOutput.ReadLineAsync();
        Assert.True(line.Wait(TimeSpan.FromSeconds(120)), "gofer serve did not report its endpoint: " + StdErr);
        Assert.NotNull(line.Result);
        Assert.StartsWith("listening tcp:127.0.0.1:", line.Result, StringComparison.Ordinal);
        Port = int.Parse(line.Result!["listening tcp:127.0.0.1:".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private readonly List<string> _stderr = [];

    public int Port { get; }

    public string StdErr
    {
        get
        {
            lock (_stderr)
                return string.Join('\n', _stderr);
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>SIGTERM and wait: returns the exit code, or null if it had to be killed.</summary>
    public int? Stop()
    {
        if (_process.HasExited)
            return _process.ExitCode;
        Posix.Kill(_process.Id, Posix.SIGTERM);
        if (_process.WaitForExit(TimeSpan.FromSeconds(60)))
            return _process.ExitCode;
        _process.Kill();
        _process.WaitForExit();
        return null;
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
    }
}

internal static partial class Posix
{
    public const int SIGTERM = 15;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);
}

/// <summary>Runs one of diod's command-line clients with a timeout.</summary>
internal static class DiodTool
{
    public static string PathOf(string tool) => new[] { "/usr/sbin", "/usr/bin" }.Select(d => Path.Combine(d, tool)).First(File.Exists);

    public static (int ExitCode, string Out, string Err) Run(string tool, params string[] args)
    {
        // Debian's diod package puts its clients in /usr/sbin; look on PATH too.
        string? path = new[] { "/usr/sbin", "/usr/bin" }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            .Select(d => Path.Combine(d, tool))
            .FirstOrDefault(File.Exists);
        Assert.True(path is not null, $"{tool} missing: install Debian's diod package (scripts/deps.sh)");
        var psi = new ProcessStartInfo(path!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            p.Kill();
            throw new Xunit.Sdk.XunitException($"{tool} hung");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
