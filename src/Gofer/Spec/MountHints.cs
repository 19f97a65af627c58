namespace Gofer.Spec;

/// <summary>Who may access and mutate a volume's contents (hint field <c>share</c>).</summary>
public enum ShareType
{
    /// <summary>Used by one container only; no outside observers.</summary>
    Container,

    /// <summary>Used by several containers of the pod; no outside observers.</summary>
    Pod,

    /// <summary>May also be changed outside the pod (e.g. NFS).</summary>
    Shared,
}

/// <summary>Whether a volume's creation and deletion follow the pod, the container, or neither (hint field <c>lifecycle</c>).</summary>
public enum LifecycleType
{
    /// <summary>Outlives the pod; the safe default.</summary>
    Shared,

    /// <summary>Destroyed with the pod.</summary>
    Pod,

    /// <summary>Destroyed with the container.</summary>
    Container,
}

/// <summary>Sandbox-side file access to a gofer mount, which decides its cache policy.</summary>
public enum FileAccessType
{
    /// <summary>The sandbox is the only writer.</summary>
    Exclusive,

    /// <summary>Others may change the files.</summary>
    Shared,
}

/// <summary>
/// A mount hint from annotations <c>dev.gvisor.spec.mount.NAME.{source,type,share,options,lifecycle}</c>.
/// Hints match spec mounts by source (resolved against the bundle directory).
/// </summary>
public sealed record MountHint(
    string Name,
    string Source,
    string Type,
    ShareType Share,
    LifecycleType Lifecycle,
    MountFlags Flags,
    IReadOnlyList<string> Options)
{
    /// <summary>A tmpfs shared by the containers of the pod: one master volume, bound into each container.</summary>
    public bool ShouldShareMount => Type == MountHints.TypeTmpfs && Share == ShareType.Pod;

    /// <summary>
    /// A container-private bind volume whose lifetime ends with the container or pod: writes can stay in
    /// a tmpfs upper layer. (Shared bind volumes would need a common gofer to be overlaid safely.)
    /// </summary>
    public bool ShouldOverlay => Type == MountHints.TypeBind && Share == ShareType.Container && Lifecycle != LifecycleType.Shared;

    /// <summary>The file access this hint gives a bind mount: only share=container is exclusive.</summary>
    public FileAccessType FileAccess => Share == ShareType.Container || ShouldShareMount ? FileAccessType.Exclusive : FileAccessType.Shared;

    /// <summary>
    /// Checks a replica mount against this (master) hint: the master must be the same or less
    /// restrictive. A read-only master forbids rw replicas, noexec forbids exec, noatime forbids atime,
    /// nosuid forbids suid. Returns the reason, or null when compatible.
    /// </summary>
    public string? CheckCompatible(MountFlags replica)
    {
        if ((Flags & MountFlags.ReadOnly) != 0 && (replica & MountFlags.ReadOnly) == 0)
        {
            return $"cannot mount shared volume \"{Name}\" read-write because its master is read-only";
        }

        if ((Flags & MountFlags.NoExec) != 0 && (replica & MountFlags.NoExec) == 0)
        {
            return $"cannot mount shared volume \"{Name}\" with exec because its master is noexec";
        }

        if ((Flags & MountFlags.NoAtime) != 0 && (replica & MountFlags.NoAtime) == 0)
        {
            return $"cannot mount shared volume \"{Name}\" with atime because its master is noatime";
        }

        if ((Flags & MountFlags.NoSuid) != 0 && (replica & MountFlags.NoSuid) == 0)
        {
            return $"cannot mount shared volume \"{Name}\" with suid because its master is nosuid";
        }

        return null;
    }
}

/// <summary>Parses mount hints out of a spec's annotations.</summary>
public static class MountHints
{
    /// <summary>The annotation prefix for mount hints.</summary>
    public const string Prefix = "dev.gvisor.spec.mount.";

    internal const string TypeTmpfs = "tmpfs";
    internal const string TypeBind = "bind";

