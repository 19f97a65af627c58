using Gofer.Sandbox.Vfs;
using P9.Protocol.Client;
using P9.Protocol.Wire;

namespace Gofer.Sandbox.Gofer;

/// <summary>
/// An open gofer file: an opened fid (its own, or in exclusive mode one shared with the file's other handles) and a
/// reference on the file's <see cref="GoferInode"/>. Reads go through the page cache; writes go through to the gofer
/// and then patch the cached pages (exclusive) or drop them (remote_revalidating, O_APPEND).
/// </summary>
internal sealed class GoferHandle : IFileHandle
{
    private readonly GoferFileSystem _fs;
    private readonly GoferInode _inode;
    private readonly P9Fid _fid;
    private readonly bool _owned;
    private readonly OpenFlags _flags;
    private readonly FileType _type;
    private int _closed;

    internal GoferHandle(GoferFileSystem fs, GoferInode inode, P9Fid fid, bool owned, OpenFlags flags, FileType type)
    {
        _fs = fs;
        _inode = inode;
        _fid = fid;
        _owned = owned;
        _flags = flags;
        _type = type;
    }

    private const int PageSize = GoferFileSystem.PageSize;

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken ct = default)
    {
        CheckOpen();
        if (_type == FileType.Directory)
        {
            VfsException.Throw(Errno.EISDIR);
        }

        if (!_flags.CanRead())
        {
            VfsException.Throw(Errno.EBADF);
        }

        if (offset < 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        int total = 0;
        while (total < buffer.Length)
        {
            long pos = offset + total;
            long index = pos / PageSize;
            int inPage = (int)(pos % PageSize);
            CachedPage? page;
            int gen;
            lock (_fs.Lock)
            {
                page = _inode.Pages?.GetValueOrDefault(index);
                if (page is not null)
                {
                    _fs.TouchPagesLocked(_inode);
                }

                gen = _inode.DataGen;
            }

            if (page is null)
            {
                var data = new byte[PageSize];
                int got;
                try
                {
                    got = await _fid.ReadAsync((ulong)(index * PageSize), data, ct).ConfigureAwait(false);
                }
                catch (IOException e)
                {
                    throw GoferErrors.Map(e);
                }

                page = new CachedPage(data, got);
                lock (_fs.Lock)
                {
                    // A write or truncate of ours that overlapped the read makes this page unreliable: serve it, do
                    // not keep it.
                    if (_inode.DataGen == gen)
                    {
                        _fs.StorePageLocked(_inode, index, page);
                    }
                }
            }

            int n;
            bool end;
            lock (_fs.Lock)
            {
                int avail = page.Valid - inPage;
                if (avail <= 0)
                {
                    break;
                }

                n = Math.Min(avail, buffer.Length - total);
                page.Data.AsSpan(inPage, n).CopyTo(buffer.Span[total..]);
                end = page.Valid < PageSize && inPage + n >= page.Valid;
            }

            total += n;
            if (end)
            {
                break;
            }
        }

        return total;
    }

    public async ValueTask<int> WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken ct = default)
    {
        CheckOpen();
        if (!_flags.CanWrite())
        {
            VfsException.Throw(Errno.EBADF);
        }

        if (_fs.IsReadOnly)
        {
            VfsException.Throw(Errno.EROFS);
        }

        if (offset < 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        bool append = (_flags & OpenFlags.Append) != 0;
        int written;
        try
        {
            // An O_APPEND fid writes at the server's end of file whatever offset says.
            written = await _fid.WriteAsync(append ? 0 : (ulong)offset, data, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            lock (_fs.Lock)
            {
                // Part of it may have reached the file.
                _inode.DataGen++;
                _inode.ForgetAttrLocked();
                _fs.DropPagesLocked(_inode);
            }

            throw GoferErrors.Map(e);
        }

        lock (_fs.Lock)
        {
            _inode.DataGen++;
            _inode.ForgetAttrLocked(); // size, mtime, ctime moved: the next stat asks the gofer once
            if (!_fs.Exclusive || append)
            {
                _fs.DropPagesLocked(_inode);
            }
            else
            {
                PatchPagesLocked(offset, data.Span[..written]);
            }
        }

        return written;
    }

    /// <summary>
    /// Copies a write into the cached pages it overlaps. A short (last) page the file now extends past is extended if
    /// the write continues it, else dropped, so the "short page = end of file" invariant holds.
    /// </summary>
    private void PatchPagesLocked(long offset, ReadOnlySpan<byte> data)
    {
        if (_inode.Pages is not { Count: > 0 } pages || data.Length == 0)
        {
            return;
        }

        long end = offset + data.Length;
        foreach (var index in pages.Keys.ToArray())
        {
            var page = pages[index];
            long start = index * PageSize;
            long pageEnd = start + PageSize;
            if (page.Valid < PageSize && start + page.Valid < end)
            {
                // The file grows past this page's end of file.
                if (offset <= start + page.Valid && offset < pageEnd)
                {
                    long from = Math.Max(offset, start);
                    long to = Math.Min(end, pageEnd);
                    data.Slice((int)(from - offset), (int)(to - from)).CopyTo(page.Data.AsSpan((int)(from - start)));
                    page.Valid = (int)(to - start);
                }
                else
                {
                    _fs.DropPageLocked(_inode, index);
                }

                continue;
            }

            long lo = Math.Max(offset, start);
            long hi = Math.Min(end, start + page.Valid);
            if (lo < hi)
            {
                data.Slice((int)(lo - offset), (int)(hi - lo)).CopyTo(page.Data.AsSpan((int)(lo - start)));
            }
        }
    }

    public async ValueTask<IReadOnlyList<DirEntry>> ReadDirAsync(long cookie, int max, CancellationToken ct = default)
    {
        CheckOpen();
        if (_type != FileType.Directory)
        {
            VfsException.Throw(Errno.ENOTDIR);
        }

        if (cookie < 0 || max <= 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        try
        {
            if (_fs.Exclusive)
            {
                List<DirEntry>? listing;
                int gen;
                lock (_fs.Lock)
                {
                    listing = _inode.Listing;
                    gen = _inode.DataGen;
                }

                if (listing is null)
                {
                    // The whole directory once; later readdirs (and re-opens) are served from it. Our cookies are
                    // positions in the list, so they stay valid while it is cached.
                    listing = [];
                    foreach (var e in await _fid.ReadDirAllAsync(ct).ConfigureAwait(false))
                    {
                        if (e.Name is not ("." or ".."))
                        {
                            listing.Add(new DirEntry(e.Name, TypeOf(e.Type), e.Qid.Path, listing.Count + 1));
                        }
                    }

                    lock (_fs.Lock)
                    {
                        if (_inode.DataGen == gen)
                        {
                            _inode.Listing = listing;
                        }
                    }
                }

                if (cookie >= listing.Count)
                {
                    return [];
                }

                return listing.GetRange((int)cookie, (int)Math.Min(max, listing.Count - cookie));
            }

            // Remote: the gofer's cookies (Rreaddir offsets) pass through.
            while (true)
            {
                var batch = await _fid.ReadDirAsync((ulong)cookie, ct).ConfigureAwait(false);
                if (batch.Count == 0)
                {
                    return [];
                }

                var result = new List<DirEntry>();
                foreach (var e in batch)
                {
                    if (result.Count == max)
                    {
                        break;
                    }

                    if (e.Name is not ("." or ".."))
                    {
                        result.Add(new DirEntry(e.Name, TypeOf(e.Type), e.Qid.Path, (long)e.Offset));
                    }
                }

                if (result.Count > 0)
                {
                    return result;
                }

                cookie = (long)batch[^1].Offset;
            }
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }
    }

    /// <summary>d_type → S_IFMT: DT_x is S_IFx &gt;&gt; 12. DT_UNKNOWN is reported as a regular file.</summary>
    private static FileType TypeOf(DirentType t) => t == DirentType.Unknown ? FileType.Regular : (FileType)((uint)t << 12);

    public async ValueTask FsyncAsync(CancellationToken ct = default)
    {
        CheckOpen();
        try
        {
            await _fid.FsyncAsync(false, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw GoferErrors.Map(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        if (_owned)
        {
            await _fid.DisposeAsync().ConfigureAwait(false);
        }

        await _fs.ReleaseInodeAsync(_inode).ConfigureAwait(false);
    }

    private void CheckOpen()
    {
        if (Volatile.Read(ref _closed) != 0)
        {
            VfsException.Throw(Errno.EBADF);
        }
    }
}
