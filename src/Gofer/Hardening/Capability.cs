namespace Gofer.Hardening;

/// <summary>Linux capability numbers (linux/capability.h) that hardened mode reasons about.</summary>
internal enum Capability
{
    Chown = 0,
    DacOverride = 1,
    DacReadSearch = 2,
    Fowner = 3,
    Fsetid = 4,
    Kill = 5,
    Setgid = 6,
    Setuid = 7,
    Setpcap = 8,
    NetBindService = 10,
    NetAdmin = 12,
    NetRaw = 13,
    SysModule = 16,
    SysRawio = 17,
    SysChroot = 18,
    SysPtrace = 19,
    SysAdmin = 21,
    SysBoot = 22,
    Mknod = 27,
    AuditWrite = 29,
    Setfcap = 31,
}

/// <summary>The capability set the confined server keeps.</summary>
internal static class ServingCapabilities
{
    /// <summary>
    /// What a 9P server acting for many uids needs, and no more:
    /// CHOWN (give a created file the client's uid/gid), DAC_OVERRIDE (open, read, write and
    /// search whatever the client's request names, whatever its mode — the client checks
    /// permissions), FOWNER (chmod, utimes, xattrs on files the server does not own),
    /// FSETID (keep set-id bits on chmod and write). Deliberately left out:
    /// DAC_READ_SEARCH — redundant with DAC_OVERRIDE for permission checks, and it is what
    /// open_by_handle_at(2) requires: with it a process holding any fd on a filesystem can
    /// open any inode of that filesystem by handle, escaping every bind mount (the "shocker"
    /// escape); runsc keeps it only because its seccomp filter denies open_by_handle_at, and
    /// there is no seccomp filter here yet. SYS_CHROOT — runsc's gofer chroots after its
    /// re-exec; ours is already pivoted. MKNOD — device nodes are not served. SETUID/SETGID —
    /// the server does not switch credentials per request.
    /// </summary>
    public static IReadOnlyList<Capability> Default { get; } =
        [Capability.Chown, Capability.DacOverride, Capability.Fowner, Capability.Fsetid];

    /// <summary>The bit mask (as /proc/PID/status prints CapBnd/CapEff) of a set of capabilities.</summary>
    public static ulong Mask(IEnumerable<Capability> capabilities)
    {
        ulong mask = 0;
        foreach (Capability c in capabilities)
        {
            mask |= 1UL << (int)c;
        }

        return mask;
    }
}
