using System.Net.Sockets;
using System.Runtime.InteropServices;
using Gofer.Runtime.Native;
using Gofer.Spec;

namespace Gofer.Runtime;

/// <summary>Settings for <see cref="SandboxLauncher.LaunchAsync"/>.</summary>
public sealed record LaunchOptions
{
    /// <summary>The gofer executable; default <see cref="GoferCommand.Current"/>.</summary>
    public GoferCommand? Command { get; init; }

    /// <summary>Wait for the gofer's --mounts-fd report and compare it with the plan (default true).</summary>
    public bool VerifyMounts { get; init; } = true;

    /// <summary>How long the gofer may take to report its mounts.</summary>
    public TimeSpan ReportTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>SIGTERM→SIGKILL grace when stopping the gofer.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The gofer's stderr (its log); null inherits ours.</summary>
    public SafeHandle? StandardError { get; init; }

    /// <summary>The gofer's stdout; null inherits ours. `gofer run` points it at its stderr so the gofer never mixes into the command's output.</summary>
    public SafeHandle? StandardOutput { get; init; }

    /// <summary>Appended to the serve arguments (e.g. <c>--log-level Warning</c> for a quiet interactive run).</summary>
    public IReadOnlyList<string> ExtraServeArguments { get; init; } = [];
}

/// <summary>A launch that failed: the message says why (with both views for a disagreement, the exit status for a death).</summary>
public sealed class GoferLaunchException : Exception
{
    public GoferLaunchException(string message)
        : base(message)
    {
    }

    public GoferLaunchException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public GoferLaunchException()
    {
    }
}

/// <summary>
/// A running gofer and the sandbox ends of its connections: <see cref="MountSockets"/>[i] talks to the
/// gofer's FD i, which serves <see cref="MountPlan.GoferMounts"/>[i] (rootfs first). Disposing stops the gofer.
/// </summary>
public sealed class GoferLaunch : IAsyncDisposable
{
    private readonly TimeSpan _stopTimeout;
    private int _disposed;

    internal GoferLaunch(MountPlan plan, ChildProcess gofer, IReadOnlyList<Socket> sockets, IReadOnlyList<ResolvedMount>? resolved, TimeSpan stopTimeout)
    {
        Plan = plan;
        Gofer = gofer;
        MountSockets = sockets;
        ResolvedMounts = resolved;
        _stopTimeout = stopTimeout;
    }

    /// <summary>The plan, with destinations resolved inside the rootfs.</summary>
    public MountPlan Plan { get; }

    /// <summary>The gofer process.</summary>
    public ChildProcess Gofer { get; }

    /// <summary>Sandbox ends, in gofer FD order.</summary>
    public IReadOnlyList<Socket> MountSockets { get; }

    /// <summary>What the gofer reported on --mounts-fd (null when not verified).</summary>
    public IReadOnlyList<ResolvedMount>? ResolvedMounts { get; }

