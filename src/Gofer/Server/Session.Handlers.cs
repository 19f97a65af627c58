using System.Buffers;
using Gofer.HostFs;
using Gofer.HostFs.Native;
using P9.Protocol.Wire;
using HostQid = Gofer.HostFs.Qid;
using WireQid = P9.Protocol.Wire.Qid;

namespace Gofer.Server;

/// <summary>
/// The handlers: decode → HostFs call → encode. Thin on purpose: every host rule (names, confinement, flags,
/// read-only, special files) lives in HostFs. Each handler writes exactly one reply into <c>o</c>.
/// </summary>
internal sealed partial class Session
{
    private void Handle(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        switch (h.Type)
        {
            case P9MessageType.Tattach: Attach(frame, h, o); break;
            case P9MessageType.Tauth: Auth(frame, h, o); break;
            case P9MessageType.Twalk: Walk(frame, h, o); break;
            case P9MessageType.Tclunk: Clunk(frame, h, o); break;
            case P9MessageType.Tremove: Remove(frame, h, o); break;
            case P9MessageType.Tgetattr: GetAttr(frame, h, o); break;
            case P9MessageType.Tsetattr: SetAttr(frame, h, o); break;
            case P9MessageType.Tstatfs: StatFs(frame, h, o); break;
            case P9MessageType.Tlopen: Lopen(frame, h, o); break;
            case P9MessageType.Tlcreate: Lcreate(frame, h, o); break;
            case P9MessageType.Tread: Read(frame, h, o); break;
            case P9MessageType.Twrite: Write(frame, h, o); break;
            case P9MessageType.Treaddir: ReadDir(frame, h, o); break;
            case P9MessageType.Tfsync: Fsync(frame, h, o); break;
            case P9MessageType.Tsymlink: Symlink(frame, h, o); break;
            case P9MessageType.Tmknod: Mknod(frame, h, o); break;
            case P9MessageType.Tmkdir: Mkdir(frame, h, o); break;
            case P9MessageType.Treadlink: ReadLink(frame, h, o); break;
            case P9MessageType.Tlink: Link(frame, h, o); break;
            case P9MessageType.Trename: Rename(frame, h, o); break;
            case P9MessageType.Trenameat: RenameAt(frame, h, o); break;
            case P9MessageType.Tunlinkat: UnlinkAt(frame, h, o); break;
            case P9MessageType.Tlock: Lock(frame, h, o); break;
            case P9MessageType.Tgetlock: GetLock(frame, h, o); break;
            case P9MessageType.Txattrwalk: XattrWalk(frame, h, o); break;
            case P9MessageType.Txattrcreate: XattrCreate(frame, h, o); break;
            default:
                // Tversion and Tflush are handled by the read loop; anything else well-framed is not ours.
                Rlerror.Encode(o, h.Tag, LinuxErrno.EOPNOTSUPP);
                break;
        }
    }

    /// <summary>
    /// Test seam: runs one request frame through its handler on the calling thread, as the read loop (inline) or a
    /// worker would, without the transport. <paramref name="msize"/> stands in for a completed Tversion.
    /// </summary>
    internal void HandleForTests(ReadOnlySpan<byte> frame, ReplyBuffer output, uint msize)
    {
        _msize = msize;
        _maxFrame = msize;
        _versioned = true;
        FrameHeader.TryRead(frame, out var header);
        RunHandler(frame, header, output);
    }

    private static WireQid ToWire(HostQid q) => new((QidType)q.Type, q.Version, q.Path);

    private static void Error(IBufferWriter<byte> o, ushort tag, Errno e) => Rlerror.Encode(o, tag, (uint)e);

    private static void Error(IBufferWriter<byte> o, ushort tag, P9DecodeError e) => Rlerror.Encode(o, tag, e.ToErrno());

