using System.IO.Pipes;
using System.Runtime.InteropServices;
using System.Text;
using Gofer.Hardening;

namespace Gofer.Tests.Hardening;

/// <summary>A fact that needs root (CAP_SYS_ADMIN to build namespaces); skipped with the reason otherwise.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "hardened mode is Linux-only";
        }
        else if (geteuid() != 0)
        {
            Skip = "hardened mode needs root (CAP_SYS_ADMIN); this test process is not root";
        }
        else if (!File.Exists(Confined.Busybox))
        {
            Skip = $"{Confined.Busybox} (package busybox-static) is missing; scripts/deps.sh installs it";
        }
    }

    [DllImport("libc")]
    private static extern uint geteuid();
}

/// <summary>Runs a program confined and collects what it prints.</summary>
internal static class Confined
{
    public const string Busybox = "/bin/busybox";

    /// <summary>Generous: CI machines are loaded; this bounds a hang, it does not measure anything.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    public sealed record Result(int ExitCode, string Output, HardenedChild Child);

    /// <summary>`busybox sh -c script` confined with the given exports; stdout and stderr merged.</summary>
    public static Task<Result> ShellAsync(string script, IReadOnlyList<HardenedExport> exports, Action<HardenedLaunchSpecBuilder>? adjust = null)
    {
        var builder = new HardenedLaunchSpecBuilder
        {
            Exports = exports,
            Executable = Busybox,
            Arguments = ["busybox", "sh", "-c", script],
            Environment = new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" },
        };
        adjust?.Invoke(builder);
        return RunAsync(builder);
    }

    public static async Task<Result> RunAsync(HardenedLaunchSpecBuilder builder)
    {
        using var pipe = new AnonymousPipeServerStream(PipeDirection.In, HandleInheritability.None);
        int writeFd = (int)pipe.ClientSafePipeHandle.DangerousGetHandle();
        List<FdMapping> fds = [new(writeFd, 1), new(writeFd, 2), .. builder.ExtraFds];
        HardenedChild child;
        try
        {
            child = HardenedLauncher.Start(builder.Build(fds));
        }
        finally
        {
            pipe.DisposeLocalCopyOfClientHandle();
        }

        using var reader = new StreamReader(pipe, Encoding.UTF8);
        using var cts = new CancellationTokenSource(Patience);
        string output;
        try
        {
            output = await reader.ReadToEndAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            child.Signal(9);
            throw;
        }

        int exit = await child.WaitForExitAsync(cts.Token);
        return new Result(exit, output, child);
    }
}

/// <summary>Mutable test-side description turned into a <see cref="HardenedLaunchSpec"/>.</summary>
internal sealed class HardenedLaunchSpecBuilder
{
    public IReadOnlyList<HardenedExport> Exports { get; set; } = [];

    public string Executable { get; set; } = Confined.Busybox;

    public IReadOnlyList<string> Arguments { get; set; } = [];

    public Dictionary<string, string> Environment { get; set; } = [];

    public List<FdMapping> ExtraFds { get; } = [];

    public IReadOnlyList<string> ExecSupport { get; set; } = [];

    public IReadOnlyList<Capability>? RetainedCapabilities { get; set; }

    public bool NewNetworkNamespace { get; set; } = true;

    public bool Seccomp { get; set; } = true;

    public HardenedLaunchSpec Build(IReadOnlyList<FdMapping> fds) => new()
    {
        Exports = Exports,
        Executable = Executable,
        Arguments = Arguments,
        Environment = Environment,
        InheritedFds = fds,
        ExecSupport = ExecSupport,
        RetainedCapabilities = RetainedCapabilities ?? ServingCapabilities.Default,
        NewNetworkNamespace = NewNetworkNamespace,
        Seccomp = Seccomp,
    };
}

/// <summary>A temporary host directory, removed with everything in it.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir(string prefix = "gofer-harden-")
    {
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
