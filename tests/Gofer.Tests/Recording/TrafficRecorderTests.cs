using System.Buffers;
using System.Buffers.Binary;
using Gofer.Recording;
using Microsoft.Extensions.Logging;

namespace Gofer.Tests.Recording;

public class TrafficRecorderTests
{
    [Fact]
    public void Recorded_session_reads_back_as_the_same_frames_in_order()
    {
        using var dir = new TempDir();
        var session = NinePFrames.Session();
        string file = Recordings.RecordOne(dir.Path, session, "test");

        var capture = P9CaptureReader.Read(file);

        Assert.Empty(capture.Warnings);
        Assert.Equal(session.Count, capture.Frames.Count);
        for (int i = 0; i < session.Count; i++)
        {
            Assert.Equal(session[i].Frame, capture.Frames[i].Bytes);
            Assert.Equal(session[i].FromClient ? P9Direction.ClientToServer : P9Direction.ServerToClient, capture.Frames[i].Direction);
            Assert.Equal(0, capture.Frames[i].Stream);
        }

        var stream = Assert.Single(capture.Streams);
        Assert.Equal(564, stream.Server.Port);
        Assert.Equal(49152, stream.Client.Port);
        Assert.Equal("127.0.0.1", stream.Client.Address.ToString());
        // Times never go backwards, and every frame is after the handshake.
        for (int i = 1; i < capture.Frames.Count; i++)
        {
            Assert.True(capture.Frames[i].TimestampNs >= capture.Frames[i - 1].TimestampNs);
        }
    }

    [Fact]
    public void Large_payload_is_split_into_segments_that_fit_ipv4_and_tcp_framing_is_complete()
    {
        using var dir = new TempDir();
        string file = Recordings.RecordOne(dir.Path, NinePFrames.Session(readSize: 200_000));

        var packets = new List<(byte Flags, int Payload, int IpTotal)>();
        using (var stream = File.OpenRead(file))
        {
            var reader = CaptureFileReader.Open(stream);
            while (reader.TryRead(out var packet))
            {
                Assert.Equal(1, packet.LinkType);
                Assert.False(packet.Truncated);
                Assert.True(TcpPacketDecoder.TryDecode(packet.LinkType, packet.Data.Span, false, out var segment));
                packets.Add((segment.Flags, segment.Payload.Length, BinaryPrimitives.ReadUInt16BigEndian(packet.Data.Span[16..])));
            }
        }

        // SYN, SYN-ACK, ACK first; FIN, FIN, ACK last.
        Assert.Equal(new byte[] { 0x02, 0x12, 0x10 }, packets.Take(3).Select(p => p.Flags));
        Assert.Equal(new byte[] { 0x11, 0x11, 0x10 }, packets.TakeLast(3).Select(p => p.Flags));
        Assert.All(packets, p => Assert.True(p.Payload <= SyntheticTcp.MaxSegmentPayload));
        Assert.All(packets, p => Assert.Equal(p.Payload + 40, p.IpTotal));
        // The 200 000-byte Rread (plus its 11-byte header) goes out as three full segments and the rest.
        int max = SyntheticTcp.MaxSegmentPayload;
        var sizes = packets.Select(p => p.Payload).ToList();
        int at = sizes.IndexOf(max);
        Assert.Equal([max, max, max, 200_011 - (3 * max)], sizes.GetRange(at, 4));
        Assert.Equal(200_011, P9CaptureReader.Read(file).Frames.Single(f => f.Type == 117).Bytes.Length);
    }

    [Fact]
    public void Each_connection_gets_its_own_file_and_client_port()
    {
        using var dir = new TempDir();
        var recorder = TrafficRecorder.Create(dir.Path, new ListLogger(), new TrafficRecorderOptions { Overflow = RecordingOverflow.Block });
        var a = recorder.OpenConnection("a");
        var b = recorder.OpenConnection("b");
        a.Received(NinePFrames.Tversion(8192));
        b.Received(NinePFrames.Tversion(4096));
        a.Sent(NinePFrames.Rversion(8192));
        b.Sent(NinePFrames.Rversion(4096));
        a.Dispose();
        b.Dispose();
        recorder.Dispose();

        string[] files = Directory.GetFiles(dir.Path).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(2, files.Length);
        Assert.Matches(@"conn-000001-\d{8}T\d{6}\.\d{6}Z-p\d+\.pcapng$", files[0]);
        Assert.Matches(@"conn-000002-\d{8}T\d{6}\.\d{6}Z-p\d+\.pcapng$", files[1]);
        var first = P9CaptureReader.Read(files[0]);
        var second = P9CaptureReader.Read(files[1]);
        Assert.Equal(49152, first.Streams.Single().Client.Port);
        Assert.Equal(49153, second.Streams.Single().Client.Port);
        Assert.Equal(NinePFrames.Tversion(8192), first.Frames[0].Bytes);
        Assert.Equal(NinePFrames.Tversion(4096), second.Frames[0].Bytes);
    }

