namespace Gofer.Spec;

/// <summary>Lexical helpers for paths inside the container (always '/'-separated and absolute).</summary>
public static class ContainerPath
{
    /// <summary>
    /// Cleans an absolute container path lexically: repeated '/' and '.' are dropped and '..'
    /// pops a component, clamped at the root (one cannot '..' out of '/').
    /// </summary>
    public static string Clean(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }

                continue;
            }

            parts.Add(part);
        }

        return "/" + string.Join('/', parts);
    }

    /// <summary>Number of components: "/" is 0, "/a" is 1, "/a/b" is 2. Parents have a smaller depth.</summary>
    public static int Depth(string cleanPath)
    {
        ArgumentNullException.ThrowIfNull(cleanPath);
        if (cleanPath == "/")
        {
            return 0;
        }

        var depth = 0;
        foreach (var c in cleanPath)
        {
            if (c == '/')
            {
                depth++;
            }
        }

        return depth;
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="parent"/> or below it (both clean).</summary>
    public static bool IsWithin(string path, string parent)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(parent);
        if (parent == "/")
        {
            return true;
        }

        return path == parent || (path.StartsWith(parent, StringComparison.Ordinal) && path.Length > parent.Length && path[parent.Length] == '/');
    }
}
