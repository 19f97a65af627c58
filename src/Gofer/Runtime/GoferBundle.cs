using System.Globalization;
using Gofer.Runtime.Native;
using Gofer.Spec;

namespace Gofer.Runtime;

/// <summary>
/// What <c>gofer serve</c> does with one of its <c>--io-fds</c>: serve <see cref="Root"/> over <see cref="Fd"/>
/// as an independent 9P2000.L session, read-only when <see cref="ReadOnly"/>.
/// </summary>
public sealed record GoferMountConfig
{
    /// <summary>Position in <c>--io-fds</c> (0 = rootfs).</summary>
    public required int Index { get; init; }

    /// <summary>The connected socket FD to serve.</summary>
    public required int Fd { get; init; }

    /// <summary>Host directory (or file) that is the export root of this session.</summary>
    public required string Root { get; init; }

    /// <summary>Refuse every mutation with EROFS: the mount is read-only, or overlaid (writes stay in the sandbox).</summary>
    public required bool ReadOnly { get; init; }

    /// <summary>All flags of the mount as the sandbox shows them (informational for the gofer).</summary>
    public required MountFlags Flags { get; init; }

    /// <summary>Container destination as written in the spec ("/" for the rootfs).</summary>
    public required string Destination { get; init; }

    /// <summary>Destination with symlinks resolved inside the rootfs.</summary>
    public required string ResolvedDestination { get; init; }

    /// <summary>The sandbox's cache policy for this mount (informational for the gofer).</summary>
    public required CachePolicy Cache { get; init; }
}

/// <summary>The gofer side of a bundle: one <see cref="GoferMountConfig"/> per io-fd, and the report for --mounts-fd.</summary>
public sealed record GoferBundle(MountPlan Plan, IReadOnlyList<GoferMountConfig> Mounts)
{
    /// <summary>
    /// Plans the bundle exactly as the runtime does and pairs FD i with gofer mount i (rootfs first, then
    /// bind mounts in spec order). Too few or too many FDs is an error naming both counts.
    /// Throws <see cref="SpecException"/>.
    /// </summary>
    public static GoferBundle Resolve(string bundleDirectory, IReadOnlyList<int> ioFds, PlanOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(ioFds);
        var plan = MountPlanner.ResolveDestinations(MountPlanner.Plan(bundleDirectory, options));
        var gofer = plan.GoferMounts;
        if (ioFds.Count != gofer.Count)
        {
            throw new SpecException(
                $"--io-fds: {ioFds.Count} FD(s) given but the bundle has {gofer.Count} gofer mount(s): {string.Join(", ", gofer.Select(m => m.Destination))}");
        }

        var mounts = FdDispenser<int>.Assign(plan, ioFds)
            .Select(p => new GoferMountConfig
            {
                Index = p.Mount.GoferIndex!.Value,
                Fd = p.Fd,
                Root = p.Mount.Source!,
                ReadOnly = p.Mount.GoferReadOnly,
                Flags = p.Mount.Flags,
                Destination = p.Mount.Destination,
                ResolvedDestination = p.Mount.ResolvedDestination!,
                Cache = p.Mount.Cache!.Value,
            })
            .ToList();
        return new GoferBundle(plan, mounts);
    }

    /// <summary>
    /// Everything <c>gofer serve</c> does with its runtime options, from their raw text:
    /// <c>--bundle</c>, <c>--io-fds</c> ("3,4,5"), <c>--mounts-fd</c> (optional), <c>--overlay2</c> and
    /// <c>--file-access</c> (optional, same meaning as for <c>gofer plan</c>). Resolves the bundle, pairs the
    /// FDs, and writes the report on the mounts FD (closing it) when one is given. Serve then serves each
    /// <see cref="Mounts"/> entry. Throws <see cref="SpecException"/> with a message for the user.
    /// </summary>
    public static GoferBundle PrepareServe(string bundleDirectory, string ioFds, int? mountsFd = null, string? overlay2 = null, string? fileAccess = null)
    {
        var options = new PlanOptions
        {
            Overlay = OverlayConfig.Parse(overlay2),
            RootFileAccess = fileAccess switch
            {
                null or "" or "exclusive" => FileAccessType.Exclusive,
                "shared" => FileAccessType.Shared,
                _ => throw new SpecException($"--file-access {fileAccess}: expected exclusive or shared"),
            },
        };
        var bundle = Resolve(bundleDirectory, ParseFdList(ioFds), options);
        if (mountsFd is { } fd)
        {
            bundle.WriteReport(fd);
        }

        return bundle;
    }

    /// <summary>Parses <c>--io-fds</c> ("3,4,5"). Throws <see cref="SpecException"/>.</summary>
    public static IReadOnlyList<int> ParseFdList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new List<int>();
        foreach (var part in text.Split(','))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var fd))
            {
                throw new SpecException($"--io-fds: \"{part}\" is not a file descriptor number");
            }

            if (result.Contains(fd))
            {
                throw new SpecException($"--io-fds: FD {fd} is listed twice");
            }

            result.Add(fd);
        }

        return result;
    }

    /// <summary>The report the gofer writes on --mounts-fd.</summary>
    public IReadOnlyList<ResolvedMount> Report =>
        Mounts.Select(m => new ResolvedMount(m.Index, m.Destination, m.ResolvedDestination, m.Root, m.ReadOnly)).ToList();

    /// <summary>
    /// Writes <see cref="Report"/> to <paramref name="mountsFd"/> and closes it (the runtime reads to EOF).
    /// Call once the mounts are resolved, before serving.
    /// </summary>
    public void WriteReport(int mountsFd)
    {
        using var handle = new SafeFdHandle(mountsFd, ownsHandle: true);
        MountsReportIo.WriteAll(handle, MountsReport.Format(Report));
    }
}
