using System.Buffers.Binary;
using System.Buffers;
using System.Text;

namespace Gofer.Tests.Recording;

/// <summary>Hand-built 9P2000.L frames (independent of the codec, so the recorder tests do not trust it).</summary>
internal static class NinePFrames
{
    public const ushort NoTag = 0xFFFF;
    public const uint NoFid = 0xFFFFFFFF;

    // size[4] Tversion tag[2] msize[4] version[s]
    public static byte[] Tversion(uint msize) => Build(100, NoTag, w => { w.U32(msize); w.Str("9P2000.L"); });

    public static byte[] Rversion(uint msize) => Build(101, NoTag, w => { w.U32(msize); w.Str("9P2000.L"); });

    // size[4] Tattach tag[2] fid[4] afid[4] uname[s] aname[s] n_uname[4]
    public static byte[] Tattach(ushort tag, uint fid) => Build(104, tag, w => { w.U32(fid); w.U32(NoFid); w.Str("root"); w.Str("/"); w.U32(0); });

    // size[4] Rattach tag[2] qid[13]
    public static byte[] Rattach(ushort tag) => Build(105, tag, w => w.Qid(0x80, 1));

    // size[4] Twalk tag[2] fid[4] newfid[4] nwname[2] nwname*(wname[s])
    public static byte[] Twalk(ushort tag, uint fid, uint newfid, params string[] names) => Build(110, tag, w =>
    {
        w.U32(fid);
        w.U32(newfid);
        w.U16((ushort)names.Length);
        foreach (var n in names)
        {
            w.Str(n);
        }
    });

    // size[4] Rwalk tag[2] nwqid[2] nwqid*(wqid[13])
    public static byte[] Rwalk(ushort tag, int nwqid) => Build(111, tag, w =>
    {
        w.U16((ushort)nwqid);
        for (int i = 0; i < nwqid; i++)
        {
            w.Qid(0, (ulong)(10 + i));
        }
    });

    // size[4] Tread tag[2] fid[4] offset[8] count[4]
    public static byte[] Tread(ushort tag, uint fid, ulong offset, uint count) => Build(116, tag, w => { w.U32(fid); w.U64(offset); w.U32(count); });

    // size[4] Rread tag[2] count[4] data[count]
    public static byte[] Rread(ushort tag, int count) => Build(117, tag, w =>
    {
        w.U32((uint)count);
        var data = new byte[count];
        for (int i = 0; i < count; i++)
        {
            data[i] = (byte)(i * 7);
        }

        w.Bytes(data);
    });

    // size[4] Tclunk tag[2] fid[4]
    public static byte[] Tclunk(ushort tag, uint fid) => Build(120, tag, w => w.U32(fid));

    public static byte[] Rclunk(ushort tag) => Build(121, tag, _ => { });

    /// <summary>The session the tests record: version, attach, walk, a read whose reply exceeds 64 KiB, clunk.</summary>
    public static List<(bool FromClient, byte[] Frame)> Session(int readSize = 100_000) =>
    [
        (true, Tversion(1 << 20)),
        (false, Rversion(1 << 20)),
        (true, Tattach(1, 0)),
        (false, Rattach(1)),
        (true, Twalk(2, 0, 1, "usr", "bin")),
        (false, Rwalk(2, 2)),
        (true, Tread(3, 1, 0, (uint)readSize)),
        (false, Rread(3, readSize)),
        (true, Tclunk(4, 1)),
        (false, Rclunk(4)),
    ];

    private static byte[] Build(byte type, ushort tag, Action<Writer> body)
    {
        var w = new Writer();
        w.U32(0);
        w.U8(type);
        w.U16(tag);
        body(w);
        byte[] frame = w.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)frame.Length);
        return frame;
    }

    private sealed class Writer
    {
        private readonly ArrayBufferWriter<byte> _s = new();

        public void U8(byte v) => _s.Write([v]);

        public void U16(ushort v)
        {
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(b, v);
            _s.Write(b);
        }

        public void U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            _s.Write(b);
        }

        public void U64(ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, v);
            _s.Write(b);
        }

        public void Str(string s)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(s);
            U16((ushort)utf8.Length);
            _s.Write(utf8);
        }

        // qid[13] = type[1] version[4] path[8]
        public void Qid(byte type, ulong path)
        {
            U8(type);
            U32(0);
            U64(path);
        }

        public void Bytes(byte[] b) => _s.Write(b);

        public byte[] ToArray() => _s.WrittenSpan.ToArray();
    }
}
