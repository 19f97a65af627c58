using System.Buffers.Binary;
using System.Net;

namespace Gofer.Recording;

/// <summary>Which way a 9P message went.</summary>
internal enum P9Direction : byte
{
    /// <summary>Client → server: a T-message.</summary>
    ClientToServer,

    /// <summary>Server → client: an R-message.</summary>
    ServerToClient,
}

/// <summary>One whole 9P message extracted from a capture.</summary>
/// <param name="Stream">The TCP conversation index, counted from 0 in order of first packet — the same numbering
/// as Wireshark's <c>tcp.stream</c>, so a line of <c>gofer trace</c> can be found in Wireshark.</param>
/// <param name="Direction">Which way it went.</param>
/// <param name="TimestampNs">Capture time (ns since the Unix epoch) of the packet that completed the message.</param>
/// <param name="PacketNumber">1-based number of that packet (Wireshark's frame number).</param>
/// <param name="Bytes">The whole message: size[4] type[1] tag[2] body.</param>
internal sealed record P9Frame(int Stream, P9Direction Direction, long TimestampNs, long PacketNumber, byte[] Bytes)
{
    /// <summary>size[4] from the header (equals <c>Bytes.Length</c>).</summary>
    public uint Size => BinaryPrimitives.ReadUInt32LittleEndian(Bytes);

    /// <summary>type[1]: the message type (100 = Tversion, …).</summary>
    public byte Type => Bytes[4];

    /// <summary>tag[2].</summary>
    public ushort Tag => BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan(5));
}

/// <summary>A TCP conversation that carried 9P.</summary>
internal sealed record P9StreamInfo(int Index, IPEndPoint Client, IPEndPoint Server, long FirstTimestampNs);

/// <summary>Which TCP conversations the reader treats as 9P.</summary>
internal sealed class P9CaptureReaderOptions
{
    /// <summary>Server ports taken as 9P without looking (564 is 9P's IANA port).</summary>
    public IReadOnlySet<int> Ports { get; init; } = new HashSet<int> { SyntheticTcp.NinePPort };

    /// <summary>
    /// Also take any conversation whose first bytes are a Tversion (size[4] ≥ 13, type 100) as 9P, whichever
    /// port it used — diod and QEMU commonly serve on other ports.
    /// </summary>
    public bool Heuristic { get; init; } = true;

    /// <summary>
    /// A size[4] above this means the byte stream is not (or no longer) 9P framing. 16 MiB is well above any msize
    /// a real client negotiates (Linux caps at 512 KiB–4 MiB depending on transport).
    /// </summary>
    public int MaxFrameSize { get; init; } = 16 * 1024 * 1024;

    /// <summary>Out-of-order bytes held per direction while waiting for a missing segment; beyond it, a gap.</summary>
    public int MaxPendingBytes { get; init; } = 32 * 1024 * 1024;
}

/// <summary>Everything read from a capture.</summary>
internal sealed class P9Capture
{
    public required IReadOnlyList<P9Frame> Frames { get; init; }

    public required IReadOnlyList<P9StreamInfo> Streams { get; init; }

    /// <summary>Things that made the decode incomplete (gaps, truncation, framing lost), one line each.</summary>
    public required IReadOnlyList<string> Warnings { get; init; }

    /// <summary>Time of the capture's first packet (ns since the Unix epoch); relative times count from it.</summary>
    public long FirstPacketNs { get; init; }

    public long PacketCount { get; init; }
}
