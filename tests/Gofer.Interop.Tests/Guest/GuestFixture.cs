using System.Collections.Concurrent;
using System.Diagnostics;

namespace Gofer.Interop.Tests.Guest;

/// <summary>The prepared guest: kernel, initramfs and the host-side fdlaunch helper.</summary>
public sealed record GuestImage(string Directory, string Kernel, string Initramfs, string FdLaunch, string Checker)
{
    /// <summary>
    /// Runs Guest/prepare-guest.sh (cached: returns at once when its inputs are unchanged) and
    /// returns the image it made in tests/Gofer.Interop.Tests/.guest.
    /// </summary>
    public static GuestImage Prepare()
    {
        string project = Path.Combine(GuestServers.RepoRoot(), "tests", "Gofer.Interop.Tests");
        string script = Path.Combine(project, "Guest", "prepare-guest.sh");
        string outDir = Path.Combine(project, ".guest");
        var psi = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(outDir);
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start bash");
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(15)))
        {
            p.Kill();
            throw new TimeoutException("prepare-guest.sh did not finish in 15 minutes");
        }

        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"prepare-guest.sh failed ({p.ExitCode}):\n{stdout}\n{stderr.Result}");
        }

        var image = new GuestImage(outDir, Path.Combine(outDir, "vmlinuz"), Path.Combine(outDir, "initramfs.cpio.gz"), Path.Combine(outDir, "fdlaunch"), Path.Combine(outDir, "checker"));
        foreach (string f in new[] { image.Kernel, image.Initramfs, image.FdLaunch, image.Checker })
        {
            if (!File.Exists(f))
            {
                throw new FileNotFoundException("prepare-guest.sh did not produce " + f);
            }
        }

        return image;
    }
}

/// <summary>
/// Shared by every guest test class: prepares the guest once per test run and boots each
/// <see cref="GuestBoot"/> at most once, on first use; tests then read the cached result.
/// Processes are killed inside <see cref="GuestRunner.RunAsync"/>, so nothing outlives a boot.
/// </summary>
public sealed class GuestFixture
{
    private readonly Lazy<GuestImage> _image = new(GuestImage.Prepare, LazyThreadSafetyMode.ExecutionAndPublication);
    private readonly ConcurrentDictionary<string, Lazy<Task<GuestRunResult>>> _runs = new(StringComparer.Ordinal);

    public GuestServer Server { get; } = GuestServers.Selected;

    public GuestImage Image => _image.Value;

    public Task<GuestRunResult> RunAsync(GuestBoot boot) =>
        _runs.GetOrAdd(boot.Name, _ => new Lazy<Task<GuestRunResult>>(() => Task.Run(() => GuestRunner.RunAsync(Image, boot, Server)))).Value;
}

[CollectionDefinition(Name)]
public sealed class GuestCollection : ICollectionFixture<GuestFixture>
{
    public const string Name = "Guest kernel";
}
