using System.Net;
using System.Runtime.CompilerServices;
using Gofer.Recording;

namespace Gofer.Tests.Recording;

public class CaptureReaderTests
{
    private static readonly int[] DiodSession = [100, 101, 102, 7, 104, 105, 110, 111, 12, 13, 116, 117, 116, 117, 120, 121, 120, 121];

    private static readonly IPEndPoint Client4 = new(IPAddress.Loopback, 40000);
    private static readonly IPEndPoint Server4 = new(IPAddress.Loopback, 564);

    [Theory]
    [InlineData("diod-cat-lo.pcapng")]
    [InlineData("diod-cat-any-sll2.pcap")]
    public void Real_diod_capture_on_another_port_is_found_by_the_tversion_heuristic(string name)
    {
        var capture = P9CaptureReader.Read(Fixture(name));

        Assert.Empty(capture.Warnings);
        Assert.Equal(DiodSession, capture.Frames.Select(f => (int)f.Type));
        Assert.All(capture.Frames, f => Assert.Equal(f.Type % 2 == 0 ? P9Direction.ClientToServer : P9Direction.ServerToClient, f.Direction));
        Assert.Equal(45311, capture.Streams.Single().Server.Port);
        Assert.Equal(26, capture.PacketCount);
        // The Rread carries the file's contents: count[4] then "hello from diod\n".
        var rread = capture.Frames.First(f => f.Type == 117);
        Assert.Equal("hello from diod\n", System.Text.Encoding.ASCII.GetString(rread.Bytes, 11, rread.Bytes.Length - 11));
    }

    [Fact]
    public void Without_the_heuristic_only_the_named_ports_are_decoded()
    {
        Assert.Empty(P9CaptureReader.Read(Fixture("diod-cat-lo.pcapng"), new P9CaptureReaderOptions { Heuristic = false }).Frames);
        var named = P9CaptureReader.Read(Fixture("diod-cat-lo.pcapng"), new P9CaptureReaderOptions { Heuristic = false, Ports = new HashSet<int> { 45311 } });
        Assert.Equal(DiodSession.Length, named.Frames.Count);
    }

    [TsharkFact]
    public void Tshark_agrees_on_the_real_diod_captures()
    {
        Assert.Equal(DiodSession.Length, TsharkAgreement.AssertSameDecode(Fixture("diod-cat-lo.pcapng"), [45311]));
        Assert.Equal(DiodSession.Length, TsharkAgreement.AssertSameDecode(Fixture("diod-cat-any-sll2.pcap"), [45311]));
    }

    [Theory]
    [InlineData(CaptureBuilder.LinkEthernet, false, false)]
    [InlineData(CaptureBuilder.LinkEthernet, true, true)]
    [InlineData(CaptureBuilder.LinkSll, false, false)]
    [InlineData(CaptureBuilder.LinkSll2, true, false)]
    [InlineData(CaptureBuilder.LinkRaw, false, false)]
    [InlineData(CaptureBuilder.LinkRaw, false, true)]
    [InlineData(CaptureBuilder.LinkSll2, false, true)]
    public void Classic_pcap_in_either_byte_order_over_each_link_type_and_ip_version(int linkType, bool bigEndian, bool ipv6)
    {
        var builder = new CaptureBuilder(linkType);
        IPEndPoint client = ipv6 ? new(IPAddress.IPv6Loopback, 40000) : Client4;
        IPEndPoint server = ipv6 ? new(IPAddress.IPv6Loopback, 564) : Server4;
        var connection = new ScriptedConnection(builder, client, server);
        connection.Handshake();
        var session = NinePFrames.Session(readSize: 3000);
        foreach (var (fromClient, frame) in session)
        {
            connection.Send(fromClient, frame);
        }

        connection.Fin();

        var capture = P9CaptureReader.Read(new MemoryStream(builder.ToPcap(bigEndian)));

        Assert.Empty(capture.Warnings);
        Assert.Equal(session.Select(s => s.Frame), capture.Frames.Select(f => f.Bytes));
        Assert.Equal(client, capture.Streams.Single().Client);
        // Timestamps: the builder starts at 1.7e15 µs and ticks 100 µs per packet; the Tversion is packet 4.
        Assert.Equal((1_700_000_000_000_000L + 400) * 1000, capture.Frames[0].TimestampNs);
        Assert.Equal(4, capture.Frames[0].PacketNumber);
    }

    [Fact]
    public void Retransmitted_overlapping_and_out_of_order_segments_reassemble_once_in_order()
    {
        var builder = new CaptureBuilder(CaptureBuilder.LinkEthernet);
        var connection = new ScriptedConnection(builder, Client4, Server4, clientIsn: 0xFFFF_FFF0); // wraps at once
        connection.Handshake();
        byte[] tversion = NinePFrames.Tversion(8192);
        byte[] tattach = NinePFrames.Tattach(1, 0);
        byte[] twalk = NinePFrames.Twalk(2, 0, 1, "x", "y");
        uint v = connection.Send(true, tversion);
        connection.SendAt(true, v, tversion);                      // plain retransmission
        uint a = connection.Reserve(true, tattach.Length);
        uint w = connection.Reserve(true, twalk.Length);
        connection.SendAt(true, w, twalk);                         // arrives before the segment ahead of it
        connection.SendAt(true, a, tattach.AsSpan(0, 10));         // first part of the hole
        connection.SendAt(true, a + 5, tattach.AsSpan(5));         // overlaps what came, fills the rest
        connection.SendAt(true, a, [.. tattach, .. twalk]);        // everything again, repacketised
        connection.Send(false, NinePFrames.Rversion(8192));

        var capture = P9CaptureReader.Read(new MemoryStream(builder.ToPcap()));

        Assert.Empty(capture.Warnings);
        Assert.Equal([tversion, tattach, twalk, NinePFrames.Rversion(8192)], capture.Frames.Select(f => f.Bytes));
    }

