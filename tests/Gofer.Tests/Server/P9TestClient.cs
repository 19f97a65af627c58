using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using P9.Protocol.Wire;

namespace Gofer.Tests.Server;

/// <summary>
/// A deliberately small synchronous 9P client for server tests, built on the codec: encode a request, send it,
/// read whole reply frames. It is not the project's P9Client; it lets tests pipeline, reorder and send raw bytes.
/// </summary>
internal sealed class P9TestClient : IDisposable
{
    private readonly Socket _socket;
    private readonly ArrayBufferWriter<byte> _out = new();
    private ushort _nextTag = 1;

    public P9TestClient(Socket socket)
    {
        _socket = socket;
        // Generous: CI machines are slow and loaded. A hang is reported as a failure after this, not a timed assertion.
        _socket.ReceiveTimeout = 60_000;
        _socket.SendTimeout = 60_000;
    }

    public uint Msize { get; private set; }

    public ushort NextTag() => _nextTag++ == P9Constants.NoTag ? _nextTag++ : (ushort)(_nextTag - 1);

    /// <summary>Encodes a request with the codec and sends it; returns nothing (use <see cref="Receive"/>).</summary>
    public void Send(Action<IBufferWriter<byte>> encode)
    {
        _out.Clear();
        encode(_out);
        SendRaw(_out.WrittenSpan);
    }

