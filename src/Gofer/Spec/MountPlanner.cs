namespace Gofer.Spec;

/// <summary>Settings that are not in the bundle (runsc's --file-access, --file-access-mounts, --overlay2).</summary>
public sealed record PlanOptions
{
    /// <summary>File access for the rootfs. Default exclusive.</summary>
    public FileAccessType RootFileAccess { get; init; } = FileAccessType.Exclusive;

    /// <summary>File access for bind mounts without a hint. Default shared.</summary>
    public FileAccessType MountsFileAccess { get; init; } = FileAccessType.Shared;

    /// <summary>Overlay setting. Default none.</summary>
    public OverlayConfig Overlay { get; init; } = OverlayConfig.None;

    /// <summary>Check that the rootfs and every gofer mount source exist (default true).</summary>
    public bool CheckSources { get; init; } = true;

    /// <summary>Container name inside a pod ("" for a single container).</summary>
    public string ContainerName { get; init; } = string.Empty;

    /// <summary>
    /// Hints to use instead of the bundle's own annotations (a pod's containers share the hints of the
    /// pod sandbox). Null: read them from the bundle.
    /// </summary>
    public IReadOnlyList<MountHint>? Hints { get; init; }
}

/// <summary>Turns an OCI bundle into a <see cref="MountPlan"/> with the seeds' rules.</summary>
public static class MountPlanner
{
    /// <summary>Loads <c>DIR/config.json</c> and plans it.</summary>
    public static MountPlan Plan(string bundleDirectory, PlanOptions? options = null) =>
        Plan(OciBundle.Load(bundleDirectory), options);

    /// <summary>
    /// Plans a bundle. Order of work: hints; FD assignment over the spec mounts in spec order (rootfs = 0);
    /// mandatory mounts placed right after the root; a stable sort by destination depth for the apply
    /// order (FD assignment is not touched by it); then the conditional internal /tmp.
    /// Throws <see cref="SpecException"/> naming the field on any error.
    /// </summary>
    public static MountPlan Plan(OciBundle bundle, PlanOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        options ??= new PlanOptions();
        var warnings = new List<string>();
        var spec = bundle.Spec;
        var overlay = options.Overlay;

        if (options.RootFileAccess == FileAccessType.Shared && overlay.RootEnabled)
        {
            throw new SpecException($"--file-access shared cannot be combined with a rootfs overlay (--overlay2 {overlay})");
        }

        var hints = options.Hints ?? MountHints.Parse(spec.Annotations, bundle.ResolveHostPath, warnings);

        if (options.CheckSources && !Directory.Exists(bundle.RootPath))
        {
            throw SpecException.ConfigField("root.path", $"{bundle.RootPath} is not a directory");
        }

        var rootReadOnly = spec.Root!.Readonly;
        var root = new PlannedMount
        {
            Destination = "/",
            Kind = MountKind.Gofer,
            SpecType = "rootfs",
            Source = bundle.RootPath,
            GoferIndex = 0,
            Cache = ToCache(options.RootFileAccess),
            Flags = rootReadOnly ? MountFlags.ReadOnly : MountFlags.None,

            // A read-only root takes no writes, so an upper layer would only hide that.
            Overlay = overlay.RootEnabled && !rootReadOnly,
            Origin = MountOrigin.Root,
        };

        // Spec mounts in spec order; FDs are dispensed here, before anything is reordered.
        var fromSpec = new List<PlannedMount>();
        var nextFd = 1;
        bool procSeen = false, sysSeen = false, devSeen = false, devptsSeen = false, tmpSeen = false;
        var specMounts = spec.Mounts ?? [];
        for (var i = 0; i < specMounts.Count; i++)
        {
            var m = specMounts[i]!;
            var at = $"mounts[{i}]";
            var destination = ContainerPath.Clean(m.Destination!);
            var type = m.Type ?? string.Empty;

            switch (destination)
            {
                case "/proc": procSeen = true; break;
                case "/sys": sysSeen = true; break;
                case "/dev": devSeen = true; break;
                case "/dev/pts": devptsSeen = true; break;
                case "/tmp": tmpSeen = true; break;
            }

            var planned = PlanSpecMount(bundle, options, hints, warnings, m, at, destination, type, i, ref nextFd);
            if (planned is not null)
            {
                fromSpec.Add(planned);
            }
        }

        // The sandbox always has these; placed right after the root so spec submounts below them land on top.
        var mandatory = new List<PlannedMount>();
        if (!procSeen)
        {
            mandatory.Add(Internal("/proc", MountKind.Proc));
        }

        if (!sysSeen)
        {
            mandatory.Add(Internal("/sys", MountKind.Sysfs));
        }

        if (!devSeen)
        {
            mandatory.Add(Internal("/dev", MountKind.Devtmpfs));
        }

        if (!devptsSeen)
        {
            mandatory.Add(Internal("/dev/pts", MountKind.Devpts));
        }

        // Stable sort by depth: parents before children, equal depths keep their order
        // (gVisor's sort.Slice by length is not stable, so two siblings could swap between runs).
        var ordered = mandatory.Concat(fromSpec)
            .Select((mount, position) => (mount, position))
            .OrderBy(p => ContainerPath.Depth(p.mount.Destination))
            .ThenBy(p => p.position)
            .Select(p => p.mount)
            .ToList();

        if (!tmpSeen)
        {
            // mountTmp: after every submount, and only if /tmp is missing or empty at that point, so files
            // in the image's /tmp (or submount points below it) are never hidden. Sticky bit as usual for /tmp.
            ordered.Add(Internal("/tmp", MountKind.Tmpfs) with
            {
                Origin = MountOrigin.InternalTmp,
                Condition = MountCondition.IfTargetEmpty,
                Data = ["mode=01777"],
            });
        }

        return new MountPlan
        {
            BundleDirectory = bundle.Directory,
            ContainerName = options.ContainerName,
            Root = root,
            Mounts = ordered,
            Overlay = overlay,
            RootFileAccess = options.RootFileAccess,
            Hints = hints,
            Warnings = warnings,
        };
    }