    [Fact]
    public void Other_tcp_streams_are_skipped_but_counted_like_wireshark_counts_them()
    {
        var builder = new CaptureBuilder(CaptureBuilder.LinkEthernet);
        var http = new ScriptedConnection(builder, new IPEndPoint(IPAddress.Loopback, 41000), new IPEndPoint(IPAddress.Loopback, 8080));
        http.Handshake();
        http.Send(true, "GET / HTTP/1.1\r\n\r\n"u8);
        var nineP = new ScriptedConnection(builder, new IPEndPoint(IPAddress.Loopback, 42000), new IPEndPoint(IPAddress.Loopback, 7777));
        nineP.Handshake();
        nineP.Send(true, NinePFrames.Tversion(8192));
        http.Send(false, "HTTP/1.1 200 OK\r\n\r\n"u8);
        nineP.Send(false, NinePFrames.Rversion(8192));

        var capture = P9CaptureReader.Read(new MemoryStream(builder.ToPcap()));

        Assert.Empty(capture.Warnings);
        Assert.Equal([100, 101], capture.Frames.Select(f => (int)f.Type));
        Assert.All(capture.Frames, f => Assert.Equal(1, f.Stream));
    }

    [Fact]
    public void A_size_that_cannot_be_9p_stops_that_direction_with_a_warning()
    {
        var builder = new CaptureBuilder(CaptureBuilder.LinkEthernet);
        var connection = new ScriptedConnection(builder, Client4, Server4);
        connection.Handshake();
        connection.Send(true, NinePFrames.Tversion(8192));
        connection.Send(false, NinePFrames.Rversion(8192));
        connection.Send(true, [3, 0, 0, 0, 104, 0, 0]);           // size[4] = 3: shorter than any header
        connection.Send(true, NinePFrames.Tclunk(1, 0));
        connection.Send(false, NinePFrames.Rclunk(1));

        var capture = P9CaptureReader.Read(new MemoryStream(builder.ToPcap()));

        Assert.Equal([100, 101, 121], capture.Frames.Select(f => (int)f.Type));
        Assert.Contains(capture.Warnings, w => w.Contains("size[4] = 3", StringComparison.Ordinal));
    }

    [Fact]
    public void A_capture_that_ends_inside_a_message_says_so()
    {
        var builder = new CaptureBuilder(CaptureBuilder.LinkEthernet);
        var connection = new ScriptedConnection(builder, Client4, Server4);
        connection.Handshake();
        connection.Send(true, NinePFrames.Tversion(8192));
        connection.Send(false, NinePFrames.Rread(0, 1000).AsSpan(0, 500));

        var capture = P9CaptureReader.Read(new MemoryStream(builder.ToPcap()));

        Assert.Single(capture.Frames);
        Assert.Contains(capture.Warnings, w => w.Contains("ends inside a message", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 1, 2, 3 })]
    [InlineData(new byte[] { 0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0 })]
    public void Something_that_is_not_a_capture_is_a_typed_error(byte[] bytes)
    {
        Assert.Throws<CaptureFormatException>(() => P9CaptureReader.Read(new MemoryStream(bytes)));
    }

    [Fact]
    public void Every_truncation_of_a_capture_is_a_typed_error_or_a_shorter_decode()
    {
        byte[] pcapng = File.ReadAllBytes(Fixture("diod-cat-lo.pcapng"));
        byte[] pcap = File.ReadAllBytes(Fixture("diod-cat-any-sll2.pcap"));
        foreach (byte[] whole in new[] { pcapng, pcap })
        {
            for (int length = 0; length < whole.Length; length++)
            {
                try
                {
                    var capture = P9CaptureReader.Read(new MemoryStream(whole, 0, length));
                    Assert.True(capture.Frames.Count <= DiodSession.Length);
                }
                catch (CaptureFormatException)
                {
                    // the expected way to reject a damaged file
                }
            }
        }
    }

    [Fact]
    public void Corrupted_bytes_never_escape_as_anything_but_a_typed_error()
    {
        byte[] original = File.ReadAllBytes(Fixture("diod-cat-lo.pcapng"));
        var random = new Random(564);
        for (int round = 0; round < 2000; round++)
        {
            byte[] damaged = (byte[])original.Clone();
            for (int i = 0; i < 1 + random.Next(8); i++)
            {
                damaged[random.Next(damaged.Length)] = (byte)random.Next(256);
            }

            try
            {
                P9CaptureReader.Read(new MemoryStream(damaged));
            }
            catch (CaptureFormatException)
            {
            }
        }
    }

    internal static string Fixture(string name, [CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "fixtures", name);
}