    public void SendRaw(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            int n = _socket.Send(bytes);
            bytes = bytes[n..];
        }
    }

    /// <summary>Reads one whole reply frame, or null when the server closed the connection.</summary>
    public byte[]? Receive()
    {
        var header = new byte[4];
        if (!ReadExactly(header))
            return null;
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(header);
        Assert.InRange(size, 7u, 64u * 1024 * 1024);
        var frame = new byte[size];
        header.CopyTo(frame, 0);
        Assert.True(ReadExactly(frame.AsSpan(4)), "connection closed inside a reply frame");
        return frame;
    }

    public byte[] ReceiveFrame() => Receive() ?? throw new Xunit.Sdk.XunitException("server closed the connection");

    /// <summary>True if the server closed the connection (reads until EOF, skipping any replies).</summary>
    public bool WaitClosed()
    {
        try
        {
            while (Receive() is not null)
            {
            }
            return true;
        }
        catch (SocketException)
        {
            return true; // reset counts as closed
        }
    }

    private bool ReadExactly(Span<byte> buffer)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = _socket.Receive(buffer[got..]);
            if (n == 0)
            {
                if (got == 0)
                    return false;
                throw new Xunit.Sdk.XunitException("connection closed mid-frame");
            }
            got += n;
        }
        return true;
    }

    /// <summary>Sends and returns the reply, which must carry the same tag.</summary>
    public byte[] Rpc(Action<IBufferWriter<byte>, ushort> encode)
    {
        ushort tag = NextTag();
        Send(w => encode(w, tag));
        var reply = ReceiveFrame();
        Assert.Equal(tag, BinaryPrimitives.ReadUInt16LittleEndian(reply.AsSpan(5)));
        return reply;
    }

    public static P9MessageType TypeOf(byte[] frame) => (P9MessageType)frame[4];

    public static ushort TagOf(byte[] frame) => BinaryPrimitives.ReadUInt16LittleEndian(frame.AsSpan(5));

    /// <summary>The errno of an Rlerror, or 0 if the frame is something else.</summary>
    public static uint ErrnoOf(byte[] frame) =>
        TypeOf(frame) == P9MessageType.Rlerror ? BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(7)) : 0;

    public static void AssertType(P9MessageType expected, byte[] frame)
    {
        if (TypeOf(frame) != expected)
            throw new Xunit.Sdk.XunitException($"expected {expected}, got {P9Trace.Format(frame)}");
    }

    public static void AssertError(uint errno, byte[] frame)
    {
        if (ErrnoOf(frame) != errno)
            throw new Xunit.Sdk.XunitException($"expected Rlerror {errno}, got {P9Trace.Format(frame)}");
    }

    // ---- conveniences --------------------------------------------------------------------------------------

    public byte[] Version(uint msize = 65536, string version = "9P2000.L")
    {
        Send(w => Tversion.Encode(w, P9Constants.NoTag, msize, version));
        var r = ReceiveFrame();
        if (TypeOf(r) == P9MessageType.Rversion)
        {
            Assert.Equal(P9DecodeError.None, Rversion.TryDecode(r, out var m));
            Msize = m.Msize;
        }
        return r;
    }

    public Qid Attach(uint fid, string aname = "", uint nUname = 0)
    {
        var r = Rpc((w, t) => Tattach.Encode(w, t, fid, P9Constants.NoFid, "root", aname, nUname));
        AssertType(P9MessageType.Rattach, r);
        Rattach.TryDecode(r, out var m);
        return m.Qid;
    }

    /// <summary>Tversion + Tattach of fid 0 at the export root.</summary>
    public P9TestClient Start(uint msize = 65536)
    {
        AssertType(P9MessageType.Rversion, Version(msize));
        Attach(0);
        return this;
    }

    public byte[] Walk(uint fid, uint newfid, params string[] names) =>
        Rpc((w, t) => Twalk.Encode(w, t, fid, newfid, names));

    public Qid[] WalkOk(uint fid, uint newfid, params string[] names)
    {
        var r = Walk(fid, newfid, names);
        AssertType(P9MessageType.Rwalk, r);
        Rwalk.TryDecode(r, out var m);
        var qids = new Qid[m.Qids.Count];
        int i = 0;
        foreach (var q in m.Qids)
            qids[i++] = q;
        Assert.Equal(names.Length, qids.Length);
        return qids;
    }

    public byte[] Clunk(uint fid) => Rpc((w, t) => Tclunk.Encode(w, t, fid));

    public byte[] Lopen(uint fid, LopenFlags flags) => Rpc((w, t) => Tlopen.Encode(w, t, fid, flags));

    public void LopenOk(uint fid, LopenFlags flags) => AssertType(P9MessageType.Rlopen, Lopen(fid, flags));

    public byte[] Lcreate(uint fid, string name, LopenFlags flags, uint mode = 0x1A4, uint gid = 0) =>
        Rpc((w, t) => Tlcreate.Encode(w, t, fid, name, flags, mode, gid));

    public byte[] ReadBytes(uint fid, ulong offset, uint count)
    {
        var r = Rpc((w, t) => Tread.Encode(w, t, fid, offset, count));
        AssertType(P9MessageType.Rread, r);
        Rread.TryDecode(r, out var m);
        return m.Data.ToArray();
    }

    public uint WriteBytes(uint fid, ulong offset, ReadOnlySpan<byte> data)
    {
        var copy = data.ToArray();
        var r = Rpc((w, t) => Twrite.Encode(w, t, fid, offset, copy));
        AssertType(P9MessageType.Rwrite, r);
        Rwrite.TryDecode(r, out var m);
        return m.Count;
    }

    public Rgetattr GetAttrOf(byte[] frame)
    {
        AssertType(P9MessageType.Rgetattr, frame);
        Rgetattr.TryDecode(frame, out var m);
        return m;
    }

    public byte[] GetAttr(uint fid, GetattrMask mask = GetattrMask.Basic) => Rpc((w, t) => Tgetattr.Encode(w, t, fid, mask));

    /// <summary>Reads a whole directory with Treaddir, following cookies; returns (name, offset) pairs.</summary>
    public List<(string Name, ulong Offset, Qid Qid)> ReadDirAll(uint fid, uint count = 8192, ulong start = 0)
    {
        var all = new List<(string, ulong, Qid)>();
        ulong offset = start;
        while (true)
        {
            var r = Rpc((w, t) => Treaddir.Encode(w, t, fid, offset, count));
            AssertType(P9MessageType.Rreaddir, r);
            Rreaddir.TryDecode(r, out var m);
            if (m.Data.IsEmpty)
                return all;
            var reader = m.Entries;
            while (reader.TryRead(out var e))
            {
                all.Add((System.Text.Encoding.UTF8.GetString(e.Name), e.Offset, e.Qid));
                offset = e.Offset;
            }
            Assert.Equal(P9DecodeError.None, reader.Error);
        }
    }

    public void Dispose() => _socket.Dispose();
}
