using Gofer.HostFs.Native;

namespace Gofer.HostFs;

/// <summary>
/// Translates a Tlopen/Tlcreate flag word into host open flags bit by bit (the wire values are fixed
/// octal numbers; host values differ per architecture — never pass the raw word to open).
/// </summary>
internal static class LopenFlags
{
    /// <summary>True if the flags ask for anything a read-only export must refuse.</summary>
    public static bool Mutates(uint flags) =>
        (flags & P9L.OAccMode) != P9L.ORdOnly || (flags & P9L.OTrunc) != 0;

    /// <summary>
    /// Host flags for the request. Kept: access mode, TRUNC, APPEND, DSYNC, SYNC, DIRECT, DIRECTORY,
    /// NOATIME. Dropped on purpose: CREATE/EXCL (Tlopen never creates; Tlcreate adds its own),
    /// NOCTTY/NONBLOCK/FASYNC (the server owns the descriptor's behaviour), CLOEXEC/NOFOLLOW (always
    /// added by HostFs), LARGEFILE (implicit on 64-bit). NOACCESS (3) is EINVAL.
    /// </summary>
    public static Errno ToHost(uint flags, out int host)
    {
        host = 0;
        uint acc = flags & P9L.OAccMode;
        if (acc == P9L.ONoAccess)
        {
            return Errno.EINVAL;
        }

        host = acc == P9L.OWrOnly ? Libc.O_WRONLY : acc == P9L.ORdWr ? Libc.O_RDWR : Libc.O_RDONLY;
        if ((flags & P9L.OTrunc) != 0)
        {
            host |= Libc.O_TRUNC;
        }

        if ((flags & P9L.OAppend) != 0)
        {
            host |= Libc.O_APPEND;
        }

        if ((flags & P9L.ODsync) != 0)
        {
            host |= Libc.O_DSYNC;
        }

        if ((flags & P9L.OSync) != 0)
        {
            host |= Libc.O_SYNC;
        }

        if ((flags & P9L.ODirect) != 0)
        {
            host |= Libc.O_DIRECT;
        }

        if ((flags & P9L.ODirectory) != 0)
        {
            host |= Libc.O_DIRECTORY;
        }

        if ((flags & P9L.ONoAtime) != 0)
        {
            host |= Libc.O_NOATIME;
        }

        return Errno.None;
    }
}
