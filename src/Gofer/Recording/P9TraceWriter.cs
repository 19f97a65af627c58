using System.Buffers.Binary;
using System.Globalization;
using P9.Protocol.Wire;

namespace Gofer.Recording;

/// <summary>Renders one whole 9P frame (size[4] type[1] tag[2] body) as one line of text.</summary>
internal delegate string P9FrameFormatter(ReadOnlySpan<byte> frame);

/// <summary>
/// The text of <c>gofer trace</c>: one line per 9P message, <c>STREAM DIR TIME MESSAGE</c>, where STREAM is the
/// TCP conversation index (Wireshark's <c>tcp.stream</c>), DIR is → (client→server) or ← (server→client)
/// (<c>C</c>/<c>S</c> with <c>--ascii</c>), TIME is seconds since the capture's first packet with microseconds,
/// and MESSAGE is the codec's one-line rendering. Each stream is introduced by a comment line
/// <c># stream N: CLIENT → SERVER</c>.
/// </summary>
internal sealed class P9TraceWriter
{
    private readonly TextWriter _out;
    private readonly P9FrameFormatter _format;
    private readonly bool _ascii;

    public P9TraceWriter(TextWriter output, P9FrameFormatter? format = null, bool ascii = false)
    {
        _out = output;
        _format = format ?? P9Trace.Format;
        _ascii = ascii;
    }

    /// <summary>Writes every message of <paramref name="capture"/>.</summary>
    public void Write(P9Capture capture)
    {
        var announced = new HashSet<int>();
        var streams = capture.Streams.ToDictionary(s => s.Index);
        foreach (var frame in capture.Frames)
        {
            if (announced.Add(frame.Stream) && streams.TryGetValue(frame.Stream, out var info))
            {
                _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"# stream {info.Index}: {info.Client} {(_ascii ? "->" : "→")} {info.Server}"));
            }

            _out.WriteLine(Line(frame, capture.FirstPacketNs));
        }
    }

    /// <summary>One line: <c>0 → 0.000123 Tversion tag 65535 msize 65536 version '9P2000.L'</c>.</summary>
    public string Line(P9Frame frame, long originNs)
    {
        string arrow = frame.Direction == P9Direction.ClientToServer ? (_ascii ? "C" : "→") : (_ascii ? "S" : "←");
        return string.Create(CultureInfo.InvariantCulture,
            $"{frame.Stream} {arrow} {RelativeSeconds(frame.TimestampNs - originNs)} {_format(frame.Bytes)}");
    }

    /// <summary>Seconds with exactly six decimals (microseconds), from nanoseconds.</summary>
    public static string RelativeSeconds(long ns)
    {
        long micros = ns / 1000;
        string sign = micros < 0 ? "-" : string.Empty;
        long magnitude = Math.Abs(micros);
        return string.Create(CultureInfo.InvariantCulture, $"{sign}{magnitude / 1_000_000}.{magnitude % 1_000_000:D6}");
    }

    /// <summary>A terse rendering (type name, tag, size) for when the full one is not wanted.</summary>
    public static string FallbackFormat(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 7)
        {
            return string.Create(CultureInfo.InvariantCulture, $"<bad frame: {frame.Length} bytes>");
        }

        uint size = BinaryPrimitives.ReadUInt32LittleEndian(frame);
        byte type = frame[4];
        ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(frame[5..]);
        string name = P9MessageTypes.Name(type) ?? string.Create(CultureInfo.InvariantCulture, $"type{type}");
        return string.Create(CultureInfo.InvariantCulture, $"{name} tag {tag} size {size}");
    }
}
