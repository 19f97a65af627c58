using System.Buffers.Binary;
using System.Text;
using P9.Protocol.Wire;

namespace P9.Protocol.Tests.Wire;

internal static class TestData
{
    public static byte[] Bytes(int n)
    {
        var b = new byte[n];
        for (int i = 0; i < n; i++)
            b[i] = (byte)(i * 7 + 1);
        return b;
    }

    public static string[] Names(WalkNames names)
    {
        var list = new List<string>();
        foreach (var n in names)
            list.Add(Encoding.UTF8.GetString(n));
        return list.ToArray();
    }

    public static Qid[] Qids(QidList qids)
    {
        var list = new List<Qid>();
        foreach (var q in qids)
            list.Add(q);
        return list.ToArray();
    }

    /// <summary>The same frame with one extra byte at the end and size[4] fixed up: only "trailing bytes" is wrong.</summary>
    public static byte[] WithExtraByte(byte[] frame)
    {
        var b = new byte[frame.Length + 1];
        frame.CopyTo(b, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)b.Length);
        return b;
    }

    /// <summary>The frame with its last byte cut off and size[4] fixed up.</summary>
    public static byte[] WithoutLastByte(byte[] frame)
    {
        var b = frame.AsSpan(0, frame.Length - 1).ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)b.Length);
        return b;
    }

    public static byte[] WithType(byte[] frame, byte type)
    {
        var b = (byte[])frame.Clone();
        b[4] = type;
        return b;
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
}
