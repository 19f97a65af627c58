namespace Gofer.Fuzz;

/// <summary>One fuzz target: throws on a finding (any exception), returns otherwise.</summary>
public delegate void FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>The targets by name, and the replay used by the CLI and by the test run.</summary>
public static class Targets
{
    public static IReadOnlyList<string> Names { get; } = ["codec", "session", "client"];

    public static bool TryGet(string name, out FuzzTarget target)
    {
        target = name switch
        {
            "codec" => CodecTarget.Run,
            "session" => SessionTarget.Run,
            "client" => ClientTarget.Run,
            _ => null!,
        };
        return target is not null;
    }

    /// <summary>Runs one input; returns null when it passed, else the finding (exception text).</summary>
    public static string? RunOne(FuzzTarget target, byte[] input)
    {
        try
        {
            target(input);
            return null;
        }
        catch (Exception e)
        {
            return e.ToString();
        }
    }

    /// <summary>Files, and every file under directories (sorted, README and dotfiles skipped).</summary>
    public static IEnumerable<string> ExpandInputs(IEnumerable<string> paths)
    {
        foreach (string path in paths)
        {
            if (Directory.Exists(path))
            {
                foreach (string f in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    string n = Path.GetFileName(f);
                    if (!n.StartsWith('.') && !n.EndsWith(".md", StringComparison.Ordinal) && !n.EndsWith(".txt", StringComparison.Ordinal))
                        yield return f;
                }
            }
            else
            {
                yield return path;
            }
        }
    }
}
