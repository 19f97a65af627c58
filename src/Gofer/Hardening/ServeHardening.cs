using System.Runtime.InteropServices;

namespace Gofer.Hardening;

/// <summary>
/// What `gofer serve --hardened` calls. The unconfined parent resolves the exports, then this
/// re-executes the gofer confined, with the serve arguments rewritten to the exports' paths
/// inside the private root and the io-fds inherited at the same numbers; it forwards SIGTERM
/// and SIGINT, waits, and returns the child's exit code.
/// </summary>
internal static class ServeHardening
{
    /// <summary>How long a forwarded SIGTERM/SIGINT may take before the child is killed.</summary>
    public static readonly TimeSpan TerminationGrace = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Serve confined. <paramref name="buildServeArguments"/> receives the exports' paths
    /// inside the private root (in <paramref name="exports"/> order) and returns the child's
    /// arguments after the program, e.g. ["serve", "--root", "/exports/0", "--readonly",
    /// "--io-fds", "3"]. They must not contain --hardened: the confined child cannot confine
    /// again (it has no CAP_SYS_ADMIN) and would refuse to start.
    /// </summary>
    /// <returns>The confined server's exit code (128 + signal if a signal ended it).</returns>
    /// <exception cref="HardeningException">Confinement impossible; nothing was started.</exception>
    public static int Run(
        IReadOnlyList<HardenedExport> exports,
        IReadOnlyList<int> ioFds,
        Func<IReadOnlyList<string>, IReadOnlyList<string>> buildServeArguments,
        ConfinedProgram? program = null)
    {
        ArgumentNullException.ThrowIfNull(exports);
        ArgumentNullException.ThrowIfNull(ioFds);
        ArgumentNullException.ThrowIfNull(buildServeArguments);
        HardenedChild child = Start(exports, ioFds, buildServeArguments, program);

        // Forward termination requests; the child decides how to shut down. If it has not
        // ended within the grace period, it is killed (and its namespace with it).
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Forward(context, child));
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Forward(context, child));
        return child.WaitForExit();
    }

    /// <summary>The same, without waiting: for callers that supervise the child themselves.</summary>
    public static HardenedChild Start(
        IReadOnlyList<HardenedExport> exports,
        IReadOnlyList<int> ioFds,
        Func<IReadOnlyList<string>, IReadOnlyList<string>> buildServeArguments,
        ConfinedProgram? program = null)
    {
        ArgumentNullException.ThrowIfNull(exports);
        ArgumentNullException.ThrowIfNull(ioFds);
        ArgumentNullException.ThrowIfNull(buildServeArguments);
        HardenedLauncher.RequirePrivilege();
        program ??= ConfinedProgram.CurrentGofer();
        IReadOnlyList<string> insidePaths = [.. exports.Select((_, i) => HardenedLayout.ExportPath(i))];
        IReadOnlyList<string> serveArguments = buildServeArguments(insidePaths);
        if (serveArguments.Contains("--hardened", StringComparer.Ordinal))
        {
            throw new ArgumentException("the confined child's arguments must not ask for --hardened again", nameof(buildServeArguments));
        }

        List<FdMapping> fds = [FdMapping.Same(0), FdMapping.Same(1), FdMapping.Same(2)];
        foreach (int fd in ioFds)
        {
            if (fd <= 2)
            {
                throw new ArgumentException($"io-fd {fd} collides with stdio", nameof(ioFds));
            }

            fds.Add(FdMapping.Same(fd));
        }

        return HardenedLauncher.Start(new HardenedLaunchSpec
        {
            Exports = exports,
            Executable = program.Executable,
            Arguments = [.. program.LeadingArguments, .. serveArguments],
            Environment = program.Environment,
            InheritedFds = fds,
            ExecSupport = program.ExecSupport,
        });
    }

    private static void Forward(PosixSignalContext context, HardenedChild child)
    {
        context.Cancel = true;
        int signal = context.Signal == PosixSignal.SIGINT ? Native.LinuxConstants.SIGINT : Native.LinuxConstants.SIGTERM;
        child.Signal(signal);
        _ = Task.Run(async () =>
        {
            if (await Task.WhenAny(child.WaitForExitAsync(), Task.Delay(TerminationGrace)).ConfigureAwait(false) is not Task<int>)
            {
                child.Signal(Native.LinuxConstants.SIGKILL);
            }
        });
    }
}