    /// <summary>Looks up a fid that names a host node (not an xattr fid). On failure the error reply is written.</summary>
    private bool TryNode(uint id, IBufferWriter<byte> o, ushort tag, out Fid fid, out HostNode node)
    {
        node = null!;
        if (!_fids.TryGet(id, out fid))
        {
            Rlerror.Encode(o, tag, LinuxErrno.EBADF);
            return false;
        }
        if (fid.Node is null || fid.IsXattrCreate)
        {
            fid.Release();
            Rlerror.Encode(o, tag, LinuxErrno.EBADF);
            return false;
        }
        node = fid.Node;
        return true;
    }

    private void AddFid(uint id, Fid fid, IBufferWriter<byte> o, ushort tag, out bool added)
    {
        var r = _fids.TryAdd(id, fid);
        added = r == AddResult.Added;
        if (!added)
        {
            fid.Release();
            Rlerror.Encode(o, tag, r == AddResult.Full ? LinuxErrno.EMFILE : LinuxErrno.EINVAL);
        }
    }

    // ---- session ---------------------------------------------------------------------------------------------

    // Tauth: no authentication scheme is offered. ENOENT, as diod answers when authentication is not required: its
    // clients (diodls, diodcat, mount.diod) read exactly that as "go ahead and attach"; the Linux client never sends it.
    private static void Auth(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tauth.TryDecode(frame, out _);
        Rlerror.Encode(o, h.Tag, e != P9DecodeError.None ? e.ToErrno() : LinuxErrno.ENOENT);
    }

    private void Attach(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tattach.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (m.Afid != P9Constants.NoFid)
        {
            Rlerror.Encode(o, h.Tag, LinuxErrno.EINVAL);
            return;
        }
        if (_fids.Contains(m.Fid))
        {
            Rlerror.Encode(o, h.Tag, LinuxErrno.EINVAL);
            return;
        }

        // aname "" or "/" is the export root; anything else is a path inside the export, walked like Twalk.
        var node = _export.Attach();
        var rest = m.Aname;
        while (!rest.IsEmpty)
        {
            int slash = rest.IndexOf((byte)'/');
            var name = slash < 0 ? rest : rest[..slash];
            rest = slash < 0 ? default : rest[(slash + 1)..];
            if (name.IsEmpty)
                continue;
            var err = node.Walk(name, out var child);
            node.Recycle();
            if (err != Errno.None)
            {
                Error(o, h.Tag, err);
                return;
            }
            node = child!;
        }

        var qid = ToWire(node.Qid);
        AddFid(m.Fid, Fid.Create(node, m.NUname), o, h.Tag, out bool added);
        if (added)
            Rattach.Encode(o, h.Tag, qid);
    }

    // ---- walk, clunk, remove ---------------------------------------------------------------------------------

