using System.Buffers;
using System.Buffers.Binary;
using Gofer.HostFs.Native;

namespace Gofer.HostFs;

internal sealed partial class HostNode
{
    // One getdents64 buffer per opened directory, rented on the first uncached readdir and given back when the node is
    // disposed (the DirState itself stays with the node object, which is pooled): neither Treaddir nor opening a
    // directory allocates in steady state. 32 KiB holds ~1000 short names per syscall.
    private const int DirBufferSize = 32 * 1024;

    // DirState.Cookie when the uncached state describes nothing (a fill moved the file position, or the request was
    // served from a listing): no valid offset equals it (offsets above long.MaxValue are refused), so the next
    // uncached read seeks.
    private const ulong UnknownPosition = ulong.MaxValue;

    private DirState? _dir;

    private enum EmitResult
    {
        Exhausted,
        SinkFull,
        Corrupt,
    }

    private sealed class DirState
    {
        public readonly Lock Gate = new();

        // Uncached reading: the last getdents64 result and how far it was handed out.
        public byte[]? Buffer;
        public int Length;
        public int Position;

        // The cookie of the last entry handed to a sink; the kernel's file position equals it whenever
        // Position == Length. A request for any other cookie seeks (d_off cookies are replayable).
        public ulong Cookie;

        // Cached reading: the listing last served from, the byte position after the last entry handed out, and that
        // entry's cookie. A request for that cookie resumes here in O(1) while the listing is not stale.
        public DirListing? Listing;
        public int ListingPosition;
        public ulong ListingCookie;

        // Whether getdents64 has been called on this node's descriptor yet (see PrimeAtZero).
        public bool Primed;
    }

    /// <summary>
    /// Treaddir: feeds entries starting after cookie <paramref name="offset"/> (0 = from the start) to
    /// <paramref name="sink"/> until it refuses one or the directory ends. Cookies are host d_off values,
    /// so any cookie returned earlier can be replayed. "." and ".." are included as the host returns them.
    /// Returns EINVAL if the sink could not take even one entry, so "no room" never looks like end-of-directory.
    /// With the export's listing cache on, an unchanged directory is served from memory (see <see cref="DirListingCache"/>);
    /// the cookies are the same host d_off values either way.
    /// </summary>
    public Errno ReadDir<TSink>(ulong offset, ref TSink sink)
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
            DirListingCache? cache = _export.DirCache;
            if (cache is not null && TryReadDirCached(cache, io, dir, offset, ref sink, out Errno result))
            {
                return result;
            }

