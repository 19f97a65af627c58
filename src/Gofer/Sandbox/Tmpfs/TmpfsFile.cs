using Gofer.Sandbox.Vfs;

namespace Gofer.Sandbox.Tmpfs;

/// <summary>
/// A regular file whose data lives in 4 KiB pages keyed by page index, so a truncate to a large size (a sparse
/// file) costs nothing and holes read as zeros.
/// </summary>
internal sealed class TmpfsFile : TmpfsNode
{
    private readonly Dictionary<long, byte[]> _pages = [];
    private long _size;

    public TmpfsFile(TmpfsFileSystem fs, uint mode, Credentials owner)
        : base(fs, mode, owner)
    {
    }

    internal override long Size => _size;

    internal override long Blocks => _pages.Count * (TmpfsFileSystem.PageSize / 512);

    public override ValueTask<IFileHandle> OpenAsync(OpenFlags flags, CancellationToken ct = default) =>
        ValueTask.FromResult<IFileHandle>(new FileHandle(this, flags));

    /// <summary>Changes the size; returns whether it changed. Caller holds the lock.</summary>
    internal bool Truncate(long size)
    {
        if (size == _size)
        {
            return false;
        }

        if (size < _size)
        {
            long firstDropped = (size + TmpfsFileSystem.PageSize - 1) / TmpfsFileSystem.PageSize;
            var drop = _pages.Keys.Where(k => k >= firstDropped).ToList();
            foreach (var k in drop)
            {
                _pages.Remove(k);
            }

            Fs.ChargePages(-drop.Count);

            // Zero the tail of the last kept page, so growing the file again exposes zeros, not old data.
            int inPage = (int)(size % TmpfsFileSystem.PageSize);
            if (inPage != 0 && _pages.TryGetValue(size / TmpfsFileSystem.PageSize, out var last))
            {
                Array.Clear(last, inPage, last.Length - inPage);
            }
        }

        _size = size;
        return true;
    }

    internal int Read(Span<byte> buffer, long offset)
    {
        if (offset < 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        lock (Fs.Sync)
        {
            if (offset >= _size)
            {
                return 0;
            }

            int count = (int)Math.Min(buffer.Length, _size - offset);
            int done = 0;
            while (done < count)
            {
                long pos = offset + done;
                long index = pos / TmpfsFileSystem.PageSize;
                int inPage = (int)(pos % TmpfsFileSystem.PageSize);
                int n = Math.Min(count - done, TmpfsFileSystem.PageSize - inPage);
                if (_pages.TryGetValue(index, out var page))
                {
                    page.AsSpan(inPage, n).CopyTo(buffer.Slice(done, n));
                }
                else
                {
                    buffer.Slice(done, n).Clear();
                }

                done += n;
            }

            return count;
        }
    }

    internal int Write(ReadOnlySpan<byte> data, long offset, bool append)
    {
        lock (Fs.Sync)
        {
            Fs.CheckWritable();
            if (append)
            {
                offset = _size;
            }

            if (offset < 0)
            {
                VfsException.Throw(Errno.EINVAL);
            }

            if (offset > long.MaxValue - data.Length)
            {
                VfsException.Throw(Errno.EFBIG);
            }

            if (data.IsEmpty)
            {
                return 0;
            }

            // Charge every page this write allocates first, so ENOSPC leaves the file unchanged.
            long firstPage = offset / TmpfsFileSystem.PageSize;
            long lastPage = (offset + data.Length - 1) / TmpfsFileSystem.PageSize;
            long missing = 0;
            for (long i = firstPage; i <= lastPage; i++)
            {
                if (!_pages.ContainsKey(i))
                {
                    missing++;
                }
            }

            Fs.ChargePages(missing);
            int done = 0;
            while (done < data.Length)
            {
                long pos = offset + done;
                long index = pos / TmpfsFileSystem.PageSize;
                int inPage = (int)(pos % TmpfsFileSystem.PageSize);
                int n = Math.Min(data.Length - done, TmpfsFileSystem.PageSize - inPage);
                if (!_pages.TryGetValue(index, out var page))
                {
                    page = new byte[TmpfsFileSystem.PageSize];
                    _pages[index] = page;
                }

                data.Slice(done, n).CopyTo(page.AsSpan(inPage, n));
                done += n;
            }

            _size = Math.Max(_size, offset + data.Length);
            Mtime = Ctime = Fs.Now();
            return data.Length;
        }
    }

    private sealed class FileHandle(TmpfsFile file, OpenFlags flags) : IFileHandle
    {
        public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken ct = default) =>
            ValueTask.FromResult(file.Read(buffer.Span, offset));

        public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken ct = default) =>
            ValueTask.FromResult(file.Write(data.Span, offset, (flags & OpenFlags.Append) != 0));

        public ValueTask<IReadOnlyList<DirEntry>> ReadDirAsync(long cookie, int max, CancellationToken ct = default) =>
            throw new VfsException(Errno.ENOTDIR);

        public ValueTask FsyncAsync(CancellationToken ct = default) => default;

        public ValueTask DisposeAsync() => default;
    }
}
