using System.Buffers.Binary;
using Gofer.Tests.Server;
using P9.Protocol.Wire;

namespace Gofer.Tests.Security;

/// <summary>Frames the codec refuses to build (too many names, lying counts): hand-made, for hostile-input tests.</summary>
internal static class Raw
{
    /// <summary>size[4] Twalk tag[2] fid[4] newfid[4] nwname[2] nwname*(wname[s]); <paramref name="nwname"/> may lie.</summary>
    public static byte[] Walk(ushort tag, uint fid, uint newfid, IReadOnlyList<byte[]> names, int? nwname = null)
    {
        int size = 17 + names.Sum(n => 2 + n.Length);
        var frame = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)size);
        frame[4] = (byte)P9MessageType.Twalk;
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(5), tag);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(7), fid);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(11), newfid);
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(15), (ushort)(nwname ?? names.Count));
        int at = 17;
        foreach (var n in names)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(at), (ushort)n.Length);
            n.CopyTo(frame, at + 2);
            at += 2 + n.Length;
        }
        return frame;
    }

    public static byte[] WalkRpc(P9TestClient c, uint fid, uint newfid, params byte[][] names)
    {
        ushort tag = c.NextTag();
        c.SendRaw(Walk(tag, fid, newfid, names));
        var r = c.ReceiveFrame();
        Assert.Equal(tag, P9TestClient.TagOf(r));
        return r;
    }

    /// <summary>A header (size, type, tag) followed by an arbitrary body.</summary>
    public static byte[] Frame(P9MessageType type, ushort tag, ReadOnlySpan<byte> body)
    {
        var frame = new byte[7 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)frame.Length);
        frame[4] = (byte)type;
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(5), tag);
        body.CopyTo(frame.AsSpan(7));
        return frame;
    }

    /// <summary>The connection still serves: a Tgetattr of fid 0 answers Rgetattr.</summary>
    public static void AssertAlive(P9TestClient c) => P9TestClient.AssertType(P9MessageType.Rgetattr, c.GetAttr(0));
}
