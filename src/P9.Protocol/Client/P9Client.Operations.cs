using System.Runtime.CompilerServices;
using P9.Protocol.Wire;

namespace P9.Protocol.Client;

/// <summary>The raw 9P2000.L operations by fid number. Internal: callers use <see cref="P9Fid"/>, which owns its fid.</summary>
public sealed partial class P9Client
{
    // size[4] Twalk tag[2] fid[4] newfid[4] nwname[2] nwname*(wname[s]) → Rwalk nwqid[2] nwqid*(qid[13])
    /// <summary>Returns how many names resolved (their qids copied into <paramref name="qids"/>). newfid exists
    /// afterwards only if all did (or names is empty); a short walk leaves newfid unused and its number freed.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<int> WalkRawAsync(uint fid, uint newFid, ReadOnlyMemory<string> names, Memory<Qid> qids, CancellationToken cancellationToken)
    {
        if (names.Length > P9Constants.MaxWalkElements)
            throw new ArgumentException("at most 16 names per Twalk", nameof(names));
        if (qids.Length < names.Length)
            throw new ArgumentException("the qid buffer is shorter than the name list", nameof(qids));
        bool inPlace = fid == newFid;
        int n = await RpcAsync(P9MessageType.Twalk, (fid, newFid, names, qids),
            static (w, tag, s) => Twalk.Encode(w, tag, s.fid, s.newFid, s.names.Span),
            static (op, s) =>
            {
                int count = (int)op.Count;
                op.Qids.AsSpan(0, count).CopyTo(s.qids.Span);
                return count;
            },
            cancellationToken, newFid: inPlace ? P9Constants.NoFid : newFid, walkNames: names.Length).ConfigureAwait(false);
        if (n < names.Length && !inPlace)
            FreeFid(newFid);
        return n;
    }

    // size[4] Tlopen tag[2] fid[4] flags[4] → Rlopen qid[13] iounit[4]
    internal ValueTask<(Qid Qid, uint IoUnit)> LopenRawAsync(uint fid, LopenFlags flags, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tlopen, (fid, flags), static (w, tag, s) => Tlopen.Encode(w, tag, s.fid, s.flags),
            static (op, _) => (op.Qid, op.IoUnit), cancellationToken);

    // size[4] Tlcreate tag[2] fid[4] name[s] flags[4] mode[4] gid[4] → Rlcreate qid[13] iounit[4]
    internal ValueTask<(Qid Qid, uint IoUnit)> LcreateRawAsync(uint fid, string name, LopenFlags flags, uint mode, uint gid, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tlcreate, (fid, name, flags, mode, gid),
            static (w, tag, s) => Tlcreate.Encode(w, tag, s.fid, s.name, s.flags, s.mode, s.gid),
            static (op, _) => (op.Qid, op.IoUnit), cancellationToken);

    // size[4] Tread tag[2] fid[4] offset[8] count[4] → Rread count[4] data[count]
    internal ValueTask<uint> ReadRawAsync(uint fid, ulong offset, Memory<byte> destination, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tread, (fid, offset, count: (uint)destination.Length),
            static (w, tag, s) => Tread.Encode(w, tag, s.fid, s.offset, s.count),
            static (op, _) => op.Count, cancellationToken, destination: destination, requested: (uint)destination.Length);

    // size[4] Twrite tag[2] fid[4] offset[8] count[4] data[count] → Rwrite count[4]
    internal ValueTask<uint> WriteRawAsync(uint fid, ulong offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Twrite, (fid, offset, data),
            static (w, tag, s) => Twrite.Encode(w, tag, s.fid, s.offset, s.data.Span),
            static (op, _) => op.Count, cancellationToken, requested: (uint)data.Length);

    // size[4] Treaddir tag[2] fid[4] offset[8] count[4] → Rreaddir count[4] data[count]
    internal ValueTask<uint> ReadDirRawAsync(uint fid, ulong offset, Memory<byte> destination, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Treaddir, (fid, offset, count: (uint)destination.Length),
            static (w, tag, s) => Treaddir.Encode(w, tag, s.fid, s.offset, s.count),
            static (op, _) => op.Count, cancellationToken, destination: destination, requested: (uint)destination.Length);

