using System.Text.Json;

namespace Gofer.Spec;

/// <summary>
/// An OCI bundle read and validated: the directory, its <c>config.json</c>, and the absolute
/// rootfs path. Relative paths in the spec (root.path, bind sources) resolve against the bundle.
/// </summary>
public sealed class OciBundle
{
    /// <summary>The name of the spec file inside a bundle.</summary>
    public const string ConfigFileName = "config.json";

    private OciBundle(string directory, OciSpec spec, string rootPath)
    {
        Directory = directory;
        Spec = spec;
        RootPath = rootPath;
    }

    /// <summary>Absolute bundle directory.</summary>
    public string Directory { get; }

    /// <summary>The parsed spec; every field the planner reads has been validated.</summary>
    public OciSpec Spec { get; }

    /// <summary>Absolute host path of the rootfs.</summary>
    public string RootPath { get; }

    /// <summary>Reads <c>DIR/config.json</c>. Throws <see cref="SpecException"/> naming the field on bad input.</summary>
    public static OciBundle Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var dir = Path.GetFullPath(directory);
        var file = Path.Combine(dir, ConfigFileName);
        string json;
        try
        {
            json = File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SpecException($"{ConfigFileName}: cannot read {file}: {e.Message}", e);
        }

        return Parse(dir, json);
    }

    /// <summary>Parses and validates a spec given as text, as if it were <c>DIR/config.json</c>.</summary>
    public static OciBundle Parse(string directory, string json)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(json);
        var dir = Path.GetFullPath(directory);
        OciSpec? spec;
        try
        {
            spec = JsonSerializer.Deserialize(json, OciSpecJsonContext.Default.OciSpec);
        }
        catch (JsonException e)
        {
            var field = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "(document)" : e.Path.TrimStart('$').TrimStart('.');
            var where = e.LineNumber is { } line ? $" (line {line + 1})" : string.Empty;
            throw SpecException.ConfigField(field, $"invalid JSON{where}: {FirstSentence(e.Message)}");
        }

        if (spec is null)
        {
            throw SpecException.ConfigField("(document)", "must be a JSON object");
        }

        var root = Validate(spec);
        var rootPath = Path.IsPathRooted(root) ? Path.GetFullPath(root) : Path.GetFullPath(Path.Combine(dir, root));
        return new OciBundle(dir, spec, rootPath);
    }

    /// <summary>Resolves a host path from the spec (a bind source) against the bundle directory.</summary>
    public string ResolveHostPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(Directory, path));
    }

    // Checks every field planning depends on, so the planner can trust the shape.
    private static string Validate(OciSpec spec)
    {
        if (spec.Root is null)
        {
            throw SpecException.ConfigField("root", "is required");
        }

        if (string.IsNullOrEmpty(spec.Root.Path))
        {
            throw SpecException.ConfigField("root.path", "is required and must not be empty");
        }

        CheckNoNul("root.path", spec.Root.Path);

        if (spec.Mounts is { } mounts)
        {
            for (var i = 0; i < mounts.Count; i++)
            {
                var m = mounts[i];
                var at = $"mounts[{i}]";
                if (m is null)
                {
                    throw SpecException.ConfigField(at, "must be an object, not null");
                }

                if (string.IsNullOrEmpty(m.Destination))
                {
                    throw SpecException.ConfigField(at + ".destination", "is required and must not be empty");
                }

                CheckNoNul(at + ".destination", m.Destination);
                if (m.Destination[0] != '/')
                {
                    throw SpecException.ConfigField(at + ".destination", $"must be an absolute path (got \"{m.Destination}\")");
                }

                if (m.Source is not null)
                {
                    CheckNoNul(at + ".source", m.Source);
                }

                if (m.Type is not null)
                {
                    CheckNoNul(at + ".type", m.Type);
                }

                if (m.Options is { } options)
                {
                    for (var j = 0; j < options.Count; j++)
                    {
                        if (options[j] is null)
                        {
                            throw SpecException.ConfigField($"{at}.options[{j}]", "must be a string, not null");
                        }

                        CheckNoNul($"{at}.options[{j}]", options[j]!);
                    }
                }
            }
        }

        if (spec.Annotations is { } annotations)
        {
            foreach (var (key, value) in annotations)
            {
                if (value is null)
                {
                    throw SpecException.ConfigField($"annotations[\"{key}\"]", "must be a string, not null");
                }
            }
        }

        return spec.Root.Path;
    }

    private static void CheckNoNul(string field, string value)
    {
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw SpecException.ConfigField(field, "must not contain a NUL character");
        }
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
