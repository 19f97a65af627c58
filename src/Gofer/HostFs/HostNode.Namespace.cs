using Gofer.HostFs.Native;

namespace Gofer.HostFs;

internal sealed partial class HostNode
{
    /// <summary>Tmkdir: creates a directory in this node (permission bits of <paramref name="mode"/> only).</summary>
    public unsafe Errno Mkdir(ReadOnlySpan<byte> name, uint mode, uint uid, uint gid, out Qid qid)
    {
        qid = default;
        Errno e = CheckCreateIn(name);
        if (e != Errno.None)
        {
            return e;
        }

        Span<byte> cname = stackalloc byte[NameValidator.NameMax + 1];
        NameValidator.ToCString(name, cname);
        fixed (byte* p = cname)
        {
            if (Libc.mkdirat(PathFd, p, mode & 0xFFF) != 0)
            {
                return ErrnoExtensions.Last();
            }

            return FinishCreate(p, Libc.O_DIRECTORY, uid, gid, 0, out qid);
        }
    }

    /// <summary>
    /// Tsymlink: stores <paramref name="target"/> verbatim (absolute or with "..": it is data to the
    /// host, and HostFs never follows it). Target: non-empty (ENOENT), no NUL (EINVAL), at most
    /// MaxSymlinkTarget bytes (ENAMETOOLONG).
    /// </summary>
    public unsafe Errno Symlink(ReadOnlySpan<byte> name, ReadOnlySpan<byte> target, uint uid, uint gid, out Qid qid)
    {
        qid = default;
        Errno e = CheckCreateIn(name);
        if (e != Errno.None)
        {
            return e;
        }

        if (target.IsEmpty)
        {
            return Errno.ENOENT;
        }

        if (target.Length > _export.Options.MaxSymlinkTarget)
        {
            return Errno.ENAMETOOLONG;
        }

        if (target.IndexOf((byte)0) >= 0)
        {
            return Errno.EINVAL;
        }

        byte[] ctarget = new byte[target.Length + 1];
        target.CopyTo(ctarget);
        Span<byte> cname = stackalloc byte[NameValidator.NameMax + 1];
        NameValidator.ToCString(name, cname);
        fixed (byte* p = cname)
        fixed (byte* t = ctarget)
        {
            if (Libc.symlinkat(t, PathFd, p) != 0)
            {
                return ErrnoExtensions.Last();
            }

            return FinishCreate(p, 0, uid, gid, Libc.S_IFLNK, out qid);
        }
    }

    /// <summary>
    /// Tmknod: regular files, FIFOs and sockets are created; character and block devices are refused
    /// with EPERM (a sandbox must not mint host device nodes, CVE-2023-2861). Nothing created here is
    /// ever opened by HostFs unless it is a regular file.
    /// </summary>
    public unsafe Errno Mknod(ReadOnlySpan<byte> name, uint mode, uint major, uint minor, uint uid, uint gid, out Qid qid)
    {
        qid = default;
        _ = major;
        _ = minor;
        Errno e = CheckCreateIn(name);
        if (e != Errno.None)
        {
            return e;
        }

        uint type = mode & Libc.S_IFMT;
        if (type == 0)
        {
            type = Libc.S_IFREG; // mknod(2): zero type means a regular file
        }

        if (type is not (Libc.S_IFREG or Libc.S_IFIFO or Libc.S_IFSOCK))
        {
            return type is Libc.S_IFCHR or Libc.S_IFBLK ? Errno.EPERM : Errno.EINVAL;
        }

        Span<byte> cname = stackalloc byte[NameValidator.NameMax + 1];
        NameValidator.ToCString(name, cname);
        fixed (byte* p = cname)
        {
            if (Libc.mknodat(PathFd, p, type | (mode & 0xFFF), 0) != 0)
            {
                return ErrnoExtensions.Last();
            }

            return FinishCreate(p, 0, uid, gid, type, out qid);
        }
    }

    private Errno CheckCreateIn(ReadOnlySpan<byte> name)
    {
        if (_disposed)
        {
            return Errno.EBADF; // used after clunk: an error for the client, not an exception
        }

        Errno e = NameValidator.ValidateEntry(name);
        if (e != Errno.None)
        {
            return e;
        }

        if (Kind != NodeKind.Directory)
        {
            return Errno.ENOTDIR;
        }

        return _export.ReadOnly ? Errno.EROFS : Errno.None;
    }

