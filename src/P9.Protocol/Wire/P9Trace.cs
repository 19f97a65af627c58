using System.Globalization;
using System.Text;

namespace P9.Protocol.Wire;

/// <summary>
/// Renders any frame (T or R) on one line in the style of the Linux 9p debug output, e.g.
/// <c>Twalk tag 1 fid 0 newfid 1 nwname 2 'usr' 'bin'</c>. Malformed frames render as <c>&lt;bad frame: reason&gt;</c>.
/// Allocates: for tracing only, behind a logging IsEnabled guard.
/// </summary>
public static partial class P9Trace
{
    public static string Format(ReadOnlySpan<byte> frame)
    {
        var error = FrameHeader.TryRead(frame, out var header);
        if (error != P9DecodeError.None)
            return Bad(error);
        return P9MessageTypes.Classify(header.TypeByte) switch
        {
            P9TypeClass.Unknown => Bad(P9DecodeError.UnknownType, header),
            P9TypeClass.DroppedRequest or P9TypeClass.DroppedReply => Bad(P9DecodeError.UnsupportedMessage, header),
            _ => FormatKnown(frame, header.Type),
        };
    }

    private static string Bad(P9DecodeError error) => $"<bad frame: {error.Describe()}>";

    private static string Bad(P9DecodeError error, FrameHeader header) =>
        $"<bad frame: {error.Describe()} (type {P9MessageTypes.Name(header.TypeByte) ?? header.TypeByte.ToString(CultureInfo.InvariantCulture)} tag {header.Tag})>";
}

internal static class TraceText
{
    public static void Str(StringBuilder sb, string name, ReadOnlySpan<byte> value)
    {
        sb.Append(' ').Append(name).Append(' ');
        Quoted(sb, value);
    }

    public static void Quoted(StringBuilder sb, ReadOnlySpan<byte> value)
    {
        sb.Append('\'');
        foreach (char c in Encoding.UTF8.GetString(value))
        {
            // Names come from the peer: keep the trace on one line and control bytes visible.
            if (char.IsControl(c))
                sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else
                sb.Append(c);
        }
        sb.Append('\'');
    }

    public static void Names(StringBuilder sb, WalkNames names)
    {
        sb.Append(" nwname ").Append(names.Count);
        foreach (var n in names)
        {
            sb.Append(' ');
            Quoted(sb, n);
        }
    }

    public static void Qids(StringBuilder sb, QidList qids)
    {
        sb.Append(" nwqid ").Append(qids.Count);
        foreach (var q in qids)
            sb.Append(' ').Append(q.ToString());
    }

    public static void Octal(StringBuilder sb, string name, uint value) =>
        sb.Append(' ').Append(name).Append(" 0").Append(Convert.ToString(value, 8));

    public static void Hex(StringBuilder sb, string name, ulong value) =>
        sb.Append(' ').Append(name).Append(" 0x").Append(value.ToString("x", CultureInfo.InvariantCulture));
}
