using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gofer.Spec;

/// <summary>The JSON shape of a plan (what <c>gofer plan --json</c> prints).</summary>
public sealed class MountPlanDocument
{
    [JsonPropertyName("bundle")]
    public required string Bundle { get; init; }

    [JsonPropertyName("container")]
    public required string Container { get; init; }

    [JsonPropertyName("overlay2")]
    public required string Overlay2 { get; init; }

    [JsonPropertyName("fileAccess")]
    public required string FileAccess { get; init; }

    /// <summary>The rootfs, then every mount in apply order.</summary>
    [JsonPropertyName("mounts")]
    public required List<MountDocument> Mounts { get; init; }

    /// <summary>Destinations in gofer FD order (index i is --io-fds entry i).</summary>
    [JsonPropertyName("goferFds")]
    public required List<string> GoferFds { get; init; }

    [JsonPropertyName("hints")]
    public required List<HintDocument> Hints { get; init; }

    [JsonPropertyName("warnings")]
    public required List<string> Warnings { get; init; }
}

/// <summary>One mount in <see cref="MountPlanDocument"/>.</summary>
public sealed class MountDocument
{
    [JsonPropertyName("destination")]
    public required string Destination { get; init; }

    [JsonPropertyName("resolvedDestination")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ResolvedDestination { get; init; }

    [JsonPropertyName("type")]
    public required string Type { get; init; }

    [JsonPropertyName("specType")]
    public string? SpecType { get; init; }

    [JsonPropertyName("source")]
    public string? Source { get; init; }

    [JsonPropertyName("fd")]
    public int? Fd { get; init; }

    [JsonPropertyName("cache")]
    public string? Cache { get; init; }

    [JsonPropertyName("flags")]
    public required string Flags { get; init; }

    [JsonPropertyName("overlay")]
    public bool Overlay { get; init; }

    [JsonPropertyName("goferReadOnly")]
    public bool GoferReadOnly { get; init; }

    [JsonPropertyName("condition")]
    public required string Condition { get; init; }

    [JsonPropertyName("origin")]
    public required string Origin { get; init; }

    [JsonPropertyName("specIndex")]
    public int? SpecIndex { get; init; }

    [JsonPropertyName("hint")]
    public string? Hint { get; init; }

    [JsonPropertyName("sharedVolume")]
    public string? SharedVolume { get; init; }

    [JsonPropertyName("data")]
    public required List<string> Data { get; init; }
}

/// <summary>One hint in <see cref="MountPlanDocument"/>.</summary>
public sealed class HintDocument
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("source")]
    public required string Source { get; init; }

    [JsonPropertyName("type")]
    public required string Type { get; init; }

    [JsonPropertyName("share")]
    public required string Share { get; init; }

    [JsonPropertyName("lifecycle")]
    public required string Lifecycle { get; init; }

    [JsonPropertyName("options")]
    public required List<string> Options { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(MountPlanDocument))]
internal sealed partial class MountPlanJsonContext : JsonSerializerContext;

/// <summary>Renders a plan as a table or as JSON.</summary>
public static class MountPlanText
{
    /// <summary>The wire name of a cache policy (as in goferfs mount data).</summary>
    public static string CacheName(CachePolicy policy) =>
        policy == CachePolicy.RemoteRevalidating ? "remote_revalidating" : "exclusive";

    /// <summary>Builds the JSON document.</summary>
    public static MountPlanDocument ToDocument(MountPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return new MountPlanDocument
        {
            Bundle = plan.BundleDirectory,
            Container = plan.ContainerName,
            Overlay2 = plan.Overlay.ToString(),
            FileAccess = plan.RootFileAccess == FileAccessType.Shared ? "shared" : "exclusive",
            Mounts = [.. new[] { plan.Root }.Concat(plan.Mounts).Select(ToMountDocument)],
            GoferFds = [.. plan.GoferMounts.Select(m => m.Destination)],
            Hints =
            [
                .. plan.Hints.Select(h => new HintDocument
                {
                    Name = h.Name,
                    Source = h.Source,
                    Type = h.Type,
                    Share = h.Share.ToString().ToLowerInvariant(),
                    Lifecycle = h.Lifecycle.ToString().ToLowerInvariant(),
                    Options = [.. h.Options],
                }),
            ],
            Warnings = [.. plan.Warnings],
        };
    }

