using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using P9.Protocol.Wire;

namespace P9.Protocol.Client;

/// <summary>
/// A handle on one fid. It owns the fid: <see cref="DisposeAsync"/> (or <see cref="ClunkAsync"/>) clunks it and the
/// number goes back to the client's allocator after the Rclunk; <see cref="Dispose"/> clunks in the background.
/// Every operation that yields a new fid (walk, clone, create, xattr fids) returns a new handle, so a fid is never
/// shared between owners. Do not dispose a handle while an operation on it is still running.
/// </summary>
public sealed class P9Fid : IAsyncDisposable, IDisposable
{
    /// <summary>XATTR_SIZE_MAX: Linux refuses larger values, so a larger Rxattrwalk size is refused too.</summary>
    public const int MaxXattrSize = 65536;

    private int _closed;

    internal P9Fid(P9Client client, uint fid, Qid qid)
    {
        Client = client;
        Fid = fid;
        Qid = qid;
    }

    public P9Client Client { get; }

    /// <summary>The fid number on the wire (diagnostics; the handle owns it).</summary>
    public uint Fid { get; }

    /// <summary>The qid this fid refers to (from attach/walk/open/create; a clone inherits the source's).</summary>
    public Qid Qid { get; private set; }

    /// <summary>Set by a successful Tlopen/Tlcreate.</summary>
    public bool IsOpen { get; private set; }