    // size[4] Tgetattr tag[2] fid[4] request_mask[8] → Rgetattr …
    internal ValueTask<P9Attr> GetAttrRawAsync(uint fid, GetattrMask mask, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tgetattr, (fid, mask), static (w, tag, s) => Tgetattr.Encode(w, tag, s.fid, s.mask),
            static (op, _) => op.Attr, cancellationToken);

    // size[4] Tsetattr tag[2] fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime_sec[8] atime_nsec[8] mtime_sec[8] mtime_nsec[8]
    internal ValueTask<bool> SetAttrRawAsync(uint fid, P9SetAttr a, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tsetattr, (fid, a),
            static (w, tag, s) => Tsetattr.Encode(w, tag, s.fid, s.a.Valid, s.a.Mode, s.a.Uid, s.a.Gid, s.a.Size, s.a.AtimeSec, s.a.AtimeNsec, s.a.MtimeSec, s.a.MtimeNsec),
            static (_, _) => true, cancellationToken);

    // size[4] Tclunk tag[2] fid[4] → Rclunk. The fid is gone afterwards even on Rlerror (clunk(5)).
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask ClunkRawAsync(uint fid)
    {
        try
        {
            await RpcAsync(P9MessageType.Tclunk, fid, static (w, tag, s) => Tclunk.Encode(w, tag, s), static (_, _) => true, default).ConfigureAwait(false);
        }
        catch (P9Exception)
        {
            FreeFid(fid);
            throw;
        }
        FreeFid(fid);
    }

    // size[4] Tremove tag[2] fid[4] → Rremove. Clunks the fid whatever the outcome (remove(5)).
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask RemoveRawAsync(uint fid)
    {
        try
        {
            await RpcAsync(P9MessageType.Tremove, fid, static (w, tag, s) => Tremove.Encode(w, tag, s), static (_, _) => true, default).ConfigureAwait(false);
        }
        catch (P9Exception)
        {
            FreeFid(fid);
            throw;
        }
        FreeFid(fid);
    }

    // size[4] Tstatfs tag[2] fid[4] → Rstatfs …
    internal ValueTask<P9StatFs> StatFsRawAsync(uint fid, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tstatfs, fid, static (w, tag, s) => Tstatfs.Encode(w, tag, s), static (op, _) => op.StatFs, cancellationToken);

    // size[4] Treadlink tag[2] fid[4] → Rreadlink target[s]
    internal ValueTask<string> ReadLinkRawAsync(uint fid, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Treadlink, fid, static (w, tag, s) => Treadlink.Encode(w, tag, s), static (op, _) => op.Text ?? "", cancellationToken);

    // size[4] Tsymlink tag[2] fid[4] name[s] symtgt[s] gid[4] → Rsymlink qid[13]
    internal ValueTask<Qid> SymlinkRawAsync(uint dirFid, string name, string target, uint gid, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tsymlink, (dirFid, name, target, gid), static (w, tag, s) => Tsymlink.Encode(w, tag, s.dirFid, s.name, s.target, s.gid),
            static (op, _) => op.Qid, cancellationToken);

    // size[4] Tmkdir tag[2] dfid[4] name[s] mode[4] gid[4] → Rmkdir qid[13]
    internal ValueTask<Qid> MkdirRawAsync(uint dirFid, string name, uint mode, uint gid, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tmkdir, (dirFid, name, mode, gid), static (w, tag, s) => Tmkdir.Encode(w, tag, s.dirFid, s.name, s.mode, s.gid),
            static (op, _) => op.Qid, cancellationToken);

    // size[4] Tmknod tag[2] dfid[4] name[s] mode[4] major[4] minor[4] gid[4] → Rmknod qid[13]
    internal ValueTask<Qid> MknodRawAsync(uint dirFid, string name, uint mode, uint major, uint minor, uint gid, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tmknod, (dirFid, name, mode, major, minor, gid),
            static (w, tag, s) => Tmknod.Encode(w, tag, s.dirFid, s.name, s.mode, s.major, s.minor, s.gid),
            static (op, _) => op.Qid, cancellationToken);

    // size[4] Tlink tag[2] dfid[4] fid[4] name[s] → Rlink
    internal ValueTask<bool> LinkRawAsync(uint dirFid, uint fid, string name, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tlink, (dirFid, fid, name), static (w, tag, s) => Tlink.Encode(w, tag, s.dirFid, s.fid, s.name),
            static (_, _) => true, cancellationToken);

