namespace Gofer.Tests.Recording;

public class TsharkTests
{
    [TsharkFact]
    public void Tshark_decodes_a_recorded_session_as_our_reader_does()
    {
        using var dir = new TempDir();
        string file = Recordings.RecordOne(dir.Path, NinePFrames.Session(readSize: 150_000));

        int messages = TsharkAgreement.AssertSameDecode(file);

        Assert.Equal(NinePFrames.Session().Count, messages);
    }

    [TsharkFact]
    public void Tshark_agrees_on_a_classic_pcap_on_another_port_with_several_messages_per_segment()
    {
        using var dir = new TempDir();
        var capture = new CaptureBuilder(CaptureBuilder.LinkEthernet);
        var connection = new ScriptedConnection(capture,
            new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 40000),
            new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 5640));
        connection.Handshake();
        connection.Send(true, NinePFrames.Tversion(8192));
        connection.Send(false, NinePFrames.Rversion(8192));
        // Two requests in one segment, and a reply split across two.
        connection.Send(true, [.. NinePFrames.Tattach(1, 0), .. NinePFrames.Twalk(2, 0, 1, "a")]);
        byte[] replies = [.. NinePFrames.Rattach(1), .. NinePFrames.Rwalk(2, 1)];
        connection.Send(false, replies.AsSpan(0, 10));
        connection.Send(false, replies.AsSpan(10));
        connection.Fin();
        string file = Path.Combine(dir.Path, "other-port.pcap");
        File.WriteAllBytes(file, capture.ToPcap());

        Assert.Equal(6, TsharkAgreement.AssertSameDecode(file, [5640]));
    }
}
