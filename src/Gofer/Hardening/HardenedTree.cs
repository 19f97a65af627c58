using System.Runtime.InteropServices;
using Gofer.Hardening.Native;
using static Gofer.Hardening.Native.LinuxConstants;

namespace Gofer.Hardening;

/// <summary>
/// The private root's layout, computed on an ordinary thread before confinement: which host
/// trees are bound where, which mount points and symlinks the tmpfs needs, and the program's
/// path inside the root.
/// </summary>
internal sealed class HardenedTree
{
    internal sealed record Bind(string Source, string Target, ulong Attributes, bool Recursive);

    internal sealed record Node(TreeOpKind Kind, string Path, string? LinkTarget = null);

    // Exec support is bound read-only and without set-id or device semantics, but executable.
    private const ulong SupportAttributes = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

    public List<Bind> Binds { get; } = [];

    public List<Node> Nodes { get; } = [];

    /// <summary>The program's path inside the private root (its host real path).</summary>
    public string Executable { get; private set; } = string.Empty;

    /// <summary>Where each export is, inside the private root, in export order.</summary>
    public List<string> ExportPaths { get; } = [];

    public static HardenedTree Build(HardenedLaunchSpec spec)
    {
        var tree = new HardenedTree();
        var directories = new SortedSet<string>(StringComparer.Ordinal);
        var files = new HashSet<string>(StringComparer.Ordinal);
        var symlinks = new Dictionary<string, string>(StringComparer.Ordinal);

        for (int i = 0; i < spec.Exports.Count; i++)
        {
            HardenedExport export = spec.Exports[i];
            string source = RealPath(export.Source, "export source");
            string target = HardenedLayout.ExportPath(i);
            tree.Binds.Add(new Bind(source, target, export.MountAttributes, export.Recursive));
            tree.ExportPaths.Add(target);
            AddMountPoint(target, Directory.Exists(source), directories, files);
        }

        // Exec support: symlinks recreated, real paths bound; a path under another one is
        // already visible through it.
        var supportTargets = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string path in spec.ExecSupport)
        {
            string absolute = Path.GetFullPath(path);
            var info = new FileInfo(absolute);
            if (info.LinkTarget is { } linkTarget && IsTopLevelSymlinkWorthKeeping(absolute))
            {
                symlinks[absolute] = linkTarget;
            }

            supportTargets.Add(RealPath(absolute, "exec-support path"));
        }

        string executable = RealPath(spec.Executable, "program");
        tree.Executable = executable;
        if (!supportTargets.Any(s => IsSameOrUnder(executable, s)))
        {
            supportTargets.Add(executable);
        }

        List<string> kept = [];
        foreach (string target in supportTargets)
        {
            if (target == "/")
            {
                throw new HardeningException("hardened mode: an exec-support path resolves to '/', which would expose the whole host");
            }

            if (IsSameOrUnder(target, HardenedLayout.ExportsDirectory) || IsSameOrUnder(target, HardenedLayout.ProcDirectory)
                || IsSameOrUnder(HardenedLayout.ExportsDirectory, target) || IsSameOrUnder(HardenedLayout.ProcDirectory, target))
            {
                throw new HardeningException($"hardened mode: exec-support path '{target}' collides with the private root's {HardenedLayout.ExportsDirectory} or {HardenedLayout.ProcDirectory}");
            }

            // Sorted ordinally, an ancestor comes before its descendants.
            if (kept.Any(k => IsSameOrUnder(target, k)))
            {
                continue;
            }

            kept.Add(target);
            tree.Binds.Add(new Bind(target, target, SupportAttributes, Recursive: true));
            AddMountPoint(target, Directory.Exists(target), directories, files);
        }

        if (spec.MountProc)
        {
            directories.Add(HardenedLayout.ProcDirectory);
        }

        foreach ((string link, string _) in symlinks)
        {
            if (directories.Contains(link) || files.Contains(link))
            {
                throw new HardeningException($"hardened mode: '{link}' is needed both as a symlink and as a mount point");
            }

            AddParents(link, directories);
        }

        // Ordinal order puts every directory after its parent.
        foreach (string directory in directories)
        {
            if (files.Contains(directory))
            {
                throw new HardeningException($"hardened mode: '{directory}' is needed both as a file and as a directory mount point");
            }

            tree.Nodes.Add(new Node(TreeOpKind.Directory, directory));
        }

        foreach (string file in files.Order(StringComparer.Ordinal))
        {
            tree.Nodes.Add(new Node(TreeOpKind.File, file));
        }

        foreach ((string link, string linkTarget) in symlinks.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            tree.Nodes.Add(new Node(TreeOpKind.Symlink, link, linkTarget));
        }

        return tree;
    }

    // Only a symlink whose parent is "/" is recreated (/lib → usr/lib, /lib64 → usr/lib64):
    // those are what ELF interpreter paths go through. Deeper symlinks resolve to a real path
    // that is bound anyway.
    private static bool IsTopLevelSymlinkWorthKeeping(string absolute) =>
        Path.GetDirectoryName(absolute) == "/";

    private static void AddMountPoint(string target, bool isDirectory, SortedSet<string> directories, HashSet<string> files)
    {
        AddParents(target, directories);
        if (isDirectory)
        {
            directories.Add(target);
        }
        else
        {
            files.Add(target);
        }
    }

    private static void AddParents(string path, SortedSet<string> directories)
    {
        for (string? parent = Path.GetDirectoryName(path); parent is not null && parent != "/"; parent = Path.GetDirectoryName(parent))
        {
            directories.Add(parent);
        }
    }

    internal static bool IsSameOrUnder(string path, string ancestor) =>
        path == ancestor || (path.StartsWith(ancestor, StringComparison.Ordinal) && (ancestor == "/" || path[ancestor.Length] == '/'));

    /// <summary>realpath(3): the host path with every symlink and "..", resolved.</summary>
    internal static string RealPath(string path, string what)
    {
        nint resolved = Libc.RealPath(path, 0);
        if (resolved == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new HardeningException($"hardened mode: {what} '{path}': {Marshal.GetPInvokeErrorMessage(errno)}") { Errno = errno };
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved) ?? throw new HardeningException($"hardened mode: {what} '{path}' did not resolve");
        }
        finally
        {
            Libc.Free(resolved);
        }
    }
}
