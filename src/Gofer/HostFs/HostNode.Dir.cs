using System.Buffers;
using System.Buffers.Binary;
using Gofer.HostFs.Native;

namespace Gofer.HostFs;

internal sealed partial class HostNode
{
    // One getdents64 buffer per opened directory, rented on the first readdir and given back when the node is
    // disposed (the DirState itself stays with the node object, which is pooled): neither Treaddir nor opening a
    // directory allocates in steady state. 32 KiB holds ~1000 short names per syscall.
    private const int DirBufferSize = 32 * 1024;

    private DirState? _dir;

    private sealed class DirState
    {
        public readonly Lock Gate = new();
        public byte[]? Buffer;
        public int Length;
        public int Position;

        // The cookie of the last entry handed to a sink; the kernel's file position equals it whenever
        // Position == Length. A request for any other cookie seeks (d_off cookies are replayable).
        public ulong Cookie;

        // Whether getdents64 has been called on this node's descriptor yet (see PrimeAtZero).
        public bool Primed;
    }

    /// <summary>
    /// Treaddir: feeds entries starting after cookie <paramref name="offset"/> (0 = from the start) to
    /// <paramref name="sink"/> until it refuses one or the directory ends. Cookies are host d_off values,
    /// so any cookie returned earlier can be replayed. "." and ".." are included as the host returns them.
    /// Returns EINVAL if the sink could not take even one entry, so "no room" never looks like end-of-directory.
    /// </summary>
    public unsafe Errno ReadDir<TSink>(ulong offset, ref TSink sink)
        where TSink : IDirentSink, allows ref struct
    {
        SafeFd? io = _io;
        if (io is null)
        {
            return Errno.EBADF;
        }

        if (Kind != NodeKind.Directory)
        {
            return Errno.ENOTDIR;
        }

        if (offset > long.MaxValue)
        {
            return Errno.EINVAL;
        }

        DirState dir = _dir ?? Interlocked.CompareExchange(ref _dir, new DirState(), null) ?? _dir!;
        lock (dir.Gate)
        {
            byte[] buffer = dir.Buffer ??= ArrayPool<byte>.Shared.Rent(DirBufferSize);
            if (!dir.Primed)
            {
                dir.Primed = true;
                if (offset != 0)
                {
                    PrimeAtZero(io);
                    dir.Length = 0;
                    dir.Position = 0;
                    dir.Cookie = ulong.MaxValue; // no valid offset: the seek below happens
                }
            }

            if (offset != dir.Cookie || (offset == 0 && dir.Position == dir.Length))
            {
                if (Libc.lseek(io, (long)offset, Libc.SEEK_SET) < 0)
                {
                    return ErrnoExtensions.Last();
                }

                dir.Length = 0;
                dir.Position = 0;
                dir.Cookie = offset;
            }

            int added = 0;
            fixed (byte* buf = buffer)
            {
                while (true)
                {
                    if (dir.Position >= dir.Length)
                    {
                        nint n = Libc.getdents64(io, buf, (nuint)buffer.Length);
                        if (n < 0)
                        {
                            Errno e = ErrnoExtensions.Last();
                            return added > 0 ? Errno.None : e;
                        }

                        dir.Length = (int)n;
                        dir.Position = 0;
                        if (n == 0)
                        {
                            return Errno.None;
                        }
                    }

                    ReadOnlySpan<byte> rec = buffer.AsSpan(dir.Position, dir.Length - dir.Position);
                    if (rec.Length < Libc.DirentNameOffset + 1)
                    {
                        return Errno.EIO;
                    }

                    int reclen = BinaryPrimitives.ReadUInt16LittleEndian(rec[Libc.DirentReclenOffset..]);
                    if (reclen < Libc.DirentNameOffset + 1 || reclen > rec.Length)
                    {
                        return Errno.EIO;
                    }

                    ReadOnlySpan<byte> nameField = rec[Libc.DirentNameOffset..reclen];
                    int nul = nameField.IndexOf((byte)0);
                    ReadOnlySpan<byte> name = nul >= 0 ? nameField[..nul] : nameField;
                    ulong ino = BinaryPrimitives.ReadUInt64LittleEndian(rec);
                    ulong off = BinaryPrimitives.ReadUInt64LittleEndian(rec[Libc.DirentOffOffset..]);
                    byte dtype = rec[Libc.DirentTypeOffset];
                    byte qtype = dtype == P9L.DtDir ? P9L.QtDir : dtype == P9L.DtLnk ? P9L.QtSymlink : P9L.QtFile;
                    var entry = new DirEntry(new Qid(qtype, 0, _export.Qids.PathOf(Dev, ino)), off, dtype, name);
                    if (!sink.TryAdd(in entry))
                    {
                        return added > 0 ? Errno.None : Errno.EINVAL;
                    }

                    dir.Position += reclen;
                    dir.Cookie = off;
                    added++;
                }
            }
        }
    }

    /// <summary>
    /// ext4 (seen on 6.18): when the first getdents64 on an open directory is at its htree end cookie, ext4 sets up its
    /// readdir state at that position and returns before recording the position it read at (which stays 0); after an
    /// lseek to 0 the two agree, so the stale state is kept and getdents64 answers "end of directory" for the whole
    /// directory. A client that replays the end cookie on a fresh fid and then rewinds would see an empty directory.
    /// One small read from 0 first sets the state up properly.
    /// </summary>
    private static unsafe void PrimeAtZero(SafeFd io)
    {
        byte* scratch = stackalloc byte[1024];
        if (Libc.lseek(io, 0, Libc.SEEK_SET) == 0)
        {
            _ = Libc.getdents64(io, scratch, 1024); // the entries and any error are of no interest: the real read follows
        }
    }

    /// <summary>Dispose: the buffer goes back to the pool and the position is forgotten (the node may be reused).</summary>
    private void ReleaseDirBuffer()
    {
        DirState? dir = _dir;
        if (dir is null)
        {
            return;
        }

        lock (dir.Gate)
        {
            byte[]? buffer = dir.Buffer;
            dir.Buffer = null;
            dir.Length = 0;
            dir.Position = 0;
            dir.Cookie = 0;
            dir.Primed = false;
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