    [Fact]
    public void Multi_segment_sequences_and_byte_at_a_time_chunks_record_the_same_stream()
    {
        using var dir = new TempDir();
        var recorder = TrafficRecorder.Create(dir.Path, new ListLogger(), new TrafficRecorderOptions { Overflow = RecordingOverflow.Block });
        byte[] tversion = NinePFrames.Tversion(8192);
        byte[] rversion = NinePFrames.Rversion(8192);
        using (var connection = recorder.OpenConnection())
        {
            // The server hands over whatever its pipe had: frames split anywhere, or several at once.
            foreach (byte b in tversion)
            {
                connection.Received([b]);
            }

            connection.Sent(Sequence(rversion.AsMemory(0, 5), rversion.AsMemory(5)));
        }

        recorder.Dispose();
        var capture = P9CaptureReader.Read(Directory.GetFiles(dir.Path).Single());
        Assert.Equal([tversion, rversion], capture.Frames.Select(f => f.Bytes));
    }

    [Fact]
    public void Concurrent_connections_are_all_recorded_completely()
    {
        using var dir = new TempDir();
        var recorder = TrafficRecorder.Create(dir.Path, new ListLogger(),
            new TrafficRecorderOptions { Overflow = RecordingOverflow.Block, MaxQueuedBytes = 64 * 1024 });
        var threads = new List<Thread>();
        for (int i = 0; i < 8; i++)
        {
            var connection = recorder.OpenConnection();
            // Reads and writes from two threads at once, as the server's read and write loops do.
            var sending = new Thread(() =>
            {
                for (ushort tag = 0; tag < 50; tag++)
                {
                    connection.Sent(NinePFrames.Rread(tag, 3000));
                }
            });
            var receiving = new Thread(() =>
            {
                for (ushort tag = 0; tag < 50; tag++)
                {
                    connection.Received(NinePFrames.Tread(tag, 1, 0, 3000));
                }

                sending.Join();
                connection.Dispose();
            });
            threads.Add(sending);
            threads.Add(receiving);
        }

        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        recorder.Dispose();

        string[] files = Directory.GetFiles(dir.Path);
        Assert.Equal(8, files.Length);
        foreach (string file in files)
        {
            var capture = P9CaptureReader.Read(file);
            Assert.Empty(capture.Warnings);
            Assert.Equal(Enumerable.Range(0, 50), capture.Frames.Where(f => f.Direction == P9Direction.ClientToServer).Select(f => (int)f.Tag));
            Assert.Equal(Enumerable.Range(0, 50), capture.Frames.Where(f => f.Direction == P9Direction.ServerToClient).Select(f => (int)f.Tag));
        }

        Assert.Equal(0, recorder.DroppedChunks);
    }

