namespace Gofer.Spec;

/// <summary>Mount flags the sandbox applies to a mount (and the gofer, for read-only).</summary>
[Flags]
public enum MountFlags
{
    None = 0,
    ReadOnly = 1 << 0,
    NoExec = 1 << 1,
    NoSuid = 1 << 2,
    NoDev = 1 << 3,
    NoAtime = 1 << 4,
}

/// <summary>The result of parsing a mount's <c>options</c>: flags, filesystem data, and what was ignored.</summary>
public sealed record ParsedMountOptions(MountFlags Flags, bool Bind, IReadOnlyList<string> Data, IReadOnlyList<string> Ignored);

/// <summary>Parses OCI mount options into <see cref="MountFlags"/>.</summary>
public static class MountOptions
{
    // tmpfs keeps these key=value options as filesystem data (mode=1777 on /tmp, size limits, ...).
    private static readonly string[] TmpfsDataKeys = ["mode", "uid", "gid", "size", "nr_inodes"];

    /// <summary>
    /// Parses options in order (a later <c>rw</c> undoes an earlier <c>ro</c>, as mount(8) does).
    /// Recognised: ro/rw, noexec/exec, nosuid/suid, nodev/dev, noatime/atime, bind/rbind; for tmpfs
    /// also mode=, uid=, gid=, size=, nr_inodes=. Everything else lands in <see cref="ParsedMountOptions.Ignored"/>.
    /// </summary>
    public static ParsedMountOptions Parse(IEnumerable<string>? options, bool isTmpfs = false)
    {
        var flags = MountFlags.None;
        var bind = false;
        var data = new List<string>();
        var ignored = new List<string>();
        if (options is null)
        {
            return new ParsedMountOptions(flags, bind, data, ignored);
        }

        foreach (var o in options)
        {
            switch (o)
            {
                case "ro": flags |= MountFlags.ReadOnly; break;
                case "rw": flags &= ~MountFlags.ReadOnly; break;
                case "noexec": flags |= MountFlags.NoExec; break;
                case "exec": flags &= ~MountFlags.NoExec; break;
                case "nosuid": flags |= MountFlags.NoSuid; break;
                case "suid": flags &= ~MountFlags.NoSuid; break;
                case "nodev": flags |= MountFlags.NoDev; break;
                case "dev": flags &= ~MountFlags.NoDev; break;
                case "noatime": flags |= MountFlags.NoAtime; break;
                case "atime": flags &= ~MountFlags.NoAtime; break;
                case "bind":
                case "rbind":
                    bind = true;
                    break;
                default:
                    if (isTmpfs && IsTmpfsData(o))
                    {
                        data.Add(o);
                    }
                    else
                    {
                        ignored.Add(o);
                    }

                    break;
            }
        }

        return new ParsedMountOptions(flags, bind, data, ignored);
    }

    /// <summary>Short text for tables: "ro,noexec" or "rw".</summary>
    public static string Format(MountFlags flags)
    {
        var parts = new List<string> { (flags & MountFlags.ReadOnly) != 0 ? "ro" : "rw" };
        if ((flags & MountFlags.NoExec) != 0)
        {
            parts.Add("noexec");
        }

        if ((flags & MountFlags.NoSuid) != 0)
        {
            parts.Add("nosuid");
        }

        if ((flags & MountFlags.NoDev) != 0)
        {
            parts.Add("nodev");
        }

        if ((flags & MountFlags.NoAtime) != 0)
        {
            parts.Add("noatime");
        }

        return string.Join(',', parts);
    }

    private static bool IsTmpfsData(string option)
    {
        var eq = option.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || option.IndexOf('=', eq + 1) >= 0)
        {
            return false;
        }

        return Array.IndexOf(TmpfsDataKeys, option[..eq]) >= 0;
    }
}