    /// <summary>
    /// Opens what was just created with O_PATH|O_NOFOLLOW (so a swap to a symlink in between is seen as
    /// a symlink, not followed), checks its type, chowns it, and returns its qid. Rolls back on failure.
    /// </summary>
    private unsafe Errno FinishCreate(byte* cname, int extraFlags, uint uid, uint gid, uint expectType, out Qid qid)
    {
        qid = default;
        bool isDir = (extraFlags & Libc.O_DIRECTORY) != 0;
        int fd = OpenBeneath(PathFd, cname, Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC | extraFlags);
        if (fd < 0)
        {
            return ErrnoExtensions.Last();
        }

        using var created = SafeFd.Rent(fd);
        Errno e = Libc.FStatx(created, Libc.STATX_BASIC_STATS, out Statx st);
        if (e == Errno.None && expectType != 0 && (st.Mode & Libc.S_IFMT) != expectType)
        {
            // Someone replaced the entry between create and open; do not touch (or unlink) theirs.
            return Errno.EEXIST;
        }

        if (e == Errno.None)
        {
            e = ChownNew(created, uid, gid, ref st);
        }

        if (e != Errno.None)
        {
            Libc.unlinkat(PathFd, cname, isDir ? Libc.AT_REMOVEDIR : 0);
            return e;
        }

        qid = _export.MakeQid(in st, KindOf(st.Mode));
        return Errno.None;
    }

    /// <summary>Treadlink: copies the raw target into <paramref name="dest"/> (give it MaxSymlinkTarget bytes).</summary>
    public unsafe Errno ReadLink(Span<byte> dest, out int length)
    {
        length = 0;
        if (_disposed)
        {
            return Errno.EBADF; // used after clunk: an error for the client, not an exception
        }

        if (Kind != NodeKind.Symlink)
        {
            return Errno.EINVAL;
        }

        byte empty = 0;
        fixed (byte* p = dest)
        {
            nint n = Libc.readlinkat(PathFd, &empty, p, (nuint)dest.Length);
            if (n < 0)
            {
                return ErrnoExtensions.Last();
            }

            if (n == dest.Length)
            {
                // readlink truncates silently; a full buffer may mean a longer target.
                return Errno.ENAMETOOLONG;
            }

            length = (int)n;
            return Errno.None;
        }
    }

    /// <summary>
    /// Tlink: a new name <paramref name="name"/> in this directory for <paramref name="target"/>'s inode.
    /// linkat(fd, "", dir, name, AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; without it (ENOENT/EPERM)
    /// the /proc/self/fd/N + AT_SYMLINK_FOLLOW form is tried. Either way the source is the inode, never a path.
    /// </summary>
    public unsafe Errno Link(HostNode target, ReadOnlySpan<byte> name)
    {
        ArgumentNullException.ThrowIfNull(target);
        Errno e = CheckCreateIn(name);
        if (e != Errno.None)
        {
            return e;
        }

        if (target.Kind == NodeKind.Directory)
        {
            return Errno.EPERM;
        }

        Span<byte> cname = stackalloc byte[NameValidator.NameMax + 1];
        NameValidator.ToCString(name, cname);
        byte empty = 0;
        fixed (byte* p = cname)
        {
            if (!LinkViaProcOnly && Libc.linkat(target.PathFd, &empty, PathFd, p, Libc.AT_EMPTY_PATH) == 0)
            {
                return Errno.None;
            }

            e = LinkViaProcOnly ? Errno.EPERM : ErrnoExtensions.Last();
            if (e is not (Errno.ENOENT or Errno.EPERM))
            {
                return e;
            }

            Span<byte> proc = stackalloc byte[ProcFdPath.BufferSize];
            SafeFd src = target.PathFd;
            bool added = false;
            try
            {
                src.DangerousAddRef(ref added);
                ProcFdPath.WriteNumber(src.RawValue, proc);
                fixed (byte* s = proc)
                {
                    return Libc.linkat(_export.ProcFd, s, PathFd, p, Libc.AT_SYMLINK_FOLLOW) == 0
                        ? Errno.None
                        : e; // report the first, more meaningful error
                }
            }
            finally
            {
                if (added)
                {
                    src.DangerousRelease();
                }
            }
        }
    }

    /// <summary>Tests only: skip the AT_EMPTY_PATH form, as a gofer without CAP_DAC_READ_SEARCH would.</summary>
    internal static bool LinkViaProcOnly { get; set; }

