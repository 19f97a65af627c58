using Gofer.HostFs.Native;

namespace Gofer.HostFs;

internal sealed partial class HostNode
{
    /// <summary>
    /// Tlock as an open-file-description lock on the node's opened fd, so locks taken through two nodes
    /// (two fids, two clients) conflict with each other and with host processes using OFD or POSIX locks.
    /// Never waits: a conflict is <see cref="LockStatus.Blocked"/> whether or not BLOCK was asked (the
    /// Linux client sleeps and retries on BLOCKED). <paramref name="length"/> 0 means "to end of file".
    /// Errors: unknown type or flags, or start/length beyond off_t → EINVAL; not opened → EBADF;
    /// a write lock on a read-only export → EROFS.
    /// </summary>
    public unsafe Errno Lock(byte type, uint flags, ulong start, ulong length, out LockStatus status)
    {
        status = LockStatus.Error;
        SafeFd? io = LockFd();
        if (type > P9L.LockTypeUnlock || (flags & ~(P9L.LockFlagsBlock | P9L.LockFlagsReclaim)) != 0)
        {
            return Errno.EINVAL;
        }

        if (io is null)
        {
            return Errno.EBADF;
        }

        if (_export.ReadOnly && type == P9L.LockTypeWrite)
        {
            return Errno.EROFS;
        }

        Errno e = ToFlock(type, start, length, out Flock lk);
        if (e != Errno.None)
        {
            return e;
        }

        if (Libc.fcntl(io, Libc.F_OFD_SETLK, &lk) == 0)
        {
            status = LockStatus.Success;
            return Errno.None;
        }

        e = ErrnoExtensions.Last();
        if (e is Errno.EAGAIN or Errno.EACCES)
        {
            status = LockStatus.Blocked;
            return Errno.None;
        }

        return e;
    }

    /// <summary>
    /// Tgetlock: tests whether a lock of <paramref name="type"/> over the range could be taken. On return,
    /// <paramref name="type"/> is UNLCK if it could, else the conflicting lock's type and range; pid is
    /// the holder's pid as the host reports it (-1 for OFD locks, which belong to no process).
    /// </summary>
    public unsafe Errno GetLock(ref byte type, ref ulong start, ref ulong length, out int pid)
    {
        pid = 0;
        SafeFd? io = LockFd();
        if (type > P9L.LockTypeUnlock)
        {
            return Errno.EINVAL;
        }

        if (io is null)
        {
            return Errno.EBADF;
        }

        if (type == P9L.LockTypeUnlock)
        {
            // Nothing can conflict with "unlock"; the Linux client maps its query to RDLCK/WRLCK first.
            return Errno.None;
        }

        Errno e = ToFlock(type, start, length, out Flock lk);
        if (e != Errno.None)
        {
            return e;
        }

        if (Libc.fcntl(io, Libc.F_OFD_GETLK, &lk) != 0)
        {
            return ErrnoExtensions.Last();
        }

        type = (byte)lk.Type;
        if (lk.Type != Libc.F_UNLCK)
        {
            start = (ulong)lk.Start;
            length = (ulong)lk.Len;
            pid = lk.Pid;
        }

        return Errno.None;
    }

    /// <summary>
    /// The descriptor every lock of this fid goes through. flock(2) reaches the server as a whole-file
    /// Tlock WRLCK even on a file opened O_RDONLY (local flock needs no write access), but an OFD write
    /// lock needs a writable description. So a fid not opened O_RDWR gets one extra O_RDWR description,
    /// made on first use and kept until clunk: all its locks live on that one description, so upgrading
    /// a read lock to a write lock never conflicts with itself. Read-only exports never open for write
    /// (a write lock there is EROFS anyway), and where the reopen is refused (a directory, a file the
    /// host will not open for writing) the opened fd is used as before.
    /// </summary>
    private SafeFd? LockFd()
    {
        SafeFd? io = _io;
        if (io is null || _export.ReadOnly || (_openFlags & Libc.O_ACCMODE) == Libc.O_RDWR)
        {
            return io;
        }

        if (_lockFd is null && Reopen(PathFd, Libc.O_RDWR, out SafeFd? rw) == Errno.None)
        {
            _lockFd = rw;
        }

        return _lockFd ?? io;
    }

    private static Errno ToFlock(byte type, ulong start, ulong length, out Flock lk)
    {
        lk = default;
        if (start > long.MaxValue || length > long.MaxValue || (length != 0 && start + length - 1 > long.MaxValue))
        {
            return Errno.EINVAL;
        }

        lk.Type = type switch
        {
            P9L.LockTypeRead => (short)Libc.F_RDLCK,
            P9L.LockTypeWrite => (short)Libc.F_WRLCK,
            _ => (short)Libc.F_UNLCK,
        };
        lk.Whence = Libc.SEEK_SET;
        lk.Start = (long)start;
        lk.Len = (long)length;
        lk.Pid = 0; // required by F_OFD_*
        return Errno.None;
    }
}
