using System.Globalization;
using System.Net.Sockets;
using Gofer.Sandbox.Overlay;
using Gofer.Sandbox.Synthetic;
using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;
using Gofer.Spec;
using SpecFlags = Gofer.Spec.MountFlags;
using VfsFlags = Gofer.Sandbox.Vfs.MountFlags;

namespace Gofer.Sandbox.Attach;

/// <summary>Settings for <see cref="SandboxAttacher.AttachAsync"/>.</summary>
internal sealed record AttachOptions
{
    /// <summary>
    /// Pod-shared volumes by hint name: the one filesystem instance (the pod's master) that every container naming
    /// the volume binds. A plan entry with a <see cref="PlannedMount.SharedVolume"/> not in here gets its own tmpfs.
    /// </summary>
    public IReadOnlyDictionary<string, IFileSystem> SharedVolumes { get; init; } = new Dictionary<string, IFileSystem>();
}

/// <summary>A plan entry and the filesystem attached for it (null when a conditional mount was skipped).</summary>
internal sealed record AttachedMount(PlannedMount Planned, IFileSystem? FileSystem, string? SkippedBecause);

/// <summary>One container's mounted file view: its namespace, and what each plan entry became.</summary>
internal sealed class AttachedSandbox : IAsyncDisposable
{
    internal AttachedSandbox(MountPlan plan, MountNamespace ns, IReadOnlyList<AttachedMount> mounts, IReadOnlyList<(PlannedMount Mount, IFileSystem FileSystem)> gofer)
    {
        Plan = plan;
        Namespace = ns;
        Mounts = mounts;
        GoferFileSystems = gofer;
    }

    public MountPlan Plan { get; }

    public MountNamespace Namespace { get; }

    /// <summary>The root, then the plan's mounts in apply order.</summary>
    public IReadOnlyList<AttachedMount> Mounts { get; }

    /// <summary>The gofer mounts' filesystems in FD order (before any overlay), for stats and disposal.</summary>
    public IReadOnlyList<(PlannedMount Mount, IFileSystem FileSystem)> GoferFileSystems { get; }

    /// <summary>Disposes the gofer filesystems that are disposable (closing their connections).</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var (_, fs) in GoferFileSystems)
        {
            switch (fs)
            {
                case IAsyncDisposable a:
                    await a.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable d:
                    d.Dispose();
                    break;
            }
        }
    }
}

/// <summary>
/// Turns a <see cref="MountPlan"/> and the sandbox ends of the gofer's sockets into a mounted
/// <see cref="MountNamespace"/>: gofer mounts through the <see cref="GoferFileSystemFactory"/> with their cache
/// policy, tmpfs/proc/sys/dev/devpts from the VFS, the internal /tmp only if the rootfs has none or an empty one,
/// and a tmpfs upper layer over every mount the plan overlays.
/// </summary>
internal static class SandboxAttacher
{
    /// <summary>Where child containers' roots appear in the root container's namespace (runsc's childContainersDir).</summary>
    public const string ChildContainersDir = "/__runsc_containers__";