    /// <summary>Trenameat: renames <paramref name="oldName"/> in this directory to <paramref name="newName"/> in <paramref name="newDir"/>.</summary>
    public unsafe Errno RenameAt(ReadOnlySpan<byte> oldName, HostNode newDir, ReadOnlySpan<byte> newName)
    {
        ArgumentNullException.ThrowIfNull(newDir);
        Errno e = CheckCreateIn(oldName);
        if (e == Errno.None)
        {
            e = newDir.CheckCreateIn(newName);
        }

        if (e != Errno.None)
        {
            return e;
        }

        Span<byte> o = stackalloc byte[NameValidator.NameMax + 1];
        Span<byte> n = stackalloc byte[NameValidator.NameMax + 1];
        NameValidator.ToCString(oldName, o);
        NameValidator.ToCString(newName, n);
        fixed (byte* po = o)
        fixed (byte* pn = n)
        {
            if (Libc.renameat2(PathFd, po, newDir.PathFd, pn, 0) != 0)
            {
                return ErrnoExtensions.Last();
            }
        }

        ForgetChild(oldName);
        newDir.ForgetChild(newName); // what the new name replaced, if anything
        return Errno.None;
    }

    /// <summary>
    /// Trename (fid-based): moves this node to <paramref name="newName"/> in <paramref name="newDir"/>.
    /// Uses the directory and name the node was walked through, after checking that this name still
    /// refers to this very inode (else ENOENT: the object was moved by someone else). Nodes reached by
    /// ".." or the export root have no such name (EBUSY).
    /// </summary>
    public unsafe Errno Rename(HostNode newDir, ReadOnlySpan<byte> newName)
    {
        ArgumentNullException.ThrowIfNull(newDir);
        if (_disposed)
        {
            return Errno.EBADF; // used after clunk: an error for the client, not an exception
        }

        Errno e = newDir.CheckCreateIn(newName);
        if (e != Errno.None)
        {
            return e;
        }

        if (_parent is null || !HasName)
        {
            return Errno.EBUSY;
        }

        Span<byte> o = stackalloc byte[NameValidator.NameMax + 1];
        Span<byte> n = stackalloc byte[NameValidator.NameMax + 1];
        NameValidator.ToCString(Name, o);
        NameValidator.ToCString(newName, n);
        fixed (byte* po = o)
        fixed (byte* pn = n)
        {
            e = CheckStillNamed(po);
            if (e != Errno.None)
            {
                return e;
            }

            if (Libc.renameat2(_parent.Fd, po, newDir.PathFd, pn, 0) != 0)
            {
                return ErrnoExtensions.Last();
            }
        }

        ForgetSelf();
        newDir.ForgetChild(newName);
        SharedFd newParent = newDir._path!.AddRef(); // a directory: never without _path
        _parent.Release();
        _parent = newParent;
        _parentDev = newDir.Dev;
        _parentIno = newDir.Ino;
        SetName(newName);
        return Errno.None;
    }

    /// <summary>Tunlinkat: flags may be 0 or AT_REMOVEDIR (0x200); anything else is EINVAL.</summary>
    public unsafe Errno UnlinkAt(ReadOnlySpan<byte> name, uint flags)
    {
        Errno e = CheckCreateIn(name);
        if (e != Errno.None)
        {
            return e;
        }

        if ((flags & ~P9L.AtRemoveDir) != 0)
        {
            return Errno.EINVAL;
        }

        Span<byte> cname = stackalloc byte[NameValidator.NameMax + 1];
        NameValidator.ToCString(name, cname);
        fixed (byte* p = cname)
        {
            int hostFlags = (flags & P9L.AtRemoveDir) != 0 ? Libc.AT_REMOVEDIR : 0;
            if (Libc.unlinkat(PathFd, p, hostFlags) != 0)
            {
                return ErrnoExtensions.Last();
            }
        }

        ForgetChild(name);
        return Errno.None;
    }

    /// <summary>Tremove: unlinks this node through the directory/name it was walked by (checked like <see cref="Rename"/>).</summary>
    public unsafe Errno Remove()
    {
        if (_disposed)
        {
            return Errno.EBADF; // used after clunk: an error for the client, not an exception
        }

        if (_export.ReadOnly)
        {
            return Errno.EROFS;
        }

        if (_parent is null || !HasName)
        {
            return Errno.EBUSY;
        }

        Span<byte> o = stackalloc byte[NameValidator.NameMax + 1];
        NameValidator.ToCString(Name, o);
        fixed (byte* po = o)
        {
            Errno e = CheckStillNamed(po);
            if (e != Errno.None)
            {
                return e;
            }

            int flags = Kind == NodeKind.Directory ? Libc.AT_REMOVEDIR : 0;
            if (Libc.unlinkat(_parent.Fd, po, flags) != 0)
            {
                return ErrnoExtensions.Last();
            }
        }

        ForgetSelf();
        return Errno.None;
    }

    private unsafe Errno CheckStillNamed(byte* cname)
    {
        Statx st;
        if (Libc.statx(_parent!.Fd, cname, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &st) != 0)
        {
            return ErrnoExtensions.Last();
        }

        return st.Dev == Dev && st.Ino == Ino ? Errno.None : Errno.ENOENT;
    }
}
