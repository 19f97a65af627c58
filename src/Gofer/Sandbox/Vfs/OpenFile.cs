namespace Gofer.Sandbox.Vfs;

/// <summary>
/// An open file description: a filesystem (or device) handle, the file offset, and the access mode. Keeps its
/// dentry pinned so the dentry cache never evicts what an application holds open.
/// </summary>
internal sealed class OpenFile : IAsyncDisposable
{
    private readonly MountNamespace _ns;
    private readonly IFileHandle _handle;
    private readonly SemaphoreSlim _offsetLock = new(1, 1);
    private long _offset;
    private int _closed;

    internal OpenFile(MountNamespace ns, Location location, IFileHandle handle, OpenFlags flags)
    {
        _ns = ns;
        Location = location;
        _handle = handle;
        Flags = flags;
    }

    public OpenFlags Flags { get; }

    internal Location Location { get; }

    public INode Node => Location.Node;

    public MountFlags MountFlags => Location.Mount.Flags;

    /// <summary>False on a noexec mount or without any execute bit: what execve would check.</summary>
    public async ValueTask<bool> CanExecuteAsync(CancellationToken ct = default)
    {
        if ((MountFlags & MountFlags.NoExec) != 0 || Node.Type != FileType.Regular)
        {
            return false;
        }

        var attr = await Node.GetAttrAsync(ct).ConfigureAwait(false);
        return (attr.Mode & 0x49) != 0; // any of u+x, g+x, o+x
    }

    public long Offset => Volatile.Read(ref _offset);

    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        CheckOpen();
        await _offsetLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            int n = await PReadAsync(buffer, _offset, ct).ConfigureAwait(false);
            _offset += n;
            return n;
        }
        finally
        {
            _offsetLock.Release();
        }
    }

    public async ValueTask<int> WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        CheckOpen();
        await _offsetLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            int n = await PWriteCoreAsync(data, _offset, ct).ConfigureAwait(false);
            if ((Flags & OpenFlags.Append) != 0 && Node.Type == FileType.Regular)
            {
                // The handle wrote at its end of file; the offset follows the new end, as write(2) with O_APPEND.
                _offset = (await Node.GetAttrAsync(ct).ConfigureAwait(false)).Size;
            }
            else
            {
                _offset += n;
            }

            return n;
        }
        finally
        {
            _offsetLock.Release();
        }
    }

    public ValueTask<int> PReadAsync(Memory<byte> buffer, long offset, CancellationToken ct = default)
    {
        CheckOpen();
        if (!Flags.CanRead())
        {
            VfsException.Throw(Errno.EBADF);
        }

        if (offset < 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        return _handle.ReadAsync(buffer, offset, ct);
    }

    /// <summary>pwrite(2). Linux quirk kept: on an O_APPEND file the data still goes to the end.</summary>
    public ValueTask<int> PWriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken ct = default) =>
        PWriteCoreAsync(data, offset, ct);

    private ValueTask<int> PWriteCoreAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken ct)
    {
        CheckOpen();
        if (!Flags.CanWrite())
        {
            VfsException.Throw(Errno.EBADF);
        }

        if (offset < 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        return _handle.WriteAsync(data, offset, ct);
    }

    /// <summary>lseek(2) with SEEK_SET (0), SEEK_CUR (1), SEEK_END (2).</summary>
    public async ValueTask<long> SeekAsync(long offset, int whence, CancellationToken ct = default)
    {
        CheckOpen();
        await _offsetLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            long basePos = whence switch
            {
                0 => 0,
                1 => _offset,
                2 => (await Node.GetAttrAsync(ct).ConfigureAwait(false)).Size,
                _ => VfsException.Throw<long>(Errno.EINVAL),
            };
            long pos = basePos + offset;
            if (pos < 0)
            {
                VfsException.Throw(Errno.EINVAL);
            }

            _offset = pos;
            return pos;
        }
        finally
        {
            _offsetLock.Release();
        }
    }

    /// <summary>ftruncate(2): EINVAL unless open for writing (as Linux).</summary>
    public ValueTask TruncateAsync(long size, CancellationToken ct = default)
    {
        CheckOpen();
        if (!Flags.CanWrite() || Node.Type != FileType.Regular || size < 0)
        {
            VfsException.Throw(Errno.EINVAL);
        }

        return Node.SetAttrAsync(new SetAttr(SetAttrMask.Size, Size: size), ct);
    }

    public ValueTask<InodeAttr> StatAsync(CancellationToken ct = default)
    {
        CheckOpen();
        return Node.GetAttrAsync(ct);
    }

    public ValueTask FsyncAsync(CancellationToken ct = default)
    {
        CheckOpen();
        return _handle.FsyncAsync(ct);
    }

    /// <summary>One page of getdents: entries after <paramref name="cookie"/>.</summary>
    public ValueTask<IReadOnlyList<DirEntry>> ReadDirAsync(long cookie, int max, CancellationToken ct = default)
    {
        CheckOpen();
        return _handle.ReadDirAsync(cookie, max, ct);
    }

    public ValueTask CloseAsync() => DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        try
        {
            await _handle.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            // The offset lock is not disposed: a racing read must fail with EBADF, not ObjectDisposedException,
            // and a SemaphoreSlim without a wait handle holds nothing that needs disposing.
            await _ns.UnpinAsync(Location.Dentry).ConfigureAwait(false);
        }
    }

    private void CheckOpen()
    {
        if (Volatile.Read(ref _closed) != 0)
        {
            VfsException.Throw(Errno.EBADF);
        }
    }
}