            return ReadDirUncached(io, dir, offset, ref sink);
        }
    }

    /// <summary>
    /// Serves the request from a cached listing when there is a valid one (filling it on a pass that starts at 0);
    /// false when the request must be read from the host: no listing can be had, or the cookie is not in it.
    /// </summary>
    private bool TryReadDirCached<TSink>(DirListingCache cache, SafeFd io, DirState dir, ulong offset, ref TSink sink, out Errno result)
        where TSink : IDirentSink, allows ref struct
    {
        result = Errno.None;

        // Every change that completed before this request began has now marked the listings it affects stale.
        cache.Drain();
        DirListing? listing = dir.Listing;
        if (listing is not null && listing.IsStale)
        {
            listing = null;
            dir.Listing = null;
        }

        int position;
        if (offset == 0)
        {
            if (listing is not null)
            {
                listing.Touch();
            }
            else
            {
                listing = cache.Lookup(Dev, Ino);
                if (listing is null)
                {
                    // The fill reads through this fid's descriptor: its file position no longer matches DirState.Cookie.
                    ForgetUncachedPosition(dir);
                    dir.Primed = true; // a fill reads from 0
                    listing = cache.Fill(_export, io, Dev, Ino);
                    if (listing is null)
                    {
                        return false;
                    }
                }
            }

            position = 0;
        }
        else if (listing is not null && offset == dir.ListingCookie)
        {
            position = dir.ListingPosition;
        }
        else
        {
            listing ??= cache.Lookup(Dev, Ino);
            position = listing is null ? -1 : listing.PositionAfter(offset);
            if (position < 0)
            {
                return false; // a cookie this listing never handed out: seek to it on the host
            }
        }

        // What the uncached path buffered belongs to an earlier request: if this pass later falls back to it (the
        // listing went stale) and asks for the very cookie that buffer stopped at, it must read afresh, not resume an
        // old getdents64 result that may predate changes this pass has to show.
        ForgetUncachedPosition(dir);
        int added = 0;
        ulong cookie = offset;
        EmitResult emitted = EmitRecords(listing!.Records, ref position, ref cookie, ref sink, ref added);
        dir.Listing = listing;
        dir.ListingPosition = position;
        dir.ListingCookie = cookie;
        result = emitted switch
        {
            EmitResult.Corrupt => Errno.EIO, // not reached: fills check every record
            EmitResult.SinkFull when added == 0 => Errno.EINVAL,
            _ => Errno.None,
        };
        return true;
    }

    private static void ForgetUncachedPosition(DirState dir)
    {
        dir.Length = 0;
        dir.Position = 0;
        dir.Cookie = UnknownPosition;
    }

    /// <summary>
    /// ext4 (seen on 6.18): when the first getdents64 on an open directory is at its htree end cookie, ext4 sets up its
    /// readdir state at that position and returns before recording the position it read at (which stays 0); after an
    /// lseek to 0 the two agree, so the stale state is kept and getdents64 answers "end of directory" for the whole
    /// directory. A client that replays the end cookie on a fresh fid and then rewinds would see an empty directory, and
    /// with the listing cache it is common: a fid whose pass was served from memory makes its first host read when the
    /// listing goes stale, at whatever cookie it had reached. One small read from 0 first sets the state up properly.
    /// </summary>
    private static unsafe void PrimeAtZero(SafeFd io)
    {
        byte* scratch = stackalloc byte[1024];
        if (Libc.lseek(io, 0, Libc.SEEK_SET) == 0)
        {
            _ = Libc.getdents64(io, scratch, 1024); // the entries and any error are of no interest: the real read follows
        }
    }

    private unsafe Errno ReadDirUncached<TSink>(SafeFd io, DirState dir, ulong offset, ref TSink sink)
        where TSink : IDirentSink, allows ref struct
    {
        byte[] buffer = dir.Buffer ??= ArrayPool<byte>.Shared.Rent(DirBufferSize);
        if (!dir.Primed)
        {
            dir.Primed = true;
            if (offset != 0)
            {
                PrimeAtZero(io);
                ForgetUncachedPosition(dir);
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
        while (true)
        {
            if (dir.Position >= dir.Length)
            {
                nint n;
                fixed (byte* buf = buffer)
                {
                    n = Libc.getdents64(io, buf, (nuint)buffer.Length);
                }

                _export.CountGetdents();
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

            switch (EmitRecords(buffer.AsSpan(0, dir.Length), ref dir.Position, ref dir.Cookie, ref sink, ref added))
            {
                case EmitResult.Corrupt:
                    return Errno.EIO;
                case EmitResult.SinkFull:
                    return added > 0 ? Errno.None : Errno.EINVAL;
            }
        }
    }

    /// <summary>
    /// Hands linux_dirent64 records from <paramref name="position"/> to the sink until it refuses one or they run out,
    /// advancing <paramref name="position"/> and <paramref name="cookie"/> (the d_off of the last entry taken).
    /// </summary>
    private EmitResult EmitRecords<TSink>(ReadOnlySpan<byte> records, ref int position, ref ulong cookie, ref TSink sink, ref int added)
        where TSink : IDirentSink, allows ref struct
    {
        while (position < records.Length)
        {
            ReadOnlySpan<byte> rec = records[position..];
            int reclen = DirListing.RecordLength(rec);
            if (reclen < 0)
            {
                return EmitResult.Corrupt;
            }

            ReadOnlySpan<byte> name = DirListing.NameOf(rec[..reclen]);
            ulong ino = BinaryPrimitives.ReadUInt64LittleEndian(rec);
            ulong off = BinaryPrimitives.ReadUInt64LittleEndian(rec[Libc.DirentOffOffset..]);
            byte dtype = rec[Libc.DirentTypeOffset];
            byte qtype = dtype == P9L.DtDir ? P9L.QtDir : dtype == P9L.DtLnk ? P9L.QtSymlink : P9L.QtFile;
            var entry = new DirEntry(new Qid(qtype, 0, _export.Qids.PathOf(Dev, ino)), off, dtype, name);
            if (!sink.TryAdd(in entry))
            {
                return EmitResult.SinkFull;
            }

            position += reclen;
            cookie = off;
            added++;
        }

        return EmitResult.Exhausted;
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
            dir.Listing = null;
            dir.ListingPosition = 0;
            dir.ListingCookie = 0;
            dir.Primed = false;
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
