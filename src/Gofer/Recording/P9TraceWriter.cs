using System.Buffers.Binary;
using System.Globalization;

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
        _format = format ?? FallbackFormat;
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

    /// <summary>One line: <c>0 → 0.000123 Tversion tag 65535 msize 8192 version '9P2000.L'</c>.</summary>
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

    /// <summary>What is printed without the codec: the type's name, tag and size.</summary>
    public static string FallbackFormat(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 7)
        {
            return string.Create(CultureInfo.InvariantCulture, $"<bad frame: {frame.Length} bytes>");
        }

        uint size = BinaryPrimitives.ReadUInt32LittleEndian(frame);
        byte type = frame[4];
        ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(frame[5..]);
        string name = P9MessageNames.Name(type) ?? string.Create(CultureInfo.InvariantCulture, $"type{type}");
        return string.Create(CultureInfo.InvariantCulture, $"{name} tag {tag} size {size}");
    }
}

/// <summary>Message type names of 9P2000 and 9P2000.L (linux include/net/9p/9p.h, enum p9_msg_t).</summary>
internal static class P9MessageNames
{
    public static string? Name(byte type) => type switch
    {
        6 => "Tlerror",
        7 => "Rlerror",
        8 => "Tstatfs",
        9 => "Rstatfs",
        12 => "Tlopen",
        13 => "Rlopen",
        14 => "Tlcreate",
        15 => "Rlcreate",
        16 => "Tsymlink",
        17 => "Rsymlink",
        18 => "Tmknod",
        19 => "Rmknod",
        20 => "Trename",
        21 => "Rrename",
        22 => "Treadlink",
        23 => "Rreadlink",
        24 => "Tgetattr",
        25 => "Rgetattr",
        26 => "Tsetattr",
        27 => "Rsetattr",
        30 => "Txattrwalk",
        31 => "Rxattrwalk",
        32 => "Txattrcreate",
        33 => "Rxattrcreate",
        40 => "Treaddir",
        41 => "Rreaddir",
        50 => "Tfsync",
        51 => "Rfsync",
        52 => "Tlock",
        53 => "Rlock",
        54 => "Tgetlock",
        55 => "Rgetlock",
        70 => "Tlink",
        71 => "Rlink",
        72 => "Tmkdir",
        73 => "Rmkdir",
        74 => "Trenameat",
        75 => "Rrenameat",
        76 => "Tunlinkat",
        77 => "Runlinkat",
        100 => "Tversion",
        101 => "Rversion",
        102 => "Tauth",
        103 => "Rauth",
        104 => "Tattach",
        105 => "Rattach",
        106 => "Terror",
        107 => "Rerror",
        108 => "Tflush",
        109 => "Rflush",
        110 => "Twalk",
        111 => "Rwalk",
        112 => "Topen",
        113 => "Ropen",
        114 => "Tcreate",
        115 => "Rcreate",
        116 => "Tread",
        117 => "Rread",
        118 => "Twrite",
        119 => "Rwrite",
        120 => "Tclunk",
        121 => "Rclunk",
        122 => "Tremove",
        123 => "Rremove",
        124 => "Tstat",
        125 => "Rstat",
        126 => "Twstat",
        127 => "Rwstat",
        _ => null,
    };
}