    private static MountDocument ToMountDocument(PlannedMount m) => new()
    {
        Destination = m.Destination,
        ResolvedDestination = m.ResolvedDestination,
        Type = m.Type,
        SpecType = m.SpecType,
        Source = m.Source,
        Fd = m.GoferIndex,
        Cache = m.Cache is { } c ? CacheName(c) : null,
        Flags = MountOptions.Format(m.Flags),
        Overlay = m.Overlay,
        GoferReadOnly = m.GoferReadOnly,
        Condition = m.Condition == MountCondition.IfTargetEmpty ? "if-target-empty" : "always",
        Origin = m.Origin.ToString().ToLowerInvariant(),
        SpecIndex = m.SpecIndex,
        Hint = m.HintName,
        SharedVolume = m.SharedVolume,
        Data = [.. m.Data],
    };

    /// <summary>Indented JSON (source-generated serializer).</summary>
    public static string ToJson(MountPlan plan) =>
        JsonSerializer.Serialize(ToDocument(plan), MountPlanJsonContext.Default.MountPlanDocument);

    /// <summary>A readable table: one line per mount in apply order, then notes and warnings.</summary>
    public static string ToTable(MountPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var header = new[] { "DESTINATION", "TYPE", "SOURCE", "FD", "CACHE", "FLAGS", "OVERLAY" };
        var rows = new List<string[]>();
        foreach (var m in new[] { plan.Root }.Concat(plan.Mounts))
        {
            var destination = m.ResolvedDestination is { } r && r != m.Destination ? $"{m.Destination} -> {r}" : m.Destination;
            var flags = MountOptions.Format(m.Flags);
            if (m.GoferReadOnly && (m.Flags & MountFlags.ReadOnly) == 0)
            {
                flags += " (gofer ro)";
            }

            if (m.Condition == MountCondition.IfTargetEmpty)
            {
                flags += " (if empty)";
            }

            var source = m.Source ?? "-";
            if (m.SharedVolume is { } volume)
            {
                source = $"pod volume \"{volume}\"";
            }
            else if (m.HintName is { } hint && m.Kind != MountKind.Gofer)
            {
                source = $"hint \"{hint}\"";
            }

            rows.Add(
            [
                destination,
                m.Type,
                source,
                m.GoferIndex?.ToString(CultureInfo.InvariantCulture) ?? "-",
                m.Cache is { } c ? CacheName(c) : "-",
                flags,
                m.Overlay ? "memory" : "-",
            ]);
        }

        var widths = new int[header.Length];
        foreach (var row in rows.Prepend(header))
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var sb = new StringBuilder();
        sb.Append("bundle:      ").Append(plan.BundleDirectory).Append('\n');
        sb.Append("overlay2:    ").Append(plan.Overlay).Append('\n');
        sb.Append("gofer FDs:   ").Append(plan.GoferFdCount.ToString(CultureInfo.InvariantCulture))
          .Append(" (rootfs first, then bind mounts in spec order)\n\n");
        foreach (var row in rows.Prepend(header))
        {
            for (var i = 0; i < row.Length; i++)
            {
                sb.Append(i == row.Length - 1 ? row[i] : row[i].PadRight(widths[i] + 2));
            }

            sb.Append('\n');
        }

        if (plan.Warnings.Count > 0)
        {
            sb.Append('\n');
            foreach (var w in plan.Warnings)
            {
                sb.Append("warning: ").Append(w).Append('\n');
            }
        }

        return sb.ToString();
    }
}