    // size[4] Trename tag[2] fid[4] dfid[4] name[s] → Rrename
    internal ValueTask<bool> RenameRawAsync(uint fid, uint newDirFid, string name, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Trename, (fid, newDirFid, name), static (w, tag, s) => Trename.Encode(w, tag, s.fid, s.newDirFid, s.name),
            static (_, _) => true, cancellationToken);

    // size[4] Trenameat tag[2] olddirfid[4] oldname[s] newdirfid[4] newname[s] → Rrenameat
    internal ValueTask<bool> RenameAtRawAsync(uint oldDirFid, string oldName, uint newDirFid, string newName, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Trenameat, (oldDirFid, oldName, newDirFid, newName),
            static (w, tag, s) => Trenameat.Encode(w, tag, s.oldDirFid, s.oldName, s.newDirFid, s.newName),
            static (_, _) => true, cancellationToken);

    // size[4] Tunlinkat tag[2] dirfd[4] name[s] flags[4] → Runlinkat
    internal ValueTask<bool> UnlinkAtRawAsync(uint dirFid, string name, uint flags, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tunlinkat, (dirFid, name, flags), static (w, tag, s) => Tunlinkat.Encode(w, tag, s.dirFid, s.name, s.flags),
            static (_, _) => true, cancellationToken);

    // size[4] Tfsync tag[2] fid[4] datasync[4] → Rfsync
    internal ValueTask<bool> FsyncRawAsync(uint fid, bool dataSync, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tfsync, (fid, dataSync), static (w, tag, s) => Tfsync.Encode(w, tag, s.fid, s.dataSync ? 1u : 0u),
            static (_, _) => true, cancellationToken);

    // size[4] Txattrwalk tag[2] fid[4] newfid[4] name[s] → Rxattrwalk size[8]
    internal ValueTask<ulong> XattrWalkRawAsync(uint fid, uint newFid, string name, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Txattrwalk, (fid, newFid, name), static (w, tag, s) => Txattrwalk.Encode(w, tag, s.fid, s.newFid, s.name),
            static (op, _) => op.U64, cancellationToken, newFid: newFid);

    // size[4] Txattrcreate tag[2] fid[4] name[s] attr_size[8] flags[4] → Rxattrcreate
    internal ValueTask<bool> XattrCreateRawAsync(uint fid, string name, ulong size, uint flags, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Txattrcreate, (fid, name, size, flags), static (w, tag, s) => Txattrcreate.Encode(w, tag, s.fid, s.name, s.size, s.flags),
            static (_, _) => true, cancellationToken);

    // size[4] Tlock tag[2] fid[4] type[1] flags[4] start[8] length[8] proc_id[4] client_id[s] → Rlock status[1]
    internal ValueTask<LockStatus> LockRawAsync(uint fid, LockType type, LockFlags flags, ulong start, ulong length, uint procId, string clientId, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tlock, (fid, type, flags, start, length, procId, clientId),
            static (w, tag, s) => Tlock.Encode(w, tag, s.fid, s.type, s.flags, s.start, s.length, s.procId, s.clientId),
            static (op, _) => op.LockStatus, cancellationToken);

    // size[4] Tgetlock tag[2] fid[4] type[1] start[8] length[8] proc_id[4] client_id[s] → Rgetlock …
    internal ValueTask<P9LockInfo> GetLockRawAsync(uint fid, LockType type, ulong start, ulong length, uint procId, string clientId, CancellationToken cancellationToken) =>
        RpcAsync(P9MessageType.Tgetlock, (fid, type, start, length, procId, clientId),
            static (w, tag, s) => Tgetlock.Encode(w, tag, s.fid, s.type, s.start, s.length, s.procId, s.clientId),
            static (op, _) => op.LockInfo, cancellationToken);

    /// <summary>Whether the server answered Tunlinkat with EOPNOTSUPP once (diod): later unlinks go straight to
    /// walk + Tremove, as the Linux client does.</summary>
    internal bool UnlinkAtUnsupported
    {
        get => Volatile.Read(ref _unlinkatUnsupported) != 0;
        set => Volatile.Write(ref _unlinkatUnsupported, value ? 1 : 0);
    }
}
