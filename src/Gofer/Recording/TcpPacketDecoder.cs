using System.Buffers.Binary;
using System.Net;

namespace Gofer.Recording;

/// <summary>An IP address and TCP port, compact enough to key a dictionary without allocating.</summary>
internal readonly record struct TcpEndpoint(UInt128 Address, bool IsV6, ushort Port) : IComparable<TcpEndpoint>
{
    public IPEndPoint ToIPEndPoint()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, Address);
        var address = IsV6 ? new IPAddress(bytes) : new IPAddress(bytes[12..]);
        return new IPEndPoint(address, Port);
    }

    public override string ToString() => ToIPEndPoint().ToString();

    public int CompareTo(TcpEndpoint other)
    {
        int c = IsV6.CompareTo(other.IsV6);
        if (c == 0)
        {
            c = Address.CompareTo(other.Address);
        }

        return c != 0 ? c : Port.CompareTo(other.Port);
    }
}

/// <summary>A TCP segment decoded from a captured packet; <see cref="Payload"/> slices the packet's buffer.</summary>
internal readonly ref struct TcpSegment
{
    public TcpSegment(TcpEndpoint source, TcpEndpoint destination, uint sequence, byte flags, ReadOnlySpan<byte> payload, bool truncated)
    {
        Source = source;
        Destination = destination;
        Sequence = sequence;
        Flags = flags;
        Payload = payload;
        Truncated = truncated;
    }

    public TcpEndpoint Source { get; }

    public TcpEndpoint Destination { get; }

    public uint Sequence { get; }

    public byte Flags { get; }

    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>The capture holds fewer payload bytes than the segment carried (snap length).</summary>
    public bool Truncated { get; }

    public bool IsSyn => (Flags & 0x02) != 0;

    public bool IsAck => (Flags & 0x10) != 0;

    public bool IsFin => (Flags & 0x01) != 0;

    public bool IsRst => (Flags & 0x04) != 0;
}

/// <summary>
/// Peels link, IP and TCP headers off a captured packet. Link types (pcap-linktype(7)): NULL/LOOP (0, 108),
/// Ethernet (1, with 802.1Q/802.1ad tags), raw IP (101, and the platform DLT_RAW values 12 and 14),
/// IPv4 (228), IPv6 (229), Linux cooked SLL (113) and SLL2 (276). IP fragments and non-TCP packets are skipped.
/// </summary>
internal static class TcpPacketDecoder
{
    public const int LinkNull = 0;
    public const int LinkEthernet = 1;
    public const int LinkRawOpenBsd = 14;
    public const int LinkRawBsd = 12;
    public const int LinkRaw = 101;
    public const int LinkLoop = 108;
    public const int LinkLinuxSll = 113;
    public const int LinkIpv4 = 228;
    public const int LinkIpv6 = 229;
    public const int LinkLinuxSll2 = 276;

    /// <summary>True when the link type is one this decoder understands.</summary>
    public static bool IsSupportedLinkType(int linkType) => linkType is LinkNull or LinkEthernet or LinkRawBsd
        or LinkRawOpenBsd or LinkRaw or LinkLoop or LinkLinuxSll or LinkIpv4 or LinkIpv6 or LinkLinuxSll2;

    /// <summary>Decodes a TCP segment; false for anything else (other protocols, fragments, damage).</summary>
    public static bool TryDecode(int linkType, ReadOnlySpan<byte> packet, bool packetTruncated, out TcpSegment segment)
    {
        segment = default;
        if (!TryStripLink(linkType, packet, out ReadOnlySpan<byte> ip))
        {
            return false;
        }

        if (ip.IsEmpty)
        {
            return false;
        }

        return (ip[0] >> 4) switch
        {
            4 => TryDecodeIpv4(ip, packetTruncated, out segment),
            6 => TryDecodeIpv6(ip, packetTruncated, out segment),
            _ => false,
        };
    }

    private static bool TryStripLink(int linkType, ReadOnlySpan<byte> p, out ReadOnlySpan<byte> ip)
    {
        ip = default;
        switch (linkType)
        {
            case LinkEthernet:
            {
                // dst[6] src[6] then ethertype[2], possibly after 802.1Q/802.1ad tags of tpid[2] tci[2].
                int at = 12;
                while (true)
                {
                    if (p.Length < at + 2)
                    {
                        return false;
                    }

                    ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(p[at..]);
                    if (etherType is 0x8100 or 0x88A8 or 0x9100)
                    {
                        at += 4;
                        continue;
                    }

                    return IsIpEtherType(etherType, p[(at + 2)..], out ip);
                }
            }

            case LinkLinuxSll:
                // pkttype[2] hatype[2] halen[2] addr[8] protocol[2].
                return p.Length >= 16 && IsIpEtherType(BinaryPrimitives.ReadUInt16BigEndian(p[14..]), p[16..], out ip);
            case LinkLinuxSll2:
                // protocol[2] reserved[2] ifindex[4] hatype[2] pkttype[1] halen[1] addr[8].
                return p.Length >= 20 && IsIpEtherType(BinaryPrimitives.ReadUInt16BigEndian(p), p[20..], out ip);
            case LinkRaw or LinkRawBsd or LinkRawOpenBsd or LinkIpv4 or LinkIpv6:
                ip = p;
                return true;
            case LinkNull or LinkLoop:
                // A 4-byte address family in the capturing host's byte order (NULL) or big-endian (LOOP); the IP
                // version nibble tells IPv4 from IPv6 without knowing which host wrote it.
                if (p.Length < 4)
                {
                    return false;
                }

                ip = p[4..];
                return true;
            default:
                return false;
        }
    }

