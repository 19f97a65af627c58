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
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
