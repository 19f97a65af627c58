namespace Gofer.Hardening;

/// <summary>Where things are inside the private root the confined child sees as "/".</summary>
internal static class HardenedLayout
{
    /// <summary>Parent of the exports inside the private root.</summary>
    public const string ExportsDirectory = "/exports";

    /// <summary>The confined child's procfs (its own PID namespace's, read-only).</summary>
    public const string ProcDirectory = "/proc";

    /// <summary>The path, inside the private root, where export <paramref name="index"/> is bound.</summary>
    public static string ExportPath(int index) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{ExportsDirectory}/{index}");
}

/// <summary>What to confine and what to run confined.</summary>
internal sealed class HardenedLaunchSpec
{
    /// <summary>Bound at <see cref="HardenedLayout.ExportPath"/>(i), in this order.</summary>
    public required IReadOnlyList<HardenedExport> Exports { get; init; }

    /// <summary>Host path of the program to run; it is bound read-only at its real path if no
    /// <see cref="ExecSupport"/> entry covers it already.</summary>
    public required string Executable { get; init; }

    /// <summary>argv, including argv[0].</summary>
    public required IReadOnlyList<string> Arguments { get; init; }

    /// <summary>The child's whole environment (nothing else is inherited).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Descriptors the child receives: stdio and the io-fds, normally each at its own number
    /// (<see cref="FdMapping.Same"/>). Every other descriptor is closed in the child.
    /// </summary>
    public IReadOnlyList<FdMapping> InheritedFds { get; init; } = [FdMapping.Same(0), FdMapping.Same(1), FdMapping.Same(2)];

    /// <summary>
    /// Host paths the program needs in order to run (its libraries, runtime, app directory),
    /// bound read-only, nosuid, nodev at their real paths. An entry that is itself a symlink
    /// (/lib64 → usr/lib64 on merged-/usr systems) is recreated as the same symlink, and its
    /// target bound. Never "/".
    /// </summary>
    public IReadOnlyList<string> ExecSupport { get; init; } = [];

    /// <summary>The capabilities left in the child's bounding (hence permitted and effective) set.</summary>
    public IReadOnlyList<Capability> RetainedCapabilities { get; init; } = ServingCapabilities.Default;

    /// <summary>
    /// Put the child in a new network namespace (no interfaces but a down loopback). Sockets
    /// handed over as inherited descriptors keep working; the child cannot open new connections.
    /// </summary>
    public bool NewNetworkNamespace { get; init; } = true;

    /// <summary>
    /// Mount a read-only procfs of the child's own PID namespace at /proc. The .NET runtime does
    /// not start without /proc (glibc reads /proc/self/maps for the main thread's stack).
    /// </summary>
    public bool MountProc { get; init; } = true;

    /// <summary>
    /// Install <see cref="SeccompDenyList"/> for the child (x86-64; on architectures without a
    /// table the child runs without a filter).
    /// </summary>
    public bool Seccomp { get; init; } = true;
}

/// <summary>Descriptor <paramref name="ParentFd"/> of the caller becomes <paramref name="ChildFd"/> in the child.</summary>
internal readonly record struct FdMapping(int ParentFd, int ChildFd)
{
    public static FdMapping Same(int fd) => new(fd, fd);
}