    private static bool IsIpEtherType(ushort etherType, ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> ip)
    {
        ip = rest;
        return etherType is 0x0800 or 0x86DD;
    }

    private static bool TryDecodeIpv4(ReadOnlySpan<byte> ip, bool packetTruncated, out TcpSegment segment)
    {
        segment = default;
        // ver/ihl[1] tos[1] totlen[2] id[2] flags/frag[2] ttl[1] proto[1] csum[2] src[4] dst[4] options.
        if (ip.Length < 20)
        {
            return false;
        }

        int headerLength = (ip[0] & 0x0F) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        if (headerLength < 20 || totalLength < headerLength || ip[9] != 6)
        {
            return false;
        }

        if ((fragment & 0x3FFF) != 0)
        {
            return false; // more-fragments set or a non-zero offset: TCP over fragmented IP is not reassembled here
        }

        // Totlen 0 is what TSO-offloaded captures show; then the capture length is all there is.
        bool truncated = packetTruncated;
        int end = totalLength == 0 ? ip.Length : totalLength;
        if (end > ip.Length)
        {
            truncated = true;
            end = ip.Length;
        }

        if (end < headerLength)
        {
            return false;
        }

        var source = new TcpEndpoint(BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), false, 0);
        var destination = new TcpEndpoint(BinaryPrimitives.ReadUInt32BigEndian(ip[16..]), false, 0);
        // Ethernet pads short frames to 60 bytes: the IP total length, not the capture length, ends the segment.
        return TryDecodeTcp(ip[headerLength..end], source, destination, truncated, out segment);
    }

    private static bool TryDecodeIpv6(ReadOnlySpan<byte> ip, bool packetTruncated, out TcpSegment segment)
    {
        segment = default;
        // ver/class/flow[4] payload_len[2] next_header[1] hop_limit[1] src[16] dst[16].
        if (ip.Length < 40)
        {
            return false;
        }

        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
        int next = ip[6];
        var source = new TcpEndpoint(BinaryPrimitives.ReadUInt128BigEndian(ip[8..]), true, 0);
        var destination = new TcpEndpoint(BinaryPrimitives.ReadUInt128BigEndian(ip[24..]), true, 0);
        bool truncated = packetTruncated;
        int end = payloadLength == 0 ? ip.Length : 40 + payloadLength; // 0: jumbogram or offload, take the capture
        if (end > ip.Length)
        {
            truncated = true;
            end = ip.Length;
        }

        ReadOnlySpan<byte> rest = ip[40..end];
        // Extension headers: hop-by-hop (0), routing (43), destination options (60) are skipped by their length;
        // a fragment header (44) means a fragment, which is not reassembled.
        for (int guard = 0; guard < 8; guard++)
        {
            if (next == 6)
            {
                return TryDecodeTcp(rest, source, destination, truncated, out segment);
            }

            if (next is not (0 or 43 or 60) || rest.Length < 8)
            {
                return false;
            }

            int length = (rest[1] + 1) * 8;
            if (length > rest.Length)
            {
                return false;
            }

            next = rest[0];
            rest = rest[length..];
        }

        return false;
    }

    private static bool TryDecodeTcp(ReadOnlySpan<byte> tcp, TcpEndpoint source, TcpEndpoint destination, bool truncated, out TcpSegment segment)
    {
        segment = default;
        // sport[2] dport[2] seq[4] ack[4] offset/flags[2] window[2] csum[2] urg[2] options.
        if (tcp.Length < 20)
        {
            return false;
        }

        int headerLength = (tcp[12] >> 4) * 4;
        if (headerLength < 20 || headerLength > tcp.Length)
        {
            return false;
        }

        segment = new TcpSegment(
            source with { Port = BinaryPrimitives.ReadUInt16BigEndian(tcp) },
            destination with { Port = BinaryPrimitives.ReadUInt16BigEndian(tcp[2..]) },
            BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]),
            tcp[13],
            tcp[headerLength..],
            truncated);
        return true;
    }
}