    /// <summary>From Rlopen/Rlcreate; 0 means "use msize − 24".</summary>
    public uint IoUnit { get; private set; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Bytes per Tread/Twrite/Treaddir: iounit if 0 &lt; iounit ≤ msize − 24, else msize − 24.</summary>
    public int ChunkSize => IoUnit > 0 && IoUnit <= (uint)Client.MaxIoSize ? (int)IoUnit : Client.MaxIoSize;

    private uint Live
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return Fid;
        }
    }

    // ---- walking ----------------------------------------------------------------------------------------------

    /// <summary>
    /// One Twalk of up to 16 names from this fid to a new fid, with the PARTIAL result: how many names resolved
    /// (their qids are written to <paramref name="qids"/>), and the new handle when all did. A failure on the first
    /// name is an Rlerror → <see cref="P9Exception"/> (ENOENT…). Revalidating a cached path costs one RPC.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<P9WalkResult> WalkPartialAsync(ReadOnlyMemory<string> names, Memory<Qid> qids, CancellationToken cancellationToken = default)
    {
        uint fid = Live;
        uint newFid = Client.AllocateFid();
        int n = await Client.WalkRawAsync(fid, newFid, names, qids, cancellationToken).ConfigureAwait(false);
        if (n < names.Length)
            return new P9WalkResult(n, null);
        var qid = names.Length == 0 ? Qid : qids.Span[n - 1];
        return new P9WalkResult(n, new P9Fid(Client, newFid, qid));
    }

    /// <summary>Walks any number of names (chunks of 16, like the Linux client: the first chunk clones to a new fid,
    /// later chunks walk it in place). A walk that stops early throws ENOENT and leaves no fid behind.</summary>
    public async ValueTask<P9Fid> WalkAsync(IReadOnlyList<string> names, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(names);
        string[] all = names as string[] ?? [.. names];
        var qids = new Qid[P9Constants.MaxWalkElements];
        int first = Math.Min(all.Length, P9Constants.MaxWalkElements);
        var result = await WalkPartialAsync(all.AsMemory(0, first), qids, cancellationToken).ConfigureAwait(false);
        if (result.Fid is not { } walked)
            throw new P9Exception(LinuxErrno.ENOENT, P9MessageType.Twalk);
        try
        {
            for (int done = first; done < all.Length;)
            {
                int count = Math.Min(all.Length - done, P9Constants.MaxWalkElements);
                int n = await Client.WalkRawAsync(walked.Fid, walked.Fid, all.AsMemory(done, count), qids, cancellationToken).ConfigureAwait(false);
                if (n < count)
                    throw new P9Exception(LinuxErrno.ENOENT, P9MessageType.Twalk);
                walked.Qid = qids[n - 1];
                done += count;
            }
            return walked;
        }
        catch
        {
            await walked.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Walks the given names.</summary>
    public ValueTask<P9Fid> WalkAsync(params string[] names) => WalkAsync((IReadOnlyList<string>)names);

    /// <summary>Twalk with no names: a second fid on the same file.</summary>
    public ValueTask<P9Fid> CloneAsync(CancellationToken cancellationToken = default) => WalkAsync([], cancellationToken);

    // ---- open, create, I/O ------------------------------------------------------------------------------------

    /// <summary>Tlopen this fid (after which it can no longer be walked from on strict servers).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask OpenAsync(LopenFlags flags, CancellationToken cancellationToken = default)
    {
        var (qid, ioUnit) = await Client.LopenRawAsync(Live, flags, cancellationToken).ConfigureAwait(false);
        Qid = qid;
        IoUnit = ioUnit;
        IsOpen = true;
    }

    /// <summary>Creates and opens <paramref name="name"/> in this directory. Tlcreate turns the fid it is sent on into
    /// the new file, so this clones the directory first and returns the clone: this handle stays the directory.</summary>
    public async ValueTask<P9Fid> CreateAsync(string name, LopenFlags flags, uint mode, uint gid = 0, CancellationToken cancellationToken = default)
    {
        var file = await CloneAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (qid, ioUnit) = await Client.LcreateRawAsync(file.Fid, name, flags, mode, gid, cancellationToken).ConfigureAwait(false);
            file.Qid = qid;
            file.IoUnit = ioUnit;
            file.IsOpen = true;
            return file;
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>pread: reads at <paramref name="offset"/> in chunks of <see cref="ChunkSize"/> until the buffer is full
    /// or a chunk comes back short (end of file). Returns the bytes read.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReadAsync(ulong offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        uint fid = Live;
        int chunk = ChunkSize;
        int total = 0;
        while (total < buffer.Length)
        {
            int want = Math.Min(chunk, buffer.Length - total);
            uint got = await Client.ReadRawAsync(fid, offset + (ulong)total, buffer.Slice(total, want), cancellationToken).ConfigureAwait(false);
            total += (int)got;
            if (got < (uint)want)
                break;
        }
        return total;
    }

    /// <summary>pwrite: writes all of <paramref name="data"/> at <paramref name="offset"/> in chunks; returns the
    /// bytes written (less only if the server accepted 0 bytes of a chunk, as for a full disk).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> WriteAsync(ulong offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        uint fid = Live;
        int chunk = ChunkSize;
        int total = 0;
        while (total < data.Length)
        {
            int want = Math.Min(chunk, data.Length - total);
            uint put = await Client.WriteRawAsync(fid, offset + (ulong)total, data.Slice(total, want), cancellationToken).ConfigureAwait(false);
            if (put == 0)
                break;
            total += (int)put;
        }
        return total;
    }

    /// <summary>Reads from offset 0 to end of file.</summary>
    public async ValueTask<byte[]> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        uint fid = Live;
        int chunk = ChunkSize;
        var buffer = ArrayPool<byte>.Shared.Rent(chunk);
        try
        {
            using var output = new MemoryStream();
            while (true)
            {
                uint got = await Client.ReadRawAsync(fid, (ulong)output.Length, buffer.AsMemory(0, chunk), cancellationToken).ConfigureAwait(false);
                if (got == 0)
                    return output.ToArray();
                output.Write(buffer, 0, (int)got);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask FsyncAsync(bool dataSync = false, CancellationToken cancellationToken = default) =>
        await Client.FsyncRawAsync(Live, dataSync, cancellationToken).ConfigureAwait(false);

    // ---- attributes -------------------------------------------------------------------------------------------

    public ValueTask<P9Attr> GetAttrAsync(GetattrMask mask = GetattrMask.Basic, CancellationToken cancellationToken = default) =>
        Client.GetAttrRawAsync(Live, mask, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SetAttrAsync(P9SetAttr attributes, CancellationToken cancellationToken = default) =>
        await Client.SetAttrRawAsync(Live, attributes, cancellationToken).ConfigureAwait(false);

    public ValueTask<P9StatFs> StatFsAsync(CancellationToken cancellationToken = default) => Client.StatFsRawAsync(Live, cancellationToken);

    // ---- directories ------------------------------------------------------------------------------------------

    /// <summary>One Treaddir into a caller buffer (≤ ChunkSize is used): returns the byte count of whole entries,
    /// 0 at the end. Parse with <see cref="DirentReader"/>; resume with the last entry's Offset. Allocates nothing.</summary>
    public ValueTask<uint> ReadDirRawAsync(ulong offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        uint fid = Live;
        return Client.ReadDirRawAsync(fid, offset, buffer[..Math.Min(buffer.Length, ChunkSize)], cancellationToken);
    }

    /// <summary>One Treaddir from cookie <paramref name="offset"/> (0 = start). Empty list = end of directory.</summary>
    public async ValueTask<IReadOnlyList<P9DirEntry>> ReadDirAsync(ulong offset, CancellationToken cancellationToken = default)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            uint count = await ReadDirRawAsync(offset, buffer, cancellationToken).ConfigureAwait(false);
            return ParseEntries(buffer.AsSpan(0, (int)count));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Every entry, following the cookies until an empty Rreaddir.</summary>
    public async ValueTask<List<P9DirEntry>> ReadDirAllAsync(CancellationToken cancellationToken = default)
    {
        var all = new List<P9DirEntry>();
        ulong cookie = 0;
        while (true)
        {
            var batch = await ReadDirAsync(cookie, cancellationToken).ConfigureAwait(false);
            if (batch.Count == 0)
                return all;
            all.AddRange(batch);
            cookie = batch[^1].Offset;
        }
    }

    private static List<P9DirEntry> ParseEntries(ReadOnlySpan<byte> data)
    {
        var list = new List<P9DirEntry>();
        var reader = new DirentReader(data);
        while (reader.TryRead(out var e))
            list.Add(new P9DirEntry(e.Qid, e.Offset, e.Type, Encoding.UTF8.GetString(e.Name)));
        return list;
    }

    public ValueTask<Qid> MkdirAsync(string name, uint mode, uint gid = 0, CancellationToken cancellationToken = default) =>
        Client.MkdirRawAsync(Live, name, mode, gid, cancellationToken);

    public ValueTask<Qid> SymlinkAsync(string name, string target, uint gid = 0, CancellationToken cancellationToken = default) =>
        Client.SymlinkRawAsync(Live, name, target, gid, cancellationToken);

    public ValueTask<Qid> MknodAsync(string name, uint mode, uint major, uint minor, uint gid = 0, CancellationToken cancellationToken = default) =>
        Client.MknodRawAsync(Live, name, mode, major, minor, gid, cancellationToken);

    public ValueTask<string> ReadLinkAsync(CancellationToken cancellationToken = default) => Client.ReadLinkRawAsync(Live, cancellationToken);

    /// <summary>Tlink: this directory gets a new entry <paramref name="name"/> for <paramref name="target"/>.</summary>
    public async ValueTask LinkAsync(string name, P9Fid target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        await Client.LinkRawAsync(Live, target.Live, name, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Trename: moves the file this fid refers to into <paramref name="newDirectory"/> as <paramref name="newName"/>.</summary>
    public async ValueTask RenameAsync(P9Fid newDirectory, string newName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newDirectory);
        await Client.RenameRawAsync(Live, newDirectory.Live, newName, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Trenameat from this directory.</summary>
    public async ValueTask RenameAtAsync(string oldName, P9Fid newDirectory, string newName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newDirectory);
        await Client.RenameAtRawAsync(Live, oldName, newDirectory.Live, newName, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Tunlinkat in this directory (flags: <see cref="UnlinkatFlags.RemoveDir"/>). A server without it
    /// (EOPNOTSUPP, e.g. diod) gets walk + Tremove instead, as from the Linux client, and is remembered.</summary>
    public async ValueTask UnlinkAtAsync(string name, uint flags = 0, CancellationToken cancellationToken = default)
    {
        uint fid = Live;
        if (!Client.UnlinkAtUnsupported)
        {
            try
            {
                await Client.UnlinkAtRawAsync(fid, name, flags, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (P9Exception e) when (e.Errno == LinuxErrno.EOPNOTSUPP)
            {
                Client.UnlinkAtUnsupported = true;
            }
        }
        var victim = await WalkAsync([name], cancellationToken).ConfigureAwait(false);
        await victim.RemoveAsync().ConfigureAwait(false);
    }

    /// <summary>Tremove: removes the file and clunks this fid, whatever the outcome.</summary>
    public async ValueTask RemoveAsync()
    {
        ObjectDisposedException.ThrowIf(Interlocked.Exchange(ref _closed, 1) != 0, this);
        await Client.RemoveRawAsync(Fid).ConfigureAwait(false);
    }

    // ---- xattrs -----------------------------------------------------------------------------------------------

    /// <summary>getxattr: Txattrwalk to a new fid, Tread until its size, Tclunk.</summary>
    public async ValueTask<byte[]> GetXattrAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        uint fid = Live;
        uint xfid = Client.AllocateFid();
        ulong size = await Client.XattrWalkRawAsync(fid, xfid, name, cancellationToken).ConfigureAwait(false);
        await using var xattr = new P9Fid(Client, xfid, Qid);
        if (size > MaxXattrSize)
            throw new P9Exception(LinuxErrno.E2BIG, P9MessageType.Txattrwalk);
        var value = new byte[size];
        int got = await xattr.ReadAsync(0, value, cancellationToken).ConfigureAwait(false);
        return got == value.Length ? value : value[..got];
    }

    /// <summary>listxattr: a Txattrwalk with an empty name; the content is the NUL-separated name list.</summary>
    public async ValueTask<string[]> ListXattrsAsync(CancellationToken cancellationToken = default)
    {
        var raw = await GetXattrAsync("", cancellationToken).ConfigureAwait(false);
        return Encoding.UTF8.GetString(raw).Split('\0', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>setxattr: clone, Txattrcreate(name, size, flags), Twrite the value, Tclunk. The server applies the
    /// value at the clunk, so the clunk's error is this call's error. flags: <see cref="XattrFlags"/>.</summary>
    public async ValueTask SetXattrAsync(string name, ReadOnlyMemory<byte> value, uint flags = 0, CancellationToken cancellationToken = default)
    {
        var xattr = await CloneAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Client.XattrCreateRawAsync(xattr.Fid, name, (ulong)value.Length, flags, cancellationToken).ConfigureAwait(false);
            int written = await xattr.WriteAsync(0, value, cancellationToken).ConfigureAwait(false);
            if (written != value.Length)
                throw new P9Exception(LinuxErrno.EIO, P9MessageType.Twrite);
        }
        catch
        {
            await xattr.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        await xattr.ClunkAsync().ConfigureAwait(false);
    }

    /// <summary>removexattr, as the Linux client sends it: Txattrcreate with size 0 and XATTR_REPLACE, then Tclunk.</summary>
    public async ValueTask RemoveXattrAsync(string name, CancellationToken cancellationToken = default)
    {
        var xattr = await CloneAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Client.XattrCreateRawAsync(xattr.Fid, name, 0, XattrFlags.Replace, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await xattr.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        await xattr.ClunkAsync().ConfigureAwait(false);
    }

    // ---- locks ------------------------------------------------------------------------------------------------

    /// <summary>Tlock (POSIX byte-range; length 0 = to end of file). BLOCKED is returned, not retried.</summary>
    public ValueTask<LockStatus> LockAsync(LockType type, LockFlags flags, ulong start, ulong length, uint procId, string clientId, CancellationToken cancellationToken = default) =>
        Client.LockRawAsync(Live, type, flags, start, length, procId, clientId, cancellationToken);

    /// <summary>Tgetlock: the conflicting lock, or type Unlock when the range is free.</summary>
    public ValueTask<P9LockInfo> GetLockAsync(LockType type, ulong start, ulong length, uint procId, string clientId, CancellationToken cancellationToken = default) =>
        Client.GetLockRawAsync(Live, type, start, length, procId, clientId, cancellationToken);

    // ---- lifetime ---------------------------------------------------------------------------------------------

    /// <summary>Tclunk, reporting the server's error (a setxattr's failure arrives here). Idempotent: only the first
    /// call sends. If the connection is dead there is nothing to clunk.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ClunkAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
            return;
        if (!Client.IsConnected)
            return;
        await Client.ClunkRawAsync(Fid).ConfigureAwait(false);
    }

    /// <summary>Clunks, ignoring the server's answer and a dead connection.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask DisposeAsync()
    {
        try
        {
            await ClunkAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // P9Exception (the clunk's error) or P9ConnectionException: the fid is gone either way.
        }
    }

    /// <summary>Sends the Tclunk without waiting for it (the number is reused after the Rclunk).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
            return;
        if (Client.IsConnected)
            Client.ClunkInBackground(Fid);
    }

    public override string ToString() => $"fid {Fid} {Qid}";
}