    /// <param name="plan">The container's plan (destinations resolved or not).</param>
    /// <param name="sockets">Sandbox ends in gofer FD order (<see cref="MountPlan.GoferMounts"/>); null entries or a null list attach without a connection.</param>
    /// <param name="factory">Makes each gofer mount's filesystem.</param>
    /// <param name="options">Pod volumes.</param>
    /// <param name="ct">Cancels attaching.</param>
    public static async ValueTask<AttachedSandbox> AttachAsync(
        MountPlan plan, IReadOnlyList<Socket?>? sockets, GoferFileSystemFactory factory, AttachOptions? options = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(factory);
        options ??= new AttachOptions();
        if (sockets is not null && sockets.Count != plan.GoferFdCount)
        {
            throw new ArgumentException($"the plan has {plan.GoferFdCount} gofer mounts but {sockets.Count} sockets were given", nameof(sockets));
        }

        var gofer = new List<(PlannedMount, IFileSystem)>();
        async ValueTask<IFileSystem> GoferFs(PlannedMount m)
        {
            int index = m.GoferIndex ?? 0;
            var socket = sockets is null ? null : sockets[index];
            var fs = await factory(new GoferMountConnection(m, socket, m.Cache ?? Spec.CachePolicy.Exclusive), ct).ConfigureAwait(false);
            gofer.Add((m, fs));
            return fs;
        }

        MountNamespace? ns = null;
        var rootFs = await WithOverlayAsync(plan.Root, await GoferFs(plan.Root).ConfigureAwait(false), ct).ConfigureAwait(false);
        ns = await MountNamespace.CreateAsync(ToSpec(plan.Root, rootFs), ct: ct).ConfigureAwait(false);

        var specs = new List<(PlannedMount Planned, MountSpec Spec)>();
        foreach (var m in plan.Mounts)
        {
            IFileSystem fs = m.Kind switch
            {
                MountKind.Gofer => await WithOverlayAsync(m, await GoferFs(m).ConfigureAwait(false), ct).ConfigureAwait(false),
                MountKind.Tmpfs => m.SharedVolume is { } vol && options.SharedVolumes.TryGetValue(vol, out var shared) ? shared : NewTmpfs(m),
                MountKind.Proc => StandardFileSystems.CreateProc(() => ns),
                MountKind.Sysfs => StandardFileSystems.CreateSys(),
                MountKind.Devtmpfs => await StandardFileSystems.CreateDevAsync(ct).ConfigureAwait(false),
                MountKind.Devpts => StandardFileSystems.CreateDevpts(),
                _ => throw new ArgumentException($"unknown mount kind {m.Kind}", nameof(plan)),
            };
            specs.Add((m, ToSpec(m, fs)));
        }

        var results = await ns.ApplyMountsAsync(specs.Select(s => s.Spec), ct).ConfigureAwait(false);
        var attached = new List<AttachedMount> { new(plan.Root, rootFs, null) };
        for (int i = 0; i < specs.Count; i++)
        {
            attached.Add(new AttachedMount(specs[i].Planned, results[i].Mounted ? specs[i].Spec.FileSystem : null, results[i].SkippedBecause));
        }

        gofer.Sort((a, b) => (a.Item1.GoferIndex ?? 0).CompareTo(b.Item1.GoferIndex ?? 0));
        return new AttachedSandbox(plan, ns, attached, gofer);
    }

    /// <summary>
    /// runsc's child-container layout: the root container's namespace gets a tmpfs at /__runsc_containers__ and
    /// each child's root filesystem at /__runsc_containers__/NAME, with the child's own mounts below it (the same
    /// filesystem instances the child's namespace uses; proc/sys/dev belong to the child's namespace only).
    /// </summary>
    public static async ValueTask MountChildAsync(AttachedSandbox root, string name, AttachedSandbox child, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(child);
        ArgumentException.ThrowIfNullOrEmpty(name);
        var ns = root.Namespace;
        if (!ns.GetMounts().Any(m => m.Destination == ChildContainersDir))
        {
            await ns.ApplyMountsAsync([new MountSpec(ChildContainersDir, new TmpfsFileSystem(new TmpfsOptions { RootMode = 0x1ED })) { Source = "tmpfs" }], ct).ConfigureAwait(false);
        }

        string prefix = ChildContainersDir + "/" + name;
        var specs = new List<MountSpec>();
        foreach (var m in child.Mounts)
        {
            if (m.FileSystem is null || m.Planned.Kind is MountKind.Proc or MountKind.Sysfs or MountKind.Devtmpfs or MountKind.Devpts)
            {
                continue;
            }

            var dest = DestinationOf(m.Planned);
            specs.Add(ToSpec(m.Planned, m.FileSystem) with { Destination = dest == "/" ? prefix : prefix + dest, Condition = Vfs.MountCondition.Always });
        }

        await ns.ApplyMountsAsync(specs, ct).ConfigureAwait(false);
    }

    private static string DestinationOf(PlannedMount m) => m.ResolvedDestination ?? m.Destination;

    private static MountSpec ToSpec(PlannedMount m, IFileSystem fs)
    {
        var extra = new List<string>();
        if (m.Kind == MountKind.Gofer)
        {
            string fd = (m.GoferIndex ?? 0).ToString(CultureInfo.InvariantCulture);
            extra.Add("trans=fd");
            extra.Add("rfdno=" + fd);
            extra.Add("wfdno=" + fd);
            extra.Add("cache=" + CacheName(m.Cache ?? Spec.CachePolicy.Exclusive));
        }
        else
        {
            extra.AddRange(m.Data);
        }

        if (m.SharedVolume is { } vol)
        {
            extra.Add("podvolume=" + vol);
        }

        return new MountSpec(DestinationOf(m), fs)
        {
            Flags = ToVfsFlags(m.Flags),
            Condition = m.Condition == Spec.MountCondition.IfTargetEmpty ? Vfs.MountCondition.OnlyIfMissingOrEmpty : Vfs.MountCondition.Always,
            Source = m.Source ?? (m.Kind switch
            {
                MountKind.Proc => "proc",
                MountKind.Sysfs => "sysfs",
                MountKind.Devpts => "devpts",
                MountKind.Tmpfs => "tmpfs",
                _ => "none",
            }),
            ExtraOptions = extra,
        };
    }