    /// <summary>
    /// Resolves every destination's symlinks inside the rootfs (the way the gofer binds mounts under the
    /// container root), filling <see cref="PlannedMount.ResolvedDestination"/>.
    /// </summary>
    public static MountPlan ResolveDestinations(MountPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var rootPath = plan.Root.Source!;
        return plan with
        {
            Root = plan.Root with { ResolvedDestination = "/" },
            Mounts = plan.Mounts.Select(m => m with { ResolvedDestination = RootedPathResolver.Resolve(rootPath, m.Destination) }).ToList(),
        };
    }

    private static PlannedMount? PlanSpecMount(
        OciBundle bundle,
        PlanOptions options,
        IReadOnlyList<MountHint> hints,
        List<string> warnings,
        OciMount m,
        string at,
        string destination,
        string type,
        int index,
        ref int nextFd)
    {
        var isBind = type == "bind" || (m.Options?.Any(o => o is "bind" or "rbind") ?? false);

        // /dev and /dev/pts are always the sandbox's own devtmpfs/devpts, whatever the spec says.
        if (destination == "/dev" || destination == "/dev/pts")
        {
            var kind = destination == "/dev" ? MountKind.Devtmpfs : MountKind.Devpts;
            if (isBind && !string.IsNullOrEmpty(m.Source))
            {
                warnings.Add($"{at}: {destination} is always the sandbox's own {(kind == MountKind.Devtmpfs ? "devtmpfs" : "devpts")}; the bind from \"{m.Source}\" is not served");
            }

            return FromSpec(at, destination, kind, m, index, warnings, type);
        }

        var hint = string.IsNullOrEmpty(m.Source) ? null : FindHint(hints, bundle.ResolveHostPath(m.Source));

        if (isBind)
        {
            if (string.IsNullOrEmpty(m.Source))
            {
                throw SpecException.ConfigField(at + ".source", "a bind mount needs a source");
            }

            if (hint is { Type: MountHints.TypeTmpfs })
            {
                // The hint turns the volume into a sandbox tmpfs: no gofer connection for it.
                var tmp = FromSpec(at, destination, MountKind.Tmpfs, m, index, warnings, type) with { HintName = hint.Name };
                return ApplySharedVolume(tmp, hint, at);
            }

            var source = bundle.ResolveHostPath(m.Source);
            if (options.CheckSources && !Path.Exists(source))
            {
                throw SpecException.ConfigField(at + ".source", $"{source} does not exist");
            }

            var parsed = ParseOptions(at, m.Options, isTmpfs: false, warnings);
            var readOnly = (parsed.Flags & MountFlags.ReadOnly) != 0;
            var access = hint?.FileAccess ?? options.MountsFileAccess;
            var overlay = !readOnly && (options.Overlay.SubmountsEnabled || (hint?.ShouldOverlay ?? false));
            return new PlannedMount
            {
                Destination = destination,
                Kind = MountKind.Gofer,
                SpecType = type.Length == 0 ? "bind" : type,
                Source = source,
                GoferIndex = nextFd++,
                Cache = ToCache(access),
                Flags = parsed.Flags,
                Overlay = overlay,
                Origin = MountOrigin.Spec,
                SpecIndex = index,
                HintName = hint?.Name,
            };
        }

        MountKind? k = type switch
        {
            "tmpfs" => MountKind.Tmpfs,
            "proc" => MountKind.Proc,
            "sysfs" => MountKind.Sysfs,
            "devtmpfs" => MountKind.Devtmpfs,
            "devpts" => MountKind.Devpts,
            _ => null,
        };
        if (k is null)
        {
            warnings.Add($"{at}: ignoring mount of unsupported type \"{type}\" at {destination}");
            return null;
        }

        var planned = FromSpec(at, destination, k.Value, m, index, warnings, type);
        if (hint is not null)
        {
            if (hint.Type == MountHints.TypeTmpfs && k == MountKind.Tmpfs)
            {
                return ApplySharedVolume(planned with { HintName = hint.Name }, hint, at);
            }

            warnings.Add($"{at}: mount hint \"{hint.Name}\" (type {hint.Type}) does not apply to a {type} mount; ignored");
        }

        return planned;
    }

