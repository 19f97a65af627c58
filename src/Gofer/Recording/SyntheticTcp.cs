using System.Buffers.Binary;

namespace Gofer.Recording;

/// <summary>
/// Synthesises the Ethernet/IPv4/TCP framing around a recorded 9P byte stream so that packet tools
/// (Wireshark's 9P dissector, tshark) treat it as an ordinary TCP connection: client
/// 127.0.0.1:&lt;ephemeral&gt; ↔ server 127.0.0.1:564, a SYN/SYN-ACK/ACK handshake, consistent sequence and
/// acknowledgement numbers, and FINs at the end.
/// </summary>
/// <remarks>
/// Only the headers are built here (into a small span); the payload is written by the caller straight from the
/// recorded buffer, so large Rread/Twrite payloads are never copied twice. The TCP checksum is computed over the
/// payload as well, so checksum-validating tools do not flag every segment.
/// </remarks>
internal sealed class SyntheticTcp
{
    /// <summary>The IANA port of 9P ("9pfs", 564/tcp); Wireshark's 9P dissector is registered on it.</summary>
    public const ushort NinePPort = 564;

    /// <summary>Ethernet II (14) + IPv4 without options (20) + TCP without options (20).</summary>
    public const int HeaderLength = EthernetLength + Ipv4Length + TcpLength;

    /// <summary>
    /// Largest payload per segment: an IPv4 total length is 16 bits and covers both headers (65535 − 20 − 20).
    /// Larger writes are split into several segments.
    /// </summary>
    public const int MaxSegmentPayload = ushort.MaxValue - Ipv4Length - TcpLength;

    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Psh = 0x08;
    public const byte Ack = 0x10;

    private const int EthernetLength = 14;
    private const int Ipv4Length = 20;
    private const int TcpLength = 20;
    private const uint Loopback = 0x7F000001; // 127.0.0.1

    // Locally administered unicast MACs (bit 1 of the first octet set): they can never collide with real hardware.
    private static ReadOnlySpan<byte> ClientMac => [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
    private static ReadOnlySpan<byte> ServerMac => [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

    private uint _clientNext;
    private uint _serverNext;
    private ushort _clientIpId;
    private ushort _serverIpId;

    public SyntheticTcp(ushort clientPort, uint clientIsn, uint serverIsn)
    {
        ClientPort = clientPort;
        _clientNext = clientIsn;
        _serverNext = serverIsn;
    }

    public ushort ClientPort { get; }

    /// <summary>
    /// Writes the headers of one segment into <paramref name="headers"/> (exactly <see cref="HeaderLength"/> bytes)
    /// and advances this direction's sequence number by the payload length (plus one for SYN or FIN, which each
    /// occupy one sequence number).
    /// </summary>
    public void BuildHeaders(Span<byte> headers, bool fromClient, byte flags, ReadOnlySpan<byte> payload)
    {
        BuildHeaders(headers, fromClient, flags, payload.Length, payload);
    }

    /// <summary>
    /// Advances a direction's sequence number past bytes that were not recorded (dropped under load), so the
    /// capture shows a gap ("previous segment not captured") rather than silently splicing the stream.
    /// </summary>
    public void Skip(bool fromClient, int length)
    {
        if (fromClient)
        {
            _clientNext += (uint)length;
        }
        else
        {
            _serverNext += (uint)length;
        }
    }

    private void BuildHeaders(Span<byte> h, bool fromClient, byte flags, int payloadLength, ReadOnlySpan<byte> payload)
    {
        if (h.Length < HeaderLength)
        {
            throw new ArgumentException("header buffer too small", nameof(h));
        }

        if ((uint)payloadLength > MaxSegmentPayload)
        {
            throw new ArgumentException("segment payload too large; split it first", nameof(payload));
        }

        ushort srcPort = fromClient ? ClientPort : NinePPort;
        ushort dstPort = fromClient ? NinePPort : ClientPort;
        uint seq = fromClient ? _clientNext : _serverNext;
        uint ack = fromClient ? _serverNext : _clientNext;
        ushort ipId = fromClient ? _clientIpId++ : _serverIpId++;

        // Ethernet II: dst[6] src[6] ethertype[2] (0x0800 = IPv4).
        (fromClient ? ServerMac : ClientMac).CopyTo(h);
        (fromClient ? ClientMac : ServerMac).CopyTo(h[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(h[12..], 0x0800);

        // IPv4 (RFC 791): ver/ihl[1] tos[1] totlen[2] id[2] flags/frag[2] ttl[1] proto[1] csum[2] src[4] dst[4].
        Span<byte> ip = h.Slice(EthernetLength, Ipv4Length);
        ip[0] = 0x45;
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(Ipv4Length + TcpLength + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], ipId);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // DF, as Linux sets on TCP
        ip[8] = 64;
        ip[9] = 6; // TCP
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], Loopback);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], Loopback);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Finish(InternetChecksum.Add(0, ip)));

        // TCP (RFC 9293): sport[2] dport[2] seq[4] ack[4] off/flags[2] window[2] csum[2] urg[2].
        Span<byte> tcp = h.Slice(EthernetLength + Ipv4Length, TcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], dstPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        // The very first SYN acknowledges nothing; every later segment carries ACK with the peer's next sequence.
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], (flags & Ack) != 0 ? ack : 0);
        tcp[12] = (TcpLength / 4) << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], ushort.MaxValue);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[18..], 0);

        // Checksum over the pseudo-header (src, dst, zero, proto, TCP length), the TCP header and the payload.
        ulong sum = InternetChecksum.Add(0, ip.Slice(12, 8));
        sum += 6u + (uint)(TcpLength + payloadLength);
        sum = InternetChecksum.Add(sum, tcp);
        sum = InternetChecksum.Add(sum, payload);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InternetChecksum.Finish(sum));

        uint advance = (uint)payloadLength + ((flags & (Syn | Fin)) != 0 ? 1u : 0u);
        if (fromClient)
        {
            _clientNext += advance;
        }
        else
        {
            _serverNext += advance;
        }
    }
}

/// <summary>The ones'-complement sum of RFC 1071, used by the IPv4 and TCP checksums.</summary>
internal static class InternetChecksum
{
    /// <summary>Adds big-endian 16-bit words of <paramref name="data"/> (odd tail padded with zero).</summary>
    /// <remarks>Callers pass even-length pieces except possibly the last, which is what the checksum requires.</remarks>
    public static ulong Add(ulong sum, ReadOnlySpan<byte> data)
    {
        int i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            sum += BinaryPrimitives.ReadUInt32BigEndian(data[i..]);
        }

        for (; i + 2 <= data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (i < data.Length)
        {
            sum += (uint)data[i] << 8;
        }

        return sum;
    }

    public static ushort Finish(ulong sum)
    {
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
