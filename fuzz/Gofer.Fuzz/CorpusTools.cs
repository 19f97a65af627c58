using System.Buffers;
using P9.Protocol.Framing;
using P9.Protocol.Wire;

namespace Gofer.Fuzz;

/// <summary>Turns a recorded client→server stream into the corpus form (see fuzz/corpus/README.md).</summary>
public static class CorpusTools
{
    /// <summary>
    /// Keeps whole frames only (a recording cut mid-frame loses its tail) and rewrites every Tattach's aname to ""
    /// (the export root): diod names its export by absolute path, our server by "" — without this every recorded
    /// session would stop at an ENOENT attach. Everything else is byte for byte what the client sent.
    /// </summary>
    public static byte[] Derive(ReadOnlySpan<byte> recorded)
    {
        var output = new ArrayBufferWriter<byte>();
        while (P9FrameScanner.Scan(recorded, int.MaxValue, out int length, out _) == FrameScanStatus.Frame)
        {
            var frame = recorded[..length];
            recorded = recorded[length..];
            if (Tattach.TryDecode(frame, out var a) == P9DecodeError.None && !a.Aname.IsEmpty)
                Tattach.Encode(output, a.Tag, a.Fid, a.Afid, a.Uname, ""u8, a.NUname);
            else
                output.Write(frame);
        }
        return output.WrittenSpan.ToArray();
    }
}
