namespace Gofer.Spec;

/// <summary>What the sandbox mounts at a destination.</summary>
public enum MountKind
{
    /// <summary>A 9P mount served by the gofer over its own FD (the rootfs or a bind mount).</summary>
    Gofer,

    /// <summary>A tmpfs in sandbox memory.</summary>
    Tmpfs,

    /// <summary>procfs.</summary>
    Proc,

    /// <summary>sysfs.</summary>
    Sysfs,

    /// <summary>devtmpfs (always at /dev).</summary>
    Devtmpfs,

    /// <summary>devpts (always at /dev/pts).</summary>
    Devpts,
}

/// <summary>Where a plan entry came from.</summary>
public enum MountOrigin
{
    /// <summary>The spec's root.</summary>
    Root,

    /// <summary>An entry of the spec's <c>mounts</c>.</summary>
    Spec,

    /// <summary>Added because the sandbox always has it (/proc, /sys, /dev, /dev/pts).</summary>
    Mandatory,

    /// <summary>The internal tmpfs at /tmp (when the spec does not mount /tmp).</summary>
    InternalTmp,
}

/// <summary>A condition the sandbox checks when it applies a mount.</summary>
public enum MountCondition
{
    /// <summary>Always mounted.</summary>
    Always,

    /// <summary>
    /// Mounted only if the destination does not exist in the rootfs or is an empty directory
    /// (the internal /tmp: never hide files the image put there). Left alone if it is not a directory.
    /// </summary>
    IfTargetEmpty,
}

/// <summary>How the sandbox caches a gofer mount.</summary>
public enum CachePolicy
{
    /// <summary>The sandbox is the only writer: cache without revalidation.</summary>
    Exclusive,

    /// <summary>Others may write: revalidate cached dentries/attributes on each walk (cache=remote_revalidating).</summary>
    RemoteRevalidating,
}

/// <summary>One mount of the plan.</summary>
public sealed record PlannedMount
{
    /// <summary>Clean absolute destination inside the container ("/" for the rootfs).</summary>
    public required string Destination { get; init; }

    /// <summary>
    /// The destination with symlinks resolved inside the rootfs (never outside), once
    /// <see cref="MountPlanner.ResolveDestinations"/> has run; null before.
    /// </summary>
    public string? ResolvedDestination { get; init; }

    /// <summary>What is mounted.</summary>
    public required MountKind Kind { get; init; }

    /// <summary>Filesystem name for display: 9p, tmpfs, proc, sysfs, devtmpfs, devpts.</summary>
    public string Type => Kind switch
    {
        MountKind.Gofer => "9p",
        MountKind.Tmpfs => "tmpfs",
        MountKind.Proc => "proc",
        MountKind.Sysfs => "sysfs",
        MountKind.Devtmpfs => "devtmpfs",
        MountKind.Devpts => "devpts",
        _ => "?",
    };

    /// <summary>The spec's type for this mount ("bind", "tmpfs", ...; "rootfs" for the root; null when added).</summary>
    public string? SpecType { get; init; }

    /// <summary>Absolute host path served by the gofer (gofer mounts), or the spec's source for others.</summary>
    public string? Source { get; init; }

    /// <summary>Index into the gofer FDs (<c>--io-fds</c>): 0 is the rootfs, then bind mounts in spec order. Null when not a gofer mount.</summary>
    public int? GoferIndex { get; init; }

    /// <summary>Cache policy of a gofer mount; null for sandbox-internal filesystems.</summary>
    public CachePolicy? Cache { get; init; }

    /// <summary>Flags as the sandbox shows them.</summary>
    public required MountFlags Flags { get; init; }

    /// <summary>True when a tmpfs upper layer in sandbox memory takes every write (the lower layer is read-only).</summary>
    public bool Overlay { get; init; }

    /// <summary>True when the gofer must serve this mount read-only: the mount is ro, or overlaid.</summary>
    public bool GoferReadOnly => Kind == MountKind.Gofer && ((Flags & MountFlags.ReadOnly) != 0 || Overlay);

    /// <summary>Filesystem data kept for the sandbox (tmpfs mode=, size=, ...).</summary>
    public IReadOnlyList<string> Data { get; init; } = [];

    /// <summary>When the sandbox applies this mount.</summary>
    public MountCondition Condition { get; init; }

    /// <summary>Where the entry came from.</summary>
    public required MountOrigin Origin { get; init; }

    /// <summary>Index in the spec's <c>mounts</c> array, or null for the root and added mounts.</summary>
    public int? SpecIndex { get; init; }

    /// <summary>Name of the mount hint that applied, if any.</summary>
    public string? HintName { get; init; }

    /// <summary>
    /// For a pod-shared volume (hint share=pod, type tmpfs): the volume (hint) name. The sandbox mounts one
    /// master per pod and binds it here in every container that names it.
    /// </summary>
    public string? SharedVolume { get; init; }
}

/// <summary>
/// The mount plan of one container: the rootfs, then the mounts in the order the sandbox applies them
/// (stable sort by destination depth, so parents precede children), and the gofer mounts in FD order.
/// </summary>
public sealed record MountPlan
{
    /// <summary>Absolute bundle directory.</summary>
    public required string BundleDirectory { get; init; }

    /// <summary>Container name within its pod (the root container of a single-container sandbox is "").</summary>
    public string ContainerName { get; init; } = string.Empty;

    /// <summary>The rootfs mount (gofer index 0).</summary>
    public required PlannedMount Root { get; init; }

    /// <summary>Every other mount, in apply order (parents first; ties keep spec order). The internal /tmp comes last.</summary>
    public required IReadOnlyList<PlannedMount> Mounts { get; init; }

    /// <summary>The overlay setting the plan was made with.</summary>
    public required OverlayConfig Overlay { get; init; }

    /// <summary>The rootfs file access the plan was made with.</summary>
    public FileAccessType RootFileAccess { get; init; }

    /// <summary>The mount hints found in the annotations (after validation).</summary>
    public IReadOnlyList<MountHint> Hints { get; init; } = [];

    /// <summary>Things that were ignored or adjusted; the caller decides whether to print them.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The gofer mounts in FD order: rootfs first, then bind mounts in spec order (not apply order).</summary>
    public IReadOnlyList<PlannedMount> GoferMounts =>
        [Root, .. Mounts.Where(m => m.GoferIndex is not null).OrderBy(m => m.GoferIndex!.Value)];

    /// <summary>Number of FDs the gofer needs (<c>--io-fds</c> count).</summary>
    public int GoferFdCount => GoferMounts.Count;
}