    /// <summary>The cache policy as the mount option shows it (runsc's names).</summary>
    public static string CacheName(Spec.CachePolicy cache) => cache == Spec.CachePolicy.RemoteRevalidating ? "remote_revalidating" : "exclusive";

    internal static VfsFlags ToVfsFlags(SpecFlags f)
    {
        var v = VfsFlags.None;
        if ((f & SpecFlags.ReadOnly) != 0)
        {
            v |= VfsFlags.ReadOnly;
        }

        if ((f & SpecFlags.NoSuid) != 0)
        {
            v |= VfsFlags.NoSuid;
        }

        if ((f & SpecFlags.NoDev) != 0)
        {
            v |= VfsFlags.NoDev;
        }

        if ((f & SpecFlags.NoExec) != 0)
        {
            v |= VfsFlags.NoExec;
        }

        if ((f & SpecFlags.NoAtime) != 0)
        {
            v |= VfsFlags.NoAtime;
        }

        return v;
    }

    private static async ValueTask<IFileSystem> WithOverlayAsync(PlannedMount m, IFileSystem lower, CancellationToken ct)
    {
        if (!m.Overlay)
        {
            return lower;
        }

        // Done here rather than with MountSpec.Overlay so the one overlay instance can also be mounted in the
        // root container's namespace for a child. The upper root copies the lower root's owner and mode (runsc).
        var attr = await lower.Root.GetAttrAsync(ct).ConfigureAwait(false);
        var upper = new TmpfsFileSystem(new TmpfsOptions { RootMode = attr.Perm, RootOwner = new Credentials(attr.Uid, attr.Gid) });
        return new OverlayFileSystem(upper, lower);
    }

    /// <summary>A tmpfs with the plan's mode=/size=/nr_inodes= data (mode in octal, as mount(8) takes it).</summary>
    internal static TmpfsFileSystem NewTmpfs(PlannedMount m)
    {
        var options = new TmpfsOptions();
        foreach (var d in m.Data)
        {
            int eq = d.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                continue;
            }

            string key = d[..eq], value = d[(eq + 1)..];
            switch (key)
            {
                case "mode" when TryParseOctal(value, out uint mode):
                    options = options with { RootMode = mode & Mode.PermMask };
                    break;
                case "size" when TryParseSize(value, out long size):
                    options = options with { MaxBytes = size };
                    break;
                case "nr_inodes" when long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n):
                    options = options with { MaxInodes = n };
                    break;
                case "uid" when uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out uint uid):
                    options = options with { RootOwner = options.RootOwner with { Uid = uid } };
                    break;
                case "gid" when uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out uint gid):
                    options = options with { RootOwner = options.RootOwner with { Gid = gid } };
                    break;
            }
        }

        return new TmpfsFileSystem(options);
    }

    private static bool TryParseOctal(string s, out uint value)
    {
        value = 0;
        if (s.Length is 0 or > 7)
        {
            return false;
        }

        foreach (char c in s)
        {
            if (c is < '0' or > '7')
            {
                return false;
            }

            value = (value * 8) + (uint)(c - '0');
        }

        return true;
    }

    /// <summary>tmpfs size=: bytes with an optional k/m/g suffix (the % form is not supported and ignored).</summary>
    private static bool TryParseSize(string s, out long bytes)
    {
        bytes = 0;
        if (s.Length == 0)
        {
            return false;
        }

        long mult = char.ToLowerInvariant(s[^1]) switch { 'k' => 1L << 10, 'm' => 1L << 20, 'g' => 1L << 30, _ => 1 };
        var digits = mult == 1 ? s : s[..^1];
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > long.MaxValue / mult)
        {
            return false;
        }

        bytes = n * mult;
        return true;
    }
}