    private void Walk(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Twalk.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var start))
            return;
        try
        {
            if (m.Newfid != m.Fid && _fids.Contains(m.Newfid))
            {
                Rlerror.Encode(o, h.Tag, LinuxErrno.EINVAL);
                return;
            }

            HostNode result;
            Span<WireQid> qids = stackalloc WireQid[P9Constants.MaxWalkElements];
            int n = 0;
            if (m.Wnames.Count == 0)
            {
                Errno cloneErr;
                HostNode? clone;
                lock (fid.Gate)
                    cloneErr = start.TryClone(out clone);
                if (cloneErr != Errno.None)
                {
                    Error(o, h.Tag, cloneErr);
                    return;
                }
                result = clone!;
            }
            else
            {
                HostNode cur = start;
                Errno err = Errno.None;
                lock (fid.Gate)
                {
                    foreach (var name in m.Wnames)
                    {
                        err = cur.Walk(name, out var child);
                        if (cur != start)
                            cur.Recycle(); // an intermediate node only this walk ever saw
                        if (err != Errno.None)
                        {
                            cur = null!;
                            break;
                        }
                        cur = child!;
                        qids[n++] = ToWire(cur.Qid);
                    }
                }
                if (err != Errno.None)
                {
                    // First name failed: error. Later: the qids that succeeded, and newfid is not created.
                    if (n == 0)
                        Error(o, h.Tag, err);
                    else
                        Rwalk.Encode(o, h.Tag, qids[..n]);
                    return;
                }
                result = cur;
            }

            var created = Fid.Create(result, fid.Uid);
            if (m.Newfid == m.Fid)
            {
                _fids.Replace(m.Fid, created);
            }
            else
            {
                AddFid(m.Newfid, created, o, h.Tag, out bool added);
                if (!added)
                    return;
            }
            Rwalk.Encode(o, h.Tag, qids[..n]);
        }
        finally
        {
            fid.Release();
        }
    }

    private void Clunk(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tclunk.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!_fids.TryRemove(m.Fid, out var fid))
        {
            Rlerror.Encode(o, h.Tag, LinuxErrno.EBADF);
            return;
        }

        Errno err = Errno.None;
        if (fid.IsXattrCreate && fid.Node is { } node)
        {
            // Txattrcreate's value is applied now; its error is the Rclunk's (the fid is gone either way).
            lock (fid.Gate)
            {
                err = fid.XattrValue is { Length: > 0 } value
                    ? node.SetXattr(fid.XattrName, value, fid.XattrFlags)
                    : node.RemoveXattr(fid.XattrName);
            }
        }
        fid.Release();
        if (err != Errno.None)
            Error(o, h.Tag, err);
        else
            Rclunk.Encode(o, h.Tag);
    }

    private void Remove(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tremove.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        // Tremove clunks the fid whatever the outcome.
        if (!_fids.TryRemove(m.Fid, out var fid))
        {
            Rlerror.Encode(o, h.Tag, LinuxErrno.EBADF);
            return;
        }
        Errno err;
        if (fid.Node is null)
        {
            err = Errno.EBADF;
        }
        else
        {
            lock (fid.Gate)
                err = fid.Node.Remove();
        }
        fid.Release();
        if (err != Errno.None)
            Error(o, h.Tag, err);
        else
            Rremove.Encode(o, h.Tag);
    }

    // ---- attributes ------------------------------------------------------------------------------------------

    private void GetAttr(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tgetattr.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            var err = node.GetAttr((ulong)m.RequestMask, out var a);
            if (err != Errno.None)
            {
                Error(o, h.Tag, err);
                return;
            }
            Rgetattr.Encode(o, h.Tag, (GetattrMask)a.Valid, ToWire(a.Qid), a.Mode, a.Uid, a.Gid, a.Nlink, a.Rdev, a.Size,
                a.Blksize, a.Blocks, a.AtimeSec, a.AtimeNsec, a.MtimeSec, a.MtimeNsec, a.CtimeSec, a.CtimeNsec,
                a.BtimeSec, a.BtimeNsec, a.Gen, a.DataVersion);
        }
        finally
        {
            fid.Release();
        }
    }

    private void SetAttr(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tsetattr.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            var req = new SetAttrRequest
            {
                Valid = (uint)m.Valid,
                Mode = m.Mode,
                Uid = m.Uid,
                Gid = m.Gid,
                Size = m.Size,
                AtimeSec = m.AtimeSec,
                AtimeNsec = m.AtimeNsec,
                MtimeSec = m.MtimeSec,
                MtimeNsec = m.MtimeNsec,
            };
            var err = node.SetAttr(in req);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else
                Rsetattr.Encode(o, h.Tag);
        }
        finally
        {
            fid.Release();
        }
    }

    private void StatFs(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tstatfs.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            var err = node.StatFs(out var s);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else
                Rstatfs.Encode(o, h.Tag, s.Type, s.Bsize, s.Blocks, s.Bfree, s.Bavail, s.Files, s.Ffree, s.Fsid, s.Namelen);
        }
        finally
        {
            fid.Release();
        }
    }

    // ---- open, create, I/O -----------------------------------------------------------------------------------

    private void Lopen(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tlopen.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            Errno err;
            HostQid qid;
            uint iounit;
            lock (fid.Gate)
                err = node.Open((uint)m.Flags, out qid, out iounit);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else
                Rlopen.Encode(o, h.Tag, ToWire(qid), iounit);
        }
        finally
        {
            fid.Release();
        }
    }

    private void Lcreate(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tlcreate.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            Errno err;
            HostQid qid;
            lock (fid.Gate)
                err = node.Create(m.Name, (uint)m.Flags, m.Mode, fid.Uid, m.Gid, out qid);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else
                Rlcreate.Encode(o, h.Tag, ToWire(qid), 0);
        }
        finally
        {
            fid.Release();
        }
    }

    private void Read(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tread.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!_fids.TryGet(m.Fid, out var fid))
        {
            Rlerror.Encode(o, h.Tag, LinuxErrno.EBADF);
            return;
        }
        try
        {
            // Never send a reply of more than msize: the count is clamped, as a short read is always legal.
            int max = (int)Math.Min(m.Count, (uint)ReplyWriter.MaxPayload(_msize));
            if (fid.XattrData is { } data)
            {
                int from = (int)Math.Min(m.Offset, (ulong)data.Length);
                int n = Math.Min(max, data.Length - from);
                var reply = ReplyWriter.BeginRread(o, h.Tag, n);
                data.AsSpan(from, n).CopyTo(reply.Payload);
                reply.Commit(n);
                return;
            }
            if (fid.Node is null || fid.IsXattrCreate)
            {
                Rlerror.Encode(o, h.Tag, LinuxErrno.EBADF);
                return;
            }

            var pending = ReplyWriter.BeginRread(o, h.Tag, max);
            var err = fid.Node.Read(m.Offset, pending.Payload, out int count);
            if (err != Errno.None)
            {
                Error(o, h.Tag, err); // nothing was committed: the reserved span is simply overwritten
                return;
            }
            pending.Commit(count);
        }
        finally
        {
            fid.Release();
        }
    }

    private void Write(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Twrite.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!_fids.TryGet(m.Fid, out var fid))
        {
            Rlerror.Encode(o, h.Tag, LinuxErrno.EBADF);
            return;
        }
        try
        {
            if (fid.IsXattrCreate)
            {
                // The value being built for Txattrcreate: writes must stay inside the declared attr_size.
                var value = fid.XattrValue!;
                if (m.Offset > (ulong)value.Length || (ulong)m.Data.Length > (ulong)value.Length - m.Offset)
                {
                    Rlerror.Encode(o, h.Tag, LinuxErrno.EINVAL);
                    return;
                }
                lock (fid.Gate)
                    m.Data.CopyTo(value.AsSpan((int)m.Offset));
                Rwrite.Encode(o, h.Tag, (uint)m.Data.Length);
                return;
            }
            if (fid.Node is null)
            {
                Rlerror.Encode(o, h.Tag, LinuxErrno.EBADF);
                return;
            }
            var err = fid.Node.Write(m.Offset, m.Data, out int count);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else
                Rwrite.Encode(o, h.Tag, (uint)count);
        }
        finally
        {
            fid.Release();
        }
    }

    private void ReadDir(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Treaddir.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            int max = (int)Math.Min(m.Count, (uint)ReplyWriter.MaxPayload(_msize));
            var pending = ReplyWriter.BeginRreaddir(o, h.Tag, max);
            var sink = new RreaddirWriter(pending.Payload);
            var err = node.ReadDir(m.Offset, ref sink);
            if (err != Errno.None)
            {
                Error(o, h.Tag, err);
                return;
            }
            pending.Commit(sink.Written); // 0 bytes = end of directory
        }
        finally
        {
            fid.Release();
        }
    }

    private void Fsync(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tfsync.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            var err = node.Fsync(m.Datasync != 0);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else
                Rfsync.Encode(o, h.Tag);
        }
        finally
        {
            fid.Release();
        }
    }

    // ---- namespace -------------------------------------------------------------------------------------------

    private void Symlink(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tsymlink.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            var err = node.Symlink(m.Name, m.Symtgt, fid.Uid, m.Gid, out var qid);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else
                Rsymlink.Encode(o, h.Tag, ToWire(qid));
        }
        finally
        {
            fid.Release();
        }
    }

    private void Mknod(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tmknod.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Dfid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            var err = node.Mknod(m.Name, m.Mode, m.Major, m.Minor, fid.Uid, m.Gid, out var qid);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else
                Rmknod.Encode(o, h.Tag, ToWire(qid));
        }
        finally
        {
            fid.Release();
        }
    }

    private void Mkdir(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tmkdir.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Dfid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            var err = node.Mkdir(m.Name, m.Mode, fid.Uid, m.Gid, out var qid);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else
                Rmkdir.Encode(o, h.Tag, ToWire(qid));
        }
        finally
        {
            fid.Release();
        }
    }

    private void ReadLink(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Treadlink.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            Span<byte> target = stackalloc byte[_export.Options.MaxSymlinkTarget];
            var err = node.ReadLink(target, out int length);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else if (Rreadlink.GetFrameSize(target[..length]) > _msize)
                Rlerror.Encode(o, h.Tag, LinuxErrno.ENAMETOOLONG); // the reply would exceed msize
            else
                Rreadlink.Encode(o, h.Tag, target[..length]);
        }
        finally
        {
            fid.Release();
        }
    }

    private void Link(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tlink.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Dfid, o, h.Tag, out var dfid, out var dir))
            return;
        try
        {
            if (!TryNode(m.Fid, o, h.Tag, out var fid, out var target))
                return;
            try
            {
                var err = dir.Link(target, m.Name);
                if (err != Errno.None)
                    Error(o, h.Tag, err);
                else
                    Rlink.Encode(o, h.Tag);
            }
            finally
            {
                fid.Release();
            }
        }
        finally
        {
            dfid.Release();
        }
    }

    private void Rename(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Trename.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            if (!TryNode(m.Dfid, o, h.Tag, out var dfid, out var dir))
                return;
            try
            {
                Errno err;
                lock (fid.Gate)
                    err = node.Rename(dir, m.Name);
                if (err != Errno.None)
                    Error(o, h.Tag, err);
                else
                    Rrename.Encode(o, h.Tag);
            }
            finally
            {
                dfid.Release();
            }
        }
        finally
        {
            fid.Release();
        }
    }

    private void RenameAt(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Trenameat.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Olddirfid, o, h.Tag, out var oldFid, out var oldDir))
            return;
        try
        {
            if (!TryNode(m.Newdirfid, o, h.Tag, out var newFid, out var newDir))
                return;
            try
            {
                var err = oldDir.RenameAt(m.Oldname, newDir, m.Newname);
                if (err != Errno.None)
                    Error(o, h.Tag, err);
                else
                    Rrenameat.Encode(o, h.Tag);
            }
            finally
            {
                newFid.Release();
            }
        }
        finally
        {
            oldFid.Release();
        }
    }

    private void UnlinkAt(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tunlinkat.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Dirfd, o, h.Tag, out var fid, out var dir))
            return;
        try
        {
            var err = dir.UnlinkAt(m.Name, m.Flags);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else
                Runlinkat.Encode(o, h.Tag);
        }
        finally
        {
            fid.Release();
        }
    }

    // ---- locks -----------------------------------------------------------------------------------------------

    private void Lock(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tlock.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            // Never waits: a conflict is BLOCKED at once and the client polls (a blocked thread per lock would let
            // one client starve the pool).
            var err = node.Lock((byte)m.Type, (uint)m.Flags, m.Start, m.Length, out var status);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else
                Rlock.Encode(o, h.Tag, (P9.Protocol.Wire.LockStatus)(byte)status);
        }
        finally
        {
            fid.Release();
        }
    }

    private void GetLock(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Tgetlock.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            byte type = (byte)m.Type;
            ulong start = m.Start, length = m.Length;
            var err = node.GetLock(ref type, ref start, ref length, out int pid);
            if (err != Errno.None)
                Error(o, h.Tag, err);
            else
                Rgetlock.Encode(o, h.Tag, (LockType)type, start, length, type == (byte)LockType.Unlock ? m.ProcId : (uint)pid, m.ClientId);
        }
        finally
        {
            fid.Release();
        }
    }

    // ---- xattrs ----------------------------------------------------------------------------------------------

    private void XattrWalk(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Txattrwalk.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out var node))
            return;
        try
        {
            if (m.Newfid != m.Fid && _fids.Contains(m.Newfid))
            {
                Rlerror.Encode(o, h.Tag, LinuxErrno.EINVAL);
                return;
            }

            // Size probe, then the value: a value that grows in between is read again (bounded tries).
            byte[]? value = null;
            Errno err = Errno.None;
            var name = m.Name;
            for (int attempt = 0; attempt < 3; attempt++)
            {
                err = name.IsEmpty ? node.ListXattr(default, out int size) : node.GetXattr(name, default, out size);
                if (err != Errno.None)
                    break;
                value = size == 0 ? [] : new byte[size];
                err = name.IsEmpty ? node.ListXattr(value, out int got) : node.GetXattr(name, value, out got);
                if (err == Errno.ERANGE)
                    continue;
                if (err == Errno.None && got != value.Length)
                    value = value.AsSpan(0, got).ToArray();
                break;
            }
            if (err != Errno.None)
            {
                Error(o, h.Tag, err);
                return;
            }

            var created = Fid.Create(null, fid.Uid);
            created.XattrData = value;
            if (!created.TryChargeXattr(_xattrBudget, value!.Length))
            {
                created.Release();
                Rlerror.Encode(o, h.Tag, LinuxErrno.ENOSPC);
                return;
            }
            if (m.Newfid == m.Fid)
            {
                _fids.Replace(m.Fid, created);
            }
            else
            {
                AddFid(m.Newfid, created, o, h.Tag, out bool added);
                if (!added)
                    return;
            }
            Rxattrwalk.Encode(o, h.Tag, (ulong)value!.Length);
        }
        finally
        {
            fid.Release();
        }
    }

    private void XattrCreate(ReadOnlySpan<byte> frame, FrameHeader h, ReplyBuffer o)
    {
        var e = Txattrcreate.TryDecode(frame, out var m);
        if (e != P9DecodeError.None)
        {
            Error(o, h.Tag, e);
            return;
        }
        if (!TryNode(m.Fid, o, h.Tag, out var fid, out _))
            return;
        try
        {
            if (m.AttrSize > (ulong)_export.Options.MaxXattrValue)
            {
                Rlerror.Encode(o, h.Tag, LinuxErrno.E2BIG);
                return;
            }
            if (m.Name.IsEmpty || m.Name.Length > 255 || m.Name.IndexOf((byte)0) >= 0)
            {
                Rlerror.Encode(o, h.Tag, LinuxErrno.EINVAL);
                return;
            }
            if ((m.Flags & ~(XattrFlags.Create | XattrFlags.Replace)) != 0)
            {
                Rlerror.Encode(o, h.Tag, LinuxErrno.EINVAL);
                return;
            }
            if (_export.ReadOnly)
            {
                Rlerror.Encode(o, h.Tag, LinuxErrno.EROFS);
                return;
            }
            // The fid now stands for the value being written; the setxattr happens at Tclunk (zeros where unwritten).
            lock (fid.Gate)
            {
                if (!fid.TryChargeXattr(_xattrBudget, (long)m.AttrSize))
                {
                    Rlerror.Encode(o, h.Tag, LinuxErrno.ENOSPC);
                    return;
                }
                fid.XattrName = m.Name.ToArray();
                fid.XattrValue = new byte[(int)m.AttrSize];
                fid.XattrFlags = m.Flags;
            }
            Rxattrcreate.Encode(o, h.Tag);
        }
        finally
        {
            fid.Release();
        }
    }
}
