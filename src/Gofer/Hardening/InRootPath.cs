namespace Gofer.Hardening;

/// <summary>
/// Resolves a mount destination inside a container root as the container would see it:
/// symlinks are followed relative to the root (an absolute link restarts at the root, not at
/// the host's "/"), ".." stops at the root, and the result is always under the root.
/// Components that do not exist yet are kept literally (mount points to be created).
/// </summary>
/// <remarks>
/// runsc's resolveSymlinks (seed: runsc-container-fs.go) had two flaws this avoids: a ".."
/// above the root set the candidate path but not the base, and the containment check was a
/// string prefix ("/rootfs2" passes for root "/rootfs"). This walks a component stack instead.
/// The answer is a path *relative to the root*: act on it with openat2(rootfd, path,
/// RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) or component-wise O_NOFOLLOW, so a rootfs changed
/// after resolution still cannot redirect the mount outside the root.
/// </remarks>
internal static class InRootPath
{
    /// <summary>Linux's own limit on symlinks followed in one lookup is 40; runsc allowed 255.</summary>
    public const int MaxSymlinks = 40;

    /// <summary>The destination, resolved inside <paramref name="root"/>, relative to it ("" is the root).</summary>
    /// <exception cref="HardeningException">Too many symlinks (ELOOP), or a component is not a directory.</exception>
    public static string Resolve(string root, string destination)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentNullException.ThrowIfNull(destination);
        string hostRoot = Path.GetFullPath(root);
        var resolved = new List<string>();
        var pending = new Stack<string>(Split(destination).Reverse());
        int followed = 0;
        bool missing = false; // once a component is missing, nothing below it can be a symlink

        while (pending.Count > 0)
        {
            string name = pending.Pop();
            if (name is "" or ".")
            {
                continue;
            }

            if (name == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }

                continue; // ".." at the root stays at the root
            }

            resolved.Add(name);
            if (missing)
            {
                continue;
            }

            string host = Path.Join(hostRoot, string.Join('/', resolved));
            var info = new FileInfo(host);
            if (!info.Exists && !Directory.Exists(host) && info.LinkTarget is null)
            {
                missing = true;
                continue;
            }

            if (info.LinkTarget is { } link)
            {
                if (++followed > MaxSymlinks)
                {
                    throw new HardeningException($"'{destination}' inside '{root}': too many levels of symbolic links") { Errno = 40 /* ELOOP */ };
                }

                resolved.RemoveAt(resolved.Count - 1);
                if (link.StartsWith('/'))
                {
                    resolved.Clear();
                }

                foreach (string part in Split(link).Reverse())
                {
                    pending.Push(part);
                }

                continue;
            }

            if (pending.Any(p => p is not ("" or ".")) && !Directory.Exists(host))
            {
                throw new HardeningException($"'{destination}' inside '{root}': '{string.Join('/', resolved)}' is not a directory") { Errno = 20 /* ENOTDIR */ };
            }
        }

        return string.Join('/', resolved);
    }

    private static string[] Split(string path) => path.Split('/');
}
