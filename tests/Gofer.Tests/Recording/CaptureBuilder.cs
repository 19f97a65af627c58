using System.Buffers.Binary;
using System.Net;

namespace Gofer.Tests.Recording;

/// <summary>
/// Writes small classic-pcap files with hand-made IPv4/IPv6 + TCP packets over a chosen link type and byte order,
/// so the reader is tested against framings the recorder never produces.
/// </summary>
internal sealed class CaptureBuilder
{
    public const int LinkEthernet = 1;
    public const int LinkRaw = 101;
    public const int LinkSll = 113;
    public const int LinkSll2 = 276;

    private readonly List<(long Micros, byte[] Packet)> _packets = [];
    private readonly int _linkType;

    public CaptureBuilder(int linkType) => _linkType = linkType;

    public int Count => _packets.Count;

    /// <summary>Adds one TCP segment; flags as in the TCP header (0x02 SYN, 0x10 ACK, 0x18 PSH|ACK, 0x01 FIN).</summary>
    public void Tcp(long micros, IPEndPoint src, IPEndPoint dst, uint seq, uint ack, byte flags, ReadOnlySpan<byte> payload)
    {
        var tcp = new byte[20 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, (ushort)src.Port);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), (ushort)dst.Port);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(8), ack);
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), 65535);
        payload.CopyTo(tcp.AsSpan(20));

        byte[] ip;
        bool v6 = src.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        if (!v6)
        {
            ip = new byte[20 + tcp.Length];
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
            ip[8] = 64;
            ip[9] = 6;
            src.Address.GetAddressBytes().CopyTo(ip, 12);
            dst.Address.GetAddressBytes().CopyTo(ip, 16);
            tcp.CopyTo(ip, 20);
        }
        else
        {
            ip = new byte[40 + tcp.Length];
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)tcp.Length);
            ip[6] = 6;
            ip[7] = 64;
            src.Address.GetAddressBytes().CopyTo(ip, 8);
            dst.Address.GetAddressBytes().CopyTo(ip, 24);
            tcp.CopyTo(ip, 40);
        }

        ushort etherType = v6 ? (ushort)0x86DD : (ushort)0x0800;
        byte[] link = _linkType switch
        {
            LinkEthernet => new byte[14],
            LinkSll => new byte[16],
            LinkSll2 => new byte[20],
            _ => [],
        };
        if (_linkType == LinkEthernet)
        {
            BinaryPrimitives.WriteUInt16BigEndian(link.AsSpan(12), etherType);
        }
        else if (_linkType == LinkSll)
        {
            BinaryPrimitives.WriteUInt16BigEndian(link.AsSpan(2), 772); // ARPHRD_LOOPBACK
            BinaryPrimitives.WriteUInt16BigEndian(link.AsSpan(14), etherType);
        }
        else if (_linkType == LinkSll2)
        {
            BinaryPrimitives.WriteUInt16BigEndian(link, etherType);
            BinaryPrimitives.WriteUInt16BigEndian(link.AsSpan(8), 772);
        }

        var packet = new byte[link.Length + ip.Length];
        link.CopyTo(packet, 0);
        ip.CopyTo(packet, link.Length);
        _packets.Add((micros, packet));
    }

    /// <summary>Writes a classic pcap (microsecond timestamps) in the chosen byte order.</summary>
    public byte[] ToPcap(bool bigEndian = false)
    {
        var s = new MemoryStream();
        void U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            if (bigEndian)
            {
                BinaryPrimitives.WriteUInt32BigEndian(b, v);
            }
            else
            {
                BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            }

            s.Write(b);
        }

        void U16(ushort v)
        {
            Span<byte> b = stackalloc byte[2];
            if (bigEndian)
            {
                BinaryPrimitives.WriteUInt16BigEndian(b, v);
            }
            else
            {
                BinaryPrimitives.WriteUInt16LittleEndian(b, v);
            }

            s.Write(b);
        }

        U32(0xA1B2C3D4);
        U16(2);
        U16(4);
        U32(0);
        U32(0);
        U32(262144);
        U32((uint)_linkType);
        foreach (var (micros, packet) in _packets)
        {
            U32((uint)(micros / 1_000_000));
            U32((uint)(micros % 1_000_000));
            U32((uint)packet.Length);
            U32((uint)packet.Length);
            s.Write(packet);
        }

        return s.ToArray();
    }
}

/// <summary>A scripted TCP connection that keeps both directions' sequence numbers, for <see cref="CaptureBuilder"/>.</summary>
internal sealed class ScriptedConnection
{
    private readonly CaptureBuilder _capture;
    private readonly IPEndPoint _client;
    private readonly IPEndPoint _server;
    private uint _clientNext;
    private uint _serverNext;
    private long _micros;

    public ScriptedConnection(CaptureBuilder capture, IPEndPoint client, IPEndPoint server, uint clientIsn = 1000, uint serverIsn = 9000, long startMicros = 1_700_000_000_000_000)
    {
        _capture = capture;
        _client = client;
        _server = server;
        _clientNext = clientIsn;
        _serverNext = serverIsn;
        _micros = startMicros;
    }

    public void Handshake()
    {
        _capture.Tcp(Tick(), _client, _server, _clientNext++, 0, 0x02, default);
        _capture.Tcp(Tick(), _server, _client, _serverNext++, _clientNext, 0x12, default);
        _capture.Tcp(Tick(), _client, _server, _clientNext, _serverNext, 0x10, default);
    }

    /// <summary>Sends bytes as one segment and returns its sequence number.</summary>
    public uint Send(bool fromClient, ReadOnlySpan<byte> payload)
    {
        uint seq = fromClient ? _clientNext : _serverNext;
        if (fromClient)
        {
            _capture.Tcp(Tick(), _client, _server, seq, _serverNext, 0x18, payload);
            _clientNext += (uint)payload.Length;
        }
        else
        {
            _capture.Tcp(Tick(), _server, _client, seq, _clientNext, 0x18, payload);
            _serverNext += (uint)payload.Length;
        }

        return seq;
    }

    /// <summary>Writes a segment at an explicit sequence number without advancing (retransmits, reordering).</summary>
    public void SendAt(bool fromClient, uint seq, ReadOnlySpan<byte> payload)
    {
        if (fromClient)
        {
            _capture.Tcp(Tick(), _client, _server, seq, _serverNext, 0x18, payload);
        }
        else
        {
            _capture.Tcp(Tick(), _server, _client, seq, _clientNext, 0x18, payload);
        }
    }

    /// <summary>Reserves sequence space for bytes sent later with <see cref="SendAt"/>.</summary>
    public uint Reserve(bool fromClient, int length)
    {
        uint seq = fromClient ? _clientNext : _serverNext;
        if (fromClient)
        {
            _clientNext += (uint)length;
        }
        else
        {
            _serverNext += (uint)length;
        }

        return seq;
    }

    public void Fin()
    {
        _capture.Tcp(Tick(), _client, _server, _clientNext++, _serverNext, 0x11, default);
        _capture.Tcp(Tick(), _server, _client, _serverNext++, _clientNext, 0x11, default);
        _capture.Tcp(Tick(), _client, _server, _clientNext, _serverNext, 0x10, default);
    }

    private long Tick() => _micros += 100;
}