    private static PlannedMount ApplySharedVolume(PlannedMount mount, MountHint hint, string at)
    {
        if (!hint.ShouldShareMount)
        {
            return mount;
        }

        // The replica binds the pod's master volume: it may be as or more restrictive, never less.
        if (hint.CheckCompatible(mount.Flags) is { } reason)
        {
            throw SpecException.ConfigField(at + ".options", reason);
        }

        return mount with { SharedVolume = hint.Name };
    }

    private static PlannedMount FromSpec(string at, string destination, MountKind kind, OciMount m, int index, List<string> warnings, string type)
    {
        var parsed = ParseOptions(at, m.Options, kind == MountKind.Tmpfs, warnings);
        return new PlannedMount
        {
            Destination = destination,
            Kind = kind,
            SpecType = type,
            Source = string.IsNullOrEmpty(m.Source) ? null : m.Source,
            Flags = parsed.Flags,
            Data = parsed.Data,
            Origin = MountOrigin.Spec,
            SpecIndex = index,
        };
    }

    private static ParsedMountOptions ParseOptions(string at, List<string?>? options, bool isTmpfs, List<string> warnings)
    {
        var parsed = MountOptions.Parse(options?.Select(o => o!), isTmpfs);
        foreach (var o in parsed.Ignored)
        {
            warnings.Add($"{at}.options: ignoring unsupported option \"{o}\"");
        }

        return parsed;
    }

    private static PlannedMount Internal(string destination, MountKind kind) => new()
    {
        Destination = destination,
        Kind = kind,
        Flags = MountFlags.None,
        Origin = MountOrigin.Mandatory,
    };

    private static MountHint? FindHint(IReadOnlyList<MountHint> hints, string source)
    {
        foreach (var h in hints)
        {
            if (h.Source == source)
            {
                return h;
            }
        }

        return null;
    }

    private static CachePolicy ToCache(FileAccessType access) =>
        access == FileAccessType.Shared ? CachePolicy.RemoteRevalidating : CachePolicy.Exclusive;
}
