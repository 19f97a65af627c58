namespace Gofer.Spec;

/// <summary>Which mounts the <c>--overlay2</c> setting covers.</summary>
public enum OverlayScope
{
    /// <summary>No overlay from the flag (hints may still ask for one).</summary>
    None,

    /// <summary>The rootfs only.</summary>
    Root,

    /// <summary>The rootfs and every writable bind mount.</summary>
    All,
}

/// <summary>
/// runsc's <c>--overlay2</c> in the forms gofer builds: <c>none</c>, <c>root:memory</c>, <c>all:memory</c>,
/// optionally followed by <c>,size=N[k|m|g]</c>. The upper layer is a tmpfs in sandbox memory; the
/// lower layer is served read-only by the gofer. File-backed stores (<c>self</c>, <c>dir=PATH</c>) are refused.
/// </summary>
public sealed record OverlayConfig(OverlayScope Scope, long? SizeBytes = null)
{
    /// <summary>No overlay.</summary>
    public static OverlayConfig None { get; } = new(OverlayScope.None);

    /// <summary>True when the rootfs gets a tmpfs upper layer.</summary>
    public bool RootEnabled => Scope is OverlayScope.Root or OverlayScope.All;

    /// <summary>True when writable bind mounts get a tmpfs upper layer.</summary>
    public bool SubmountsEnabled => Scope == OverlayScope.All;

    /// <summary>Parses the flag value. Throws <see cref="SpecException"/> with the reason.</summary>
    public static OverlayConfig Parse(string? value)
    {
        if (string.IsNullOrEmpty(value) || value == "none")
        {
            return None;
        }

        var parts = value.Split(',');
        var head = parts[0];
        var colon = head.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw Bad(value, "expected none or {root|all}:memory[,size=N]");
        }

        var scopeText = head[..colon];
        var medium = head[(colon + 1)..];
        var scope = scopeText switch
        {
            "root" => OverlayScope.Root,
            "all" => OverlayScope.All,
            _ => throw Bad(value, $"unknown scope \"{scopeText}\" (expected root or all)"),
        };

        if (medium == "self" || medium.StartsWith("dir=", StringComparison.Ordinal))
        {
            throw Bad(value, $"medium \"{medium}\" needs a file-backed overlay store, which gofer does not build; use {scopeText}:memory");
        }

        if (medium != "memory")
        {
            throw Bad(value, $"unknown medium \"{medium}\" (expected memory)");
        }

        long? size = null;
        for (var i = 1; i < parts.Length; i++)
        {
            if (!parts[i].StartsWith("size=", StringComparison.Ordinal))
            {
                throw Bad(value, $"unknown option \"{parts[i]}\" (expected size=N)");
            }

            size = ParseSize(value, parts[i]["size=".Length..]);
        }

        return new OverlayConfig(scope, size);
    }

    /// <summary>The flag text this config parses from.</summary>
    public override string ToString()
    {
        var text = Scope switch
        {
            OverlayScope.Root => "root:memory",
            OverlayScope.All => "all:memory",
            _ => "none",
        };
        return SizeBytes is { } s && Scope != OverlayScope.None ? $"{text},size={s}" : text;
    }

    private static long ParseSize(string value, string text)
    {
        if (text.Length == 0)
        {
            throw Bad(value, "size is empty");
        }

        long multiplier = char.ToLowerInvariant(text[^1]) switch
        {
            'k' => 1L << 10,
            'm' => 1L << 20,
            'g' => 1L << 30,
            _ => 1,
        };
        var digits = multiplier == 1 ? text : text[..^1];
        if (!long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            throw Bad(value, $"size \"{text}\" is not a positive number with an optional k/m/g suffix");
        }

        if (n > long.MaxValue / multiplier)
        {
            throw Bad(value, $"size \"{text}\" is too large");
        }

        return n * multiplier;
    }

    private static SpecException Bad(string value, string reason) => new($"--overlay2 {value}: {reason}");
}