    /// <summary>
    /// Reads every <c>dev.gvisor.spec.mount.*</c> annotation. A malformed key (not NAME.FIELD, or an empty
    /// name) and two hints with the same source are errors; an invalid field value is ignored with a
    /// warning; a hint that lacks source, type or share is dropped with a warning.
    /// Hint sources are resolved with <paramref name="resolveSource"/> (relative to the bundle).
    /// </summary>
    public static IReadOnlyList<MountHint> Parse(
        IReadOnlyDictionary<string, string?>? annotations,
        Func<string, string> resolveSource,
        ICollection<string> warnings)
    {
        ArgumentNullException.ThrowIfNull(resolveSource);
        ArgumentNullException.ThrowIfNull(warnings);
        if (annotations is null)
        {
            return [];
        }

        var builders = new SortedDictionary<string, Builder>(StringComparer.Ordinal);

        // Sorted keys make warnings and errors come out in the same order every time.
        foreach (var key in annotations.Keys.Where(k => k.StartsWith(Prefix, StringComparison.Ordinal)).OrderBy(k => k, StringComparer.Ordinal))
        {
            var value = annotations[key] ?? string.Empty;
            var parts = key[Prefix.Length..].Split('.');
            if (parts.Length != 2)
            {
                throw SpecException.ConfigField($"annotations[\"{key}\"]", $"invalid mount hint: expected {Prefix}NAME.FIELD");
            }

            var name = parts[0];
            if (name.Length == 0)
            {
                throw SpecException.ConfigField($"annotations[\"{key}\"]", "invalid mount hint: the name is empty");
            }

            if (!builders.TryGetValue(name, out var b))
            {
                b = new Builder(name);
                builders[name] = b;
            }

            var error = b.SetField(parts[1], value, warnings);
            if (error is not null)
            {
                warnings.Add($"annotations[\"{key}\"]: ignoring invalid mount hint field: {error}");
            }
        }

        var hints = new List<MountHint>();
        foreach (var b in builders.Values)
        {
            var missing = new List<string>();
            if (b.Source is null)
            {
                missing.Add("source");
            }

            if (b.Type is null)
            {
                missing.Add("type");
            }

            if (b.Share is null)
            {
                missing.Add("share");
            }

            if (missing.Count > 0)
            {
                warnings.Add($"mount hint \"{b.Name}\": ignored because required field(s) are missing: {string.Join(", ", missing)}");
                continue;
            }

            hints.Add(new MountHint(b.Name, resolveSource(b.Source!), b.Type!, b.Share!.Value, b.Lifecycle, b.Flags, b.Options));
        }

        for (var i = 0; i < hints.Count; i++)
        {
            for (var j = i + 1; j < hints.Count; j++)
            {
                if (hints[i].Source == hints[j].Source)
                {
                    throw new SpecException(
                        $"config.json: annotations: mount hints \"{hints[i].Name}\" and \"{hints[j].Name}\" have the same source \"{hints[i].Source}\"");
                }
            }
        }

        return hints;
    }

    private sealed class Builder(string name)
    {
        public string Name { get; } = name;

        public string? Source { get; private set; }

        public string? Type { get; private set; }

        public ShareType? Share { get; private set; }

        public LifecycleType Lifecycle { get; private set; } = LifecycleType.Shared;

        public MountFlags Flags { get; private set; }

        public IReadOnlyList<string> Options { get; private set; } = [];

        // Returns the reason a value is rejected, or null.
        public string? SetField(string field, string value, ICollection<string> warnings)
        {
            switch (field)
            {
                case "source":
                    if (value.Length == 0)
                    {
                        return "source cannot be empty";
                    }

                    Source = value;
                    return null;
                case "type":
                    if (value is not (TypeTmpfs or TypeBind))
                    {
                        return $"invalid type \"{value}\" (expected tmpfs or bind)";
                    }

                    Type = value;
                    return null;
                case "share":
                    ShareType? share = value switch
                    {
                        "container" => ShareType.Container,
                        "pod" => ShareType.Pod,
                        "shared" => ShareType.Shared,
                        _ => null,
                    };
                    if (share is null)
                    {
                        return $"invalid share \"{value}\" (expected container, pod or shared)";
                    }

                    Share = share;
                    return null;
                case "lifecycle":
                    LifecycleType? life = value switch
                    {
                        "shared" => LifecycleType.Shared,
                        "pod" => LifecycleType.Pod,
                        "container" => LifecycleType.Container,
                        _ => null,
                    };
                    if (life is null)
                    {
                        return $"invalid lifecycle \"{value}\" (expected shared, pod or container)";
                    }

                    Lifecycle = life.Value;
                    return null;
                case "options":
                    var list = value.Length == 0 ? [] : value.Split(',');
                    var parsed = MountOptions.Parse(list, isTmpfs: true);
                    foreach (var o in parsed.Ignored)
                    {
                        warnings.Add($"mount hint \"{Name}\": ignoring unsupported option \"{o}\"");
                    }

                    Flags = parsed.Flags;
                    Options = list.Where(o => !parsed.Ignored.Contains(o)).ToArray();
                    return null;
                default:
                    return $"unknown field \"{field}\"";
            }
        }
    }
}
