using Gofer.Hardening.Native;

namespace Gofer.Hardening;

/// <summary>
/// One directory (or file) the confined server will serve: the host path is bound into the
/// private root at <see cref="HardenedLayout.ExportPath"/>(index), with these flags applied to
/// the whole bound tree.
/// </summary>
/// <param name="Source">Host path of the export. Resolved by the kernel when it is cloned,
/// before the private root exists, so symlinks in it are the host's, as configured.</param>
/// <param name="ReadOnly">Bind read-only (recursively): every write fails with EROFS in the kernel,
/// whatever the server does.</param>
/// <param name="NoSuid">The server never executes served files, so set-id bits have no business
/// taking effect through this mount.</param>
/// <param name="NoDev">The server must not open device nodes found in an export.</param>
/// <param name="NoExec">The server never executes or maps served files executable; the sandbox's
/// own view of exec bits comes from the 9P mode, not from this mount.</param>
/// <param name="Recursive">Bind submounts of the source too (rbind), so the server sees what the
/// unconfined server would see; flags then apply to every submount.</param>
internal sealed record HardenedExport(
    string Source,
    bool ReadOnly,
    bool NoSuid = true,
    bool NoDev = true,
    bool NoExec = true,
    bool Recursive = true)
{
    /// <summary>The mount_setattr(2) MOUNT_ATTR_* bits to set on the bound tree.</summary>
    internal ulong MountAttributes =>
        (ReadOnly ? LinuxConstants.MOUNT_ATTR_RDONLY : 0)
        | (NoSuid ? LinuxConstants.MOUNT_ATTR_NOSUID : 0)
        | (NoDev ? LinuxConstants.MOUNT_ATTR_NODEV : 0)
        | (NoExec ? LinuxConstants.MOUNT_ATTR_NOEXEC : 0);

    /// <summary>
    /// An export from an OCI mount's options ("ro", "nosuid", "rbind", …). Options are applied
    /// in order, later ones overriding earlier ones ("ro,rw" is read-write), as mount(8) does.
    /// The hardened defaults (nosuid, nodev, noexec) stay unless the options turn them off.
    /// </summary>
    public static HardenedExport FromMountOptions(string source, IEnumerable<string> options, bool forceReadOnly = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string> list = [.. options];
        ulong flags = MountOptions.ToFlags(list, LinuxConstants.MS_NOSUID | LinuxConstants.MS_NODEV | LinuxConstants.MS_NOEXEC);
        return new HardenedExport(
            source,
            ReadOnly: forceReadOnly || (flags & LinuxConstants.MS_RDONLY) != 0,
            NoSuid: (flags & LinuxConstants.MS_NOSUID) != 0,
            NoDev: (flags & LinuxConstants.MS_NODEV) != 0,
            NoExec: (flags & LinuxConstants.MS_NOEXEC) != 0,
            Recursive: (flags & LinuxConstants.MS_REC) != 0 || !list.Contains("bind", StringComparer.Ordinal));
    }
}

/// <summary>OCI / mount(8) option names mapped to MS_* flags.</summary>
internal static class MountOptions
{
    // (set, flag): "set" options turn the flag on, the others turn it off. runsc's table had
    // the clearing options XOR the flag, which turns "rw" *on* MS_RDONLY when it was off; here
    // clearing is a real clear.
    private static readonly Dictionary<string, (bool Set, ulong Flag)> Table = new(StringComparer.Ordinal)
    {
        ["acl"] = (true, LinuxConstants.MS_POSIXACL),
        ["noacl"] = (false, LinuxConstants.MS_POSIXACL),
        ["async"] = (false, LinuxConstants.MS_SYNCHRONOUS),
        ["sync"] = (true, LinuxConstants.MS_SYNCHRONOUS),
        ["atime"] = (false, LinuxConstants.MS_NOATIME),
        ["noatime"] = (true, LinuxConstants.MS_NOATIME),
        ["bind"] = (true, LinuxConstants.MS_BIND),
        ["rbind"] = (true, LinuxConstants.MS_BIND | LinuxConstants.MS_REC),
        ["defaults"] = (true, 0),
        ["dev"] = (false, LinuxConstants.MS_NODEV),
        ["nodev"] = (true, LinuxConstants.MS_NODEV),
        ["diratime"] = (false, LinuxConstants.MS_NODIRATIME),
        ["nodiratime"] = (true, LinuxConstants.MS_NODIRATIME),
        ["dirsync"] = (true, LinuxConstants.MS_DIRSYNC),
        ["exec"] = (false, LinuxConstants.MS_NOEXEC),
        ["noexec"] = (true, LinuxConstants.MS_NOEXEC),
        ["iversion"] = (true, LinuxConstants.MS_I_VERSION),
        ["noiversion"] = (false, LinuxConstants.MS_I_VERSION),
        ["loud"] = (false, LinuxConstants.MS_SILENT),
        ["silent"] = (true, LinuxConstants.MS_SILENT),
        ["mand"] = (true, LinuxConstants.MS_MANDLOCK),
        ["nomand"] = (false, LinuxConstants.MS_MANDLOCK),
        ["relatime"] = (true, LinuxConstants.MS_RELATIME),
        ["norelatime"] = (false, LinuxConstants.MS_RELATIME),
        ["strictatime"] = (true, LinuxConstants.MS_STRICTATIME),
        ["nostrictatime"] = (false, LinuxConstants.MS_STRICTATIME),
        ["ro"] = (true, LinuxConstants.MS_RDONLY),
        ["rw"] = (false, LinuxConstants.MS_RDONLY),
        ["suid"] = (false, LinuxConstants.MS_NOSUID),
        ["nosuid"] = (true, LinuxConstants.MS_NOSUID),
        // Propagation is always private inside the gofer's namespace; accepted and ignored.
        ["private"] = (true, 0),
        ["rprivate"] = (true, 0),
        ["slave"] = (true, 0),
        ["rslave"] = (true, 0),
        ["shared"] = (true, 0),
        ["rshared"] = (true, 0),
    };

    /// <summary>Fold <paramref name="options"/> over <paramref name="initial"/>; unknown options are ignored.</summary>
    public static ulong ToFlags(IEnumerable<string> options, ulong initial = 0)
    {
        ArgumentNullException.ThrowIfNull(options);
        ulong flags = initial;
        foreach (string option in options)
        {
            if (Table.TryGetValue(option, out (bool Set, ulong Flag) entry))
            {
                flags = entry.Set ? flags | entry.Flag : flags & ~entry.Flag;
            }
        }

        return flags;
    }

    /// <summary>Whether mount(8) knows the option (callers may want to warn about the others).</summary>
    public static bool IsKnown(string option) => Table.ContainsKey(option);
}
