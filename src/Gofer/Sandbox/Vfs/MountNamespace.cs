using Gofer.Sandbox.Devices;

namespace Gofer.Sandbox.Vfs;

/// <summary>
/// The sandbox's mount namespace and POSIX-like file API: a tree of mounts over filesystems, path resolution across
/// mounts and symlinks, mount flags enforced, and a dentry cache per filesystem (bounded LRU of unreferenced leaf
/// dentries, with revalidation for filesystems that ask for it).
/// </summary>
/// <remarks>
/// The dentry tree is guarded by one short lock held only around dictionary/LRU updates, never across a
/// filesystem call; concurrent lookups of one name may both reach the filesystem, and the loser's node is released.
/// </remarks>
internal sealed partial class MountNamespace
{
    internal const int MaxSymlinks = 40;  // Linux MAXSYMLINKS
    internal const int MaxNameLength = 255;
    internal const int MaxPathLength = 4096;

    private readonly object _tree = new();
    private readonly Dictionary<IFileSystem, FsTree> _trees = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<(Mount Parent, Dentry Point), Mount> _mounts = [];
    private readonly List<Mount> _mountList = [];
    private int _nextMountId = 1;

    private MountNamespace(DeviceRegistry devices) => Devices = devices;

    public DeviceRegistry Devices { get; }

    /// <summary>Owner of files this namespace creates.</summary>
    public Credentials Credentials { get; set; } = Credentials.Root;

    /// <summary>umask applied to create/mkdir/mknod modes.</summary>
    public uint Umask { get; set; } = 0x12; // 022

    internal Mount RootMount { get; private set; } = null!;

    /// <summary>Where relative paths start; the root until <see cref="ChdirAsync"/>.</summary>
    internal Location Cwd { get; private set; }

    /// <summary>Creates a namespace whose root is <paramref name="root"/> (Destination must be "/").</summary>
    public static async ValueTask<MountNamespace> CreateAsync(MountSpec root, DeviceRegistry? devices = null, CancellationToken ct = default)
    {
        if (root.Destination != "/")
        {
            throw new ArgumentException("the root mount's destination must be \"/\"", nameof(root));
        }

        var ns = new MountNamespace(devices ?? DeviceRegistry.CreateDefault());
        var fs = await WrapOverlayAsync(root, ct).ConfigureAwait(false);
        var mount = new Mount(ns._nextMountId++, fs, ns.TreeOf(fs).Root, null, null, root);
        ns.RootMount = mount;
        ns._mountList.Add(mount);
        ns.Cwd = new Location(mount, mount.Root);
        ns.Pin(mount.Root);
        return ns;
    }

    /// <summary>The namespace root, after any mounts stacked on "/".</summary>
    internal Location Root => CrossDown(new Location(RootMount, RootMount.Root));

    /// <summary>The mount table in mount order.</summary>
    public IReadOnlyList<MountInfo> GetMounts()
    {
        lock (_tree)
        {
            return [.. _mountList.Select(m => new MountInfo(
                m.Id, m.Parent?.Id ?? 0, PathOfMountLocked(m), m.FileSystem.TypeName, m.Source, m.Flags, m.ExtraOptions))];
        }
    }

    /// <summary>/proc/mounts text: "source destination type options 0 0" per line.</summary>
    public string FormatProcMounts() =>
        string.Concat(GetMounts().Select(m => $"{m.Source} {m.Destination} {m.Type} {m.OptionsString} 0 0\n"));

    /// <summary>Mounts <paramref name="spec"/> at its destination, which must exist (see <see cref="ApplyMountsAsync"/>).</summary>
    public async ValueTask<Mount> MountAsync(MountSpec spec, CancellationToken ct = default)
    {
        await using var st = new WalkState(this);
        var at = await ResolveAsync(st, spec.Destination, follow: true, ct).ConfigureAwait(false);
        var fs = await WrapOverlayAsync(spec, ct).ConfigureAwait(false);
        lock (_tree)
        {
            // Stack on the topmost mount already at this place (Linux mounts over what is visible).
            at = CrossDownLocked(at);
            var mount = new Mount(_nextMountId++, fs, TreeOf(fs).Root, at.Mount, at.Dentry, spec);
            _mounts[(at.Mount, at.Dentry)] = mount;
            Pin(at.Dentry);
            at.Dentry.MountCount++;
            _mountList.Add(mount);
            return mount;
        }
    }

    private static async ValueTask<IFileSystem> WrapOverlayAsync(MountSpec spec, CancellationToken ct)
    {
        if (!spec.Overlay)
        {
            return spec.FileSystem;
        }

        // runsc: the upper root copies the lower root's owner and mode; the upper is not size-limited.
        var rootAttr = await spec.FileSystem.Root.GetAttrAsync(ct).ConfigureAwait(false);
        var upper = new Tmpfs.TmpfsFileSystem(new Tmpfs.TmpfsOptions
        {
            RootMode = rootAttr.Perm,
            RootOwner = new Credentials(rootAttr.Uid, rootAttr.Gid),
        });
        return new Overlay.OverlayFileSystem(upper, spec.FileSystem);
    }

    internal bool IsMountPoint(Location loc)
    {
        lock (_tree)
        {
            return _mounts.ContainsKey((loc.Mount, loc.Dentry));
        }
    }

    /// <summary>Follows mounts stacked on a place down to the visible one.</summary>
    internal Location CrossDown(Location loc)
    {
        lock (_tree)
        {
            return CrossDownLocked(loc);
        }
    }

    private Location CrossDownLocked(Location loc)
    {
        while (_mounts.TryGetValue((loc.Mount, loc.Dentry), out var m))
        {
            loc = new Location(m, m.Root);
        }

        return loc;
    }

    /// <summary>"..": leaving a mount's root goes to the parent of its mount point; the namespace root stays put.</summary>
    internal Location Parent(Location loc)
    {
        lock (_tree)
        {
            while (loc.Dentry == loc.Mount.Root)
            {
                if (loc.Mount.Parent is null || loc.Mount.MountPoint is null)
                {
                    return loc;
                }

                loc = new Location(loc.Mount.Parent, loc.Mount.MountPoint);
            }

            return CrossDownLocked(new Location(loc.Mount, loc.Dentry.Parent ?? loc.Dentry));
        }
    }

    /// <summary>The absolute path of a place, for the mount table and getcwd.</summary>
    internal string PathOf(Location loc)
    {
        lock (_tree)
        {
            return PathOfLocked(loc);
        }
    }

    private static string PathOfMountLocked(Mount m) =>
        m.Parent is null || m.MountPoint is null ? "/" : PathOfLocked(new Location(m.Parent, m.MountPoint));

    private static string PathOfLocked(Location loc)
    {
        var names = new List<string>();
        while (true)
        {
            if (loc.Dentry == loc.Mount.Root)
            {
                if (loc.Mount.Parent is null || loc.Mount.MountPoint is null)
                {
                    break;
                }

                loc = new Location(loc.Mount.Parent, loc.Mount.MountPoint);
                continue;
            }

            names.Add(loc.Dentry.Name);
            loc = new Location(loc.Mount, loc.Dentry.Parent!);
        }

        names.Reverse();
        return "/" + string.Join('/', names);
    }
}
