namespace Gofer.Spec;

/// <summary>
/// Resolves a container path against a rootfs on the host the way the process inside would see it:
/// symlinks are followed relative to the root (an absolute target restarts at the root, not at the
/// host's '/'), '..' is clamped at the root, and missing components are kept as they are (they will be
/// created as mount points). The result is a clean container path, never a host path outside the root.
/// </summary>
public static class RootedPathResolver
{
    /// <summary>Maximum symlinks followed in one resolution (runsc allows 255).</summary>
    public const int MaxSymlinkFollows = 255;

    /// <summary>Returns the canonical container path of <paramref name="containerPath"/> inside <paramref name="hostRoot"/>.</summary>
    public static string Resolve(string hostRoot, string containerPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(hostRoot);
        ArgumentNullException.ThrowIfNull(containerPath);
        var resolved = new List<string>();

        // Components still to walk, the next one on top.
        var pending = new Stack<string>();
        PushPath(pending, containerPath);
        var follows = 0;

        while (pending.Count > 0)
        {
            var name = pending.Pop();
            if (name.Length == 0 || name == ".")
            {
                continue;
            }

            if (name == "..")
            {
                // One cannot '..' out of the root.
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }

                continue;
            }

            var host = Path.Join(hostRoot, string.Join('/', resolved), name);
            string? target;
            try
            {
                // LinkTarget is readlink(2): null when the entry is not a symlink or does not exist.
                target = new FileInfo(host).LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                target = null;
            }

            if (target is null)
            {
                // A directory, a file, or missing (a mount point still to be made): kept as written.
                resolved.Add(name);
                continue;
            }

            if (++follows > MaxSymlinkFollows)
            {
                throw new SpecException($"{containerPath}: too many levels of symbolic links inside the rootfs");
            }

            if (target.StartsWith('/'))
            {
                resolved.Clear();
            }

            PushPath(pending, target);
        }

        return "/" + string.Join('/', resolved);
    }

    private static void PushPath(Stack<string> pending, string path)
    {
        var parts = path.Split('/');
        for (var i = parts.Length - 1; i >= 0; i--)
        {
            pending.Push(parts[i]);
        }
    }
}