    /// <summary>Closes the sandbox ends and stops the gofer (SIGTERM, then SIGKILL after the timeout).</summary>
    public async Task<ChildExitStatus> StopAsync()
    {
        foreach (var s in MountSockets)
        {
            s.Dispose();
        }

        return await Gofer.StopAsync(_stopTimeout).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await StopAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Plan → socket pairs → spawn the gofer → verify its mounts → hand back the sandbox ends.</summary>
public static class SandboxLauncher
{
    /// <summary>
    /// Starts <c>gofer serve</c> for <paramref name="plan"/> with one socket pair per gofer mount (the gofer's
    /// ends at FDs 3, 4, ... in plan order) and, when verifying, a pipe at the next FD for --mounts-fd.
    /// Throws <see cref="GoferLaunchException"/> when the gofer dies early or disagrees with the plan
    /// (the gofer is stopped first).
    /// </summary>
    public static async Task<GoferLaunch> LaunchAsync(MountPlan plan, LaunchOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        options ??= new LaunchOptions();
        var command = options.Command ?? GoferCommand.Current();
        var resolvedPlan = plan.Root.ResolvedDestination is null ? MountPlanner.ResolveDestinations(plan) : plan;
        var count = resolvedPlan.GoferFdCount;

        var sandboxEnds = new List<SafeFdHandle>();
        var goferEnds = new List<SafeFdHandle>();
        SafeFdHandle? reportRead = null;
        SafeFdHandle? reportWrite = null;
        ChildProcess? child = null;
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var (a, b) = Descriptors.CreateSocketPair();
                sandboxEnds.Add(a);
                goferEnds.Add(b);
            }

            var inherited = goferEnds.Cast<SafeHandle>().ToList();
            int? mountsFd = null;
            if (options.VerifyMounts)
            {
                (reportRead, reportWrite) = Descriptors.CreatePipe();
                inherited.Add(reportWrite);
                mountsFd = ProcessSpawner.FirstInheritedFd + count;
            }

            var args = command.PrefixArguments.Concat(GoferCommand.ServeArguments(resolvedPlan, ProcessSpawner.FirstInheritedFd, mountsFd)).Concat(options.ExtraServeArguments).ToList();
            child = ProcessSpawner.Spawn(new SpawnOptions
            {
                FileName = command.FileName,
                Arguments = args,
                InheritedFds = inherited,
                StandardError = options.StandardError,
                StandardOutput = options.StandardOutput,
            });

            // Our copies of the gofer's ends must go, or EOF would never be seen if the gofer dies.
            foreach (var h in goferEnds)
            {
                h.Dispose();
            }

            reportWrite?.Dispose();

            IReadOnlyList<ResolvedMount>? reported = null;
            if (reportRead is not null)
            {
                reported = await ReadReportAsync(child, reportRead, options, cancellationToken).ConfigureAwait(false);
                var expected = ResolvedMount.FromPlan(resolvedPlan);
                if (MountsReport.Compare(expected, reported) is { } disagreement)
                {
                    throw new GoferLaunchException(disagreement);
                }
            }

            sockets.AddRange(sandboxEnds.Select(h => h.ToSocket()));
            var launch = new GoferLaunch(resolvedPlan, child, sockets, reported, options.StopTimeout);
            child = null;
            return launch;
        }
        finally
        {
            foreach (var h in goferEnds.Concat(sandboxEnds))
            {
                h.Dispose();
            }

            reportRead?.Dispose();
            reportWrite?.Dispose();
            if (child is not null)
            {
                foreach (var s in sockets)
                {
                    s.Dispose();
                }

                await child.StopAsync(options.StopTimeout, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private static async Task<IReadOnlyList<ResolvedMount>> ReadReportAsync(ChildProcess child, SafeFdHandle reportRead, LaunchOptions options, CancellationToken cancellationToken)
    {
        // A blocking read on a thread-pool thread: it ends at EOF, which comes when the gofer closes the FD
        // or dies. On timeout the gofer is stopped, which also ends the read.
        var read = Task.Run(() => MountsReportIo.ReadToEnd(reportRead), CancellationToken.None);
        byte[] bytes;
        try
        {
            bytes = await read.WaitAsync(options.ReportTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            var status = await child.StopAsync(options.StopTimeout, CancellationToken.None).ConfigureAwait(false);
            try
            {
                // The read ends at EOF once the gofer is gone, unless something it started still holds the
                // write end; then it is left behind (it keeps its own reference to the pipe).
                await read.WaitAsync(options.StopTimeout, CancellationToken.None).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }

            throw new GoferLaunchException($"the gofer did not report its mounts within {options.ReportTimeout.TotalSeconds:0.#}s; stopped: {status}");
        }

        if (bytes.Length == 0)
        {
            // EOF without a report: the gofer most likely died. Say how.
            var exited = await Task.WhenAny(child.Exited, Task.Delay(options.StopTimeout, CancellationToken.None)).ConfigureAwait(false);
            var how = exited == child.Exited ? child.Exited.Result.ToString() : "still running";
            throw new GoferLaunchException($"the gofer closed --mounts-fd without reporting its mounts ({how})");
        }

        try
        {
            return MountsReport.Parse(bytes);
        }
        catch (MountsReportException e)
        {
            throw new GoferLaunchException(e.Message, e);
        }
    }
}
