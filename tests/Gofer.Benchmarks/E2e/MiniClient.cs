using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Gofer.Benchmarks.E2e;

/// <summary>
/// Just enough 9P2000.L to time a server's start: Tversion then Tattach on one socket, hand-encoded so the probe
/// costs nothing to set up. Layouts (9P2000.L): size[4] type[1] tag[2] …;
/// Tversion = msize[4] version[s]; Tattach = fid[4] afid[4] uname[s] aname[s] n_uname[4].
/// </summary>
internal static class MiniClient
{
    private const byte Tversion = 100, Rversion = 101, Tattach = 104, Rattach = 105;

    public static void Version(Socket s, uint msize = 8192)
    {
        var b = new List<byte>(32);
        Header(b, Tversion, 0xFFFF);
        U32(b, msize);
        Str(b, "9P2000.L");
        Exchange(s, b, Rversion);
    }

    public static void Attach(Socket s, string aname)
    {
        var b = new List<byte>(64);
        Header(b, Tattach, 1);
        U32(b, 0);
        U32(b, 0xFFFF_FFFF);
        Str(b, "root");
        Str(b, aname);
        U32(b, 0);
        Exchange(s, b, Rattach);
    }

    private static void Exchange(Socket s, List<byte> msg, byte expect)
    {
        var frame = msg.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)frame.Length);
        s.Send(frame);
        var head = new byte[7];
        ReadExactly(s, head);
        int size = (int)BinaryPrimitives.ReadUInt32LittleEndian(head);
        if (size < 7 || size > 1 << 20)
            throw new InvalidDataException($"bad reply size {size}");
        var rest = new byte[size - 7];
        ReadExactly(s, rest);
        if (head[4] != expect)
            throw new InvalidDataException($"expected type {expect}, got {head[4]}");
    }

    private static void ReadExactly(Socket s, byte[] buf)
    {
        int got = 0;
        while (got < buf.Length)
        {
            int n = s.Receive(buf, got, buf.Length - got, SocketFlags.None);
            if (n == 0)
                throw new EndOfStreamException("server closed the connection");
            got += n;
        }
    }

    private static void Header(List<byte> b, byte type, ushort tag)
    {
        U32(b, 0);
        b.Add(type);
        b.Add((byte)tag);
        b.Add((byte)(tag >> 8));
    }

    private static void U32(List<byte> b, uint v)
    {
        for (int i = 0; i < 4; i++)
            b.Add((byte)(v >> (8 * i)));
    }

    private static void Str(List<byte> b, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        b.Add((byte)bytes.Length);
        b.Add((byte)(bytes.Length >> 8));
        b.AddRange(bytes);
    }
}