    [Fact]
    public void A_file_that_cannot_be_written_is_logged_once_and_the_caller_never_sees_it()
    {
        using var dir = new TempDir();
        var logger = new ListLogger();
        var recorder = TrafficRecorder.Create(dir.Path, logger, new TrafficRecorderOptions { Overflow = RecordingOverflow.Block });
        Directory.Delete(dir.Path); // the directory vanishes under the running server

        var connection = recorder.OpenConnection();
        for (int i = 0; i < 100; i++)
        {
            connection.Received(NinePFrames.Tversion(8192));
            connection.Sent(NinePFrames.Rversion(8192));
        }

        connection.Dispose();
        connection.Dispose();
        recorder.Dispose();

        Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning && e.Id.Id == 7001);
    }

    [Fact]
    public void Traffic_after_dispose_is_ignored()
    {
        using var dir = new TempDir();
        var recorder = TrafficRecorder.Create(dir.Path, new ListLogger());
        var connection = recorder.OpenConnection();
        connection.Received(NinePFrames.Tversion(8192));
        recorder.Dispose();
        connection.Received(NinePFrames.Tversion(8192));
        connection.Sent(NinePFrames.Rversion(8192));
        connection.Dispose();
        var late = recorder.OpenConnection();
        late.Received(NinePFrames.Tversion(8192));
        late.Dispose();

        var capture = P9CaptureReader.Read(Assert.Single(Directory.GetFiles(dir.Path)));
        Assert.Single(capture.Frames);
    }

    [Fact]
    public void Dropped_bytes_show_as_a_gap_that_the_reader_reports()
    {
        // Drive the writer side directly so the drop is deterministic: a chunk the queue had no room for.
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "gap.pcapng");
        using (var file = File.Create(path))
        {
            var pcap = new PcapNgWriter(file);
            var tcp = new SyntheticTcp(50000, 1, 0xFFFF_FFF0);
            var headers = new byte[SyntheticTcp.HeaderLength];
            pcap.WriteHeader("gap", "test");
            void Segment(bool fromClient, byte flags, byte[] payload)
            {
                tcp.BuildHeaders(headers, fromClient, flags, payload);
                pcap.WritePacket(1_700_000_000_000_000, headers, payload);
            }

            Segment(true, SyntheticTcp.Syn, []);
            Segment(false, SyntheticTcp.Syn | SyntheticTcp.Ack, []);
            Segment(true, SyntheticTcp.Ack, []);
            Segment(true, SyntheticTcp.Psh | SyntheticTcp.Ack, NinePFrames.Tversion(8192));
            Segment(false, SyntheticTcp.Psh | SyntheticTcp.Ack, NinePFrames.Rversion(8192));
            tcp.Skip(fromClient: true, NinePFrames.Tattach(1, 0).Length); // dropped
            Segment(true, SyntheticTcp.Psh | SyntheticTcp.Ack, NinePFrames.Tclunk(2, 0));
            Segment(false, SyntheticTcp.Psh | SyntheticTcp.Ack, NinePFrames.Rclunk(2));
        }

        var capture = P9CaptureReader.Read(path);

        Assert.Equal([100, 101, 121], capture.Frames.Select(f => (int)f.Type));
        Assert.Contains(capture.Warnings, w => w.Contains("client→server", StringComparison.Ordinal) && w.Contains("missed", StringComparison.Ordinal));
    }

    private static ReadOnlySequence<byte> Sequence(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second)
    {
        var head = new Chunk(first);
        var tail = head.Append(second);
        return new ReadOnlySequence<byte>(head, 0, tail, tail.Memory.Length);
    }

    private sealed class Chunk : ReadOnlySequenceSegment<byte>
    {
        public Chunk(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Chunk Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Chunk(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}

public class TrafficRecorderOverflowTests
{
    [Fact]
    public void When_the_writer_is_behind_chunks_are_dropped_counted_warned_once_and_show_as_a_gap()
    {
        using var dir = new TempDir();
        var logger = new ListLogger();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        byte[] tversion = NinePFrames.Tversion(8192);
        byte[] rversion = NinePFrames.Rversion(8192);
        var recorder = TrafficRecorder.Create(dir.Path, logger, new TrafficRecorderOptions
        {
            Overflow = RecordingOverflow.Drop,
            MaxQueuedBytes = tversion.Length + rversion.Length, // room for exactly the version exchange
            WriterGate = gate.Task,
        });
        var connection = recorder.OpenConnection();
        connection.Received(tversion);
        connection.Sent(rversion);
        for (ushort tag = 1; tag <= 3; tag++)
        {
            connection.Received(NinePFrames.Tclunk(tag, 0)); // no room: dropped, never blocks
        }

        connection.Dispose();
        gate.SetResult();
        recorder.Dispose();

        Assert.Equal(3, recorder.DroppedChunks);
        Assert.Equal(3 * 11, recorder.DroppedBytes);
        Assert.Single(logger.Entries, e => e.Id.Id == 7002);
        Assert.Single(logger.Entries, e => e.Id.Id == 7003);
        var capture = P9CaptureReader.Read(Assert.Single(Directory.GetFiles(dir.Path)));
        Assert.Equal([tversion, rversion], capture.Frames.Select(f => f.Bytes));
        // The loss is visible as a sequence gap before the FIN, not spliced away: tshark would flag it too.
        Assert.Empty(capture.Warnings); // nothing followed the gap, so no bytes were left undecoded
    }

    [Fact]
    public async Task Blocking_mode_waits_for_room_and_loses_nothing()
    {
        using var dir = new TempDir();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var recorder = TrafficRecorder.Create(dir.Path, new ListLogger(), new TrafficRecorderOptions
        {
            Overflow = RecordingOverflow.Block,
            MaxQueuedBytes = 100,
            WriterGate = gate.Task,
        });
        var connection = recorder.OpenConnection();
        var producer = Task.Run(() =>
        {
            for (ushort tag = 0; tag < 200; tag++)
            {
                connection.Received(NinePFrames.Tclunk(tag, 0));
            }

            connection.Dispose();
        });
        gate.SetResult();
        await producer.WaitAsync(TimeSpan.FromMinutes(2)); // generous: bounds a hang, measures nothing
        await recorder.DisposeAsync();

        var capture = P9CaptureReader.Read(Assert.Single(Directory.GetFiles(dir.Path)));
        Assert.Equal(Enumerable.Range(0, 200), capture.Frames.Select(f => (int)f.Tag));
        Assert.Equal(0, recorder.DroppedChunks);
    }
}
