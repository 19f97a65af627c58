namespace Gofer.Sandbox.Vfs;

/// <summary>Mount flags, MS_* values from linux/mount.h.</summary>
[Flags]
internal enum MountFlags
{
    None = 0,
    ReadOnly = 0x1,   // MS_RDONLY: every mutation is EROFS
    NoSuid = 0x2,     // MS_NOSUID: recorded (no setuid exec in this VFS)
    NoDev = 0x4,      // MS_NODEV: opening a device node is EACCES
    NoExec = 0x8,     // MS_NOEXEC: access(X_OK) and OpenFile.CanExecute say no
    NoAtime = 0x400,  // MS_NOATIME: recorded
}

/// <summary>When a mount spec applies.</summary>
internal enum MountCondition
{
    Always,

    /// <summary>runsc's mountTmp rule: mount only if the destination is missing or an empty directory; skip otherwise.</summary>
    OnlyIfMissingOrEmpty,
}

/// <summary>
/// One mount to apply: what the planner's MountPlan entries get adapted to. Specs are applied in list order
/// (the caller sorts parents before children). <see cref="ExtraOptions"/> is free-form text shown in the mount
/// table and /proc/mounts (e.g. "rfdno=4", "cache=remote_revalidating").
/// </summary>
internal sealed record MountSpec(string Destination, IFileSystem FileSystem)
{
    public MountFlags Flags { get; init; }

    /// <summary>Put a tmpfs upper layer over <see cref="FileSystem"/>, which then is only ever read.</summary>
    public bool Overlay { get; init; }

    public MountCondition Condition { get; init; }

    public string Source { get; init; } = "none";

    public IReadOnlyList<string> ExtraOptions { get; init; } = [];
}

/// <summary>A row of the mount table.</summary>
internal sealed record MountInfo(
    int Id,
    int ParentId,
    string Destination,
    string Type,
    string Source,
    MountFlags Flags,
    IReadOnlyList<string> ExtraOptions)
{
    /// <summary>The options column of /proc/mounts: rw|ro, the flag words, then the extra options.</summary>
    public string OptionsString
    {
        get
        {
            var parts = new List<string> { (Flags & MountFlags.ReadOnly) != 0 ? "ro" : "rw" };
            if ((Flags & MountFlags.NoSuid) != 0)
            {
                parts.Add("nosuid");
            }

            if ((Flags & MountFlags.NoDev) != 0)
            {
                parts.Add("nodev");
            }

            if ((Flags & MountFlags.NoExec) != 0)
            {
                parts.Add("noexec");
            }

            if ((Flags & MountFlags.NoAtime) != 0)
            {
                parts.Add("noatime");
            }

            parts.AddRange(ExtraOptions);
            return string.Join(',', parts);
        }
    }
}

/// <summary>A filesystem attached at a place in the namespace.</summary>
internal sealed class Mount
{
    internal Mount(int id, IFileSystem fs, Dentry root, Mount? parent, Dentry? mountPoint, MountSpec spec)
    {
        Id = id;
        FileSystem = fs;
        Root = root;
        Parent = parent;
        MountPoint = mountPoint;
        Flags = spec.Flags;
        Source = spec.Source;
        ExtraOptions = spec.ExtraOptions;
    }

    public int Id { get; }

    public IFileSystem FileSystem { get; }

    internal Dentry Root { get; }

    /// <summary>The mount this one sits on; null for the namespace root.</summary>
    public Mount? Parent { get; }

    /// <summary>The dentry (in <see cref="Parent"/>) this mount covers.</summary>
    internal Dentry? MountPoint { get; }

    public MountFlags Flags { get; internal set; }

    public string Source { get; }

    public IReadOnlyList<string> ExtraOptions { get; }

    public bool IsReadOnly => (Flags & MountFlags.ReadOnly) != 0 || FileSystem.IsReadOnly;
}

/// <summary>A name in a filesystem's cached tree. The VFS owns dentries; filesystems only see nodes.</summary>
internal sealed class Dentry
{
    internal Dentry(Dentry? parent, string name, INode node)
    {
        Parent = parent;
        Name = name;
        Node = node;
    }

    internal Dentry? Parent { get; set; }

    internal string Name { get; set; }

    internal INode Node { get; }

    internal Dictionary<string, Dentry>? Children { get; set; }

    /// <summary>Pins: open files, mounts on it, synthetic status. A pinned dentry is never evicted.</summary>
    internal int Pins { get; set; }

    /// <summary>A sentry-only directory made so a mount can be placed where the filesystem has no entry.</summary>
    internal bool IsSynthetic { get; init; }

    /// <summary>Mounts placed on this dentry (in any mount of its filesystem).</summary>
    internal int MountCount { get; set; }

    /// <summary>Removed from the tree (unlinked, invalidated, evicted); its node is released once unpinned.</summary>
    internal bool Detached { get; set; }

    internal LinkedListNode<Dentry>? LruNode { get; set; }

    internal bool HasChildren => Children is { Count: > 0 };
}

/// <summary>A place in the namespace: a dentry as seen through a particular mount.</summary>
internal readonly record struct Location(Mount Mount, Dentry Dentry)
{
    public INode Node => Dentry.Node;
}
