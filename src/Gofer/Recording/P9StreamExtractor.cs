using System.Buffers.Binary;

namespace Gofer.Recording;

/// <summary>
/// TCP reassembly per direction (keyed by the 4-tuple) and 9P framing (size[4] prefix) over the reassembled
/// bytes. Retransmitted and overlapping bytes are dropped by sequence number; out-of-order segments wait until
/// the hole is filled. A hole that is never filled (a segment the capture missed), a truncated packet, or a size[4]
/// that cannot be 9P ends the framing of that direction with a warning: after such a loss the message boundaries
/// are unknown, and guessing them would invent messages.
/// </summary>
internal sealed class P9StreamExtractor
{
    /// <summary>size[4] type[1] tag[2] msize[4] version[s]: the smallest Tversion, with an empty version string.</summary>
    private const int MinTversion = 13;

    /// <summary>A Tversion is a few dozen bytes; a larger size[4] with type 100 is a coincidence, not 9P.</summary>
    private const int MaxTversion = 8192;

    private const byte Tversion = 100;

    private readonly P9CaptureReaderOptions _options;
    private readonly Dictionary<(TcpEndpoint Low, TcpEndpoint High), Conversation> _conversations = [];
    private readonly List<Conversation> _all = [];
    private readonly List<P9StreamInfo> _streams = [];
    private readonly List<string> _warnings = [];

    public P9StreamExtractor(P9CaptureReaderOptions options) => _options = options;

    public IReadOnlyList<P9StreamInfo> Streams => _streams;

    public IReadOnlyList<string> Warnings => _warnings;

    public void OnPacket(in CapturedPacket packet, List<P9Frame> output)
    {
        if (!TcpPacketDecoder.TryDecode(packet.LinkType, packet.Data.Span, packet.Truncated, out TcpSegment segment))
        {
            return;
        }

        var key = segment.Source.CompareTo(segment.Destination) <= 0
            ? (segment.Source, segment.Destination)
            : (segment.Destination, segment.Source);
        if (!_conversations.TryGetValue(key, out Conversation? conversation)
            || (segment.IsSyn && !segment.IsAck && conversation.IsFinished(segment.Source, segment.Sequence)))
        {
            // A fresh SYN on a 4-tuple that already carried a finished connection is a new connection (port
            // reuse), numbered anew as Wireshark does.
            conversation = NewConversation(key, segment.Source, segment.Destination);
        }

        int from = segment.Source == conversation.A ? 0 : 1;
        Direction direction = conversation.Directions[from];
        if (segment.IsSyn)
        {
            if (!segment.IsAck && conversation.ClientSide < 0)
            {
                conversation.ClientSide = from;
            }

            direction.SynSequence ??= segment.Sequence;
            if (!direction.HasNext)
            {
                direction.Next = segment.Sequence + 1; // the SYN occupies one sequence number
                direction.HasNext = true;
            }
        }

        if (segment.IsFin || segment.IsRst)
        {
            direction.Closed = true;
        }

        if (segment.Payload.IsEmpty && !segment.Truncated)
        {
            return;
        }

        if (conversation.State == StreamState.Ignored || direction.Desynced)
        {
            return;
        }

        if (!direction.HasNext)
        {
            direction.Next = segment.Sequence; // capture began mid-connection
            direction.HasNext = true;
        }

        conversation.SawData = true;
        var context = new Context(conversation, from, packet, output);
        Deliver(context, direction, segment.Sequence, segment.Payload, segment.Truncated);
    }

    /// <summary>Reports what the capture left unfinished.</summary>
    public void Finish()
    {
        foreach (var conversation in _all)
        {
            if (conversation.State != StreamState.NinePStream)
            {
                continue;
            }

            for (int from = 0; from < 2; from++)
            {
                Direction d = conversation.Directions[from];
                string name = DirectionName(conversation, from);
                if (d.Desynced)
                {
                    continue;
                }

                if (d.Pending.Count > 0)
                {
                    _warnings.Add($"stream {conversation.Index} {name}: {d.PendingBytes} bytes after a segment the capture missed were not decoded");
                }
                else if (d.Count > 0)
                {
                    _warnings.Add($"stream {conversation.Index} {name}: capture ends inside a message ({d.Count} bytes of it)");
                }
            }
        }
    }

    private Conversation NewConversation((TcpEndpoint, TcpEndpoint) key, TcpEndpoint a, TcpEndpoint b)
    {
        var conversation = new Conversation(_all.Count, a, b);
        _all.Add(conversation);
        _conversations[key] = conversation;
        bool aIsServerPort = _options.Ports.Contains(a.Port);
        bool bIsServerPort = _options.Ports.Contains(b.Port);
        if (aIsServerPort || bIsServerPort)
        {
            conversation.State = StreamState.NinePStream;
            if (aIsServerPort != bIsServerPort)
            {
                conversation.PortClientSide = aIsServerPort ? 1 : 0;
            }
        }
        else if (!_options.Heuristic)
        {
            conversation.State = StreamState.Ignored;
        }

        return conversation;
    }

    private void Deliver(in Context context, Direction direction, uint sequence, ReadOnlySpan<byte> payload, bool truncated)
    {
        // Serial-number arithmetic (RFC 1982): the signed 32-bit distance survives sequence wrap-around. Widened
        // to long before negating, as −int.MinValue does not fit an int.
        long offset = (int)(sequence - direction.Next);
        if (offset > 0)
        {
            // Ahead of what we have: a segment is missing so far. Hold this one until the hole fills.
            if (direction.PendingBytes + payload.Length > _options.MaxPendingBytes || truncated)
            {
                Desync(context, direction, $"a segment the capture missed (hole of {offset} bytes)");
                return;
            }

            direction.Pending.Add((sequence, payload.ToArray()));
            direction.PendingBytes += payload.Length;
            return;
        }

        long skip = -offset;
        if (skip >= payload.Length && !(skip == payload.Length && truncated))
        {
            return; // a retransmission of bytes already delivered
        }

        if (skip < payload.Length)
        {
            Append(context, direction, payload[(int)skip..]);
            direction.Next += (uint)(payload.Length - skip);
        }

        if (truncated)
        {
            Desync(context, direction, "a packet truncated by the capture's snap length");
            return;
        }

        // Segments that were waiting for the bytes just delivered.
        bool progressed = true;
        while (progressed && direction.Pending.Count > 0 && !direction.Desynced)
        {
            progressed = false;
            for (int i = 0; i < direction.Pending.Count; i++)
            {
                var (pendingSequence, bytes) = direction.Pending[i];
                long pendingOffset = (int)(pendingSequence - direction.Next);
                if (pendingOffset > 0)
                {
                    continue;
                }

                direction.Pending.RemoveAt(i);
                direction.PendingBytes -= bytes.Length;
                long pendingSkip = -pendingOffset;
                if (pendingSkip < bytes.Length)
                {
                    Append(context, direction, bytes.AsSpan((int)pendingSkip));
                    direction.Next += (uint)(bytes.Length - pendingSkip);
                }

                progressed = true;
                break;
            }
        }
    }

    private void Append(in Context context, Direction direction, ReadOnlySpan<byte> bytes)
    {
        Conversation conversation = context.Conversation;
        if (direction.Desynced || conversation.State == StreamState.Ignored)
        {
            return;
        }

        direction.Write(bytes);
        if (conversation.State == StreamState.Undecided)
        {
            Decide(context, direction);
            if (conversation.State != StreamState.NinePStream)
            {
                return;
            }

            // Now 9P: the other direction may already hold bytes (a server that spoke first).
            Split(context with { From = 1 - context.From }, conversation.Directions[1 - context.From]);
        }

        Split(context, direction);
    }

    /// <summary>The heuristic: a conversation is 9P when the first bytes anyone sent are a Tversion.</summary>
    private static void Decide(in Context context, Direction direction)
    {
        Conversation conversation = context.Conversation;
        if (direction.Count < 7)
        {
            return;
        }

        ReadOnlySpan<byte> head = direction.Data;
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(head);
        if (head[4] == Tversion && size is >= MinTversion and <= MaxTversion)
        {
            conversation.State = StreamState.NinePStream;
            conversation.HeuristicClientSide = context.From;
            return;
        }

        conversation.State = StreamState.Ignored;
        conversation.Directions[0].Release();
        conversation.Directions[1].Release();
    }

    private void Split(in Context context, Direction direction)
    {
        Conversation conversation = context.Conversation;
        while (!direction.Desynced && direction.Count >= 4)
        {
            ReadOnlySpan<byte> data = direction.Data;
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(data);
            if (size < 7 || size > (uint)_options.MaxFrameSize)
            {
                Desync(context, direction, $"size[4] = {size} cannot start a 9P message");
                return;
            }

            if (data.Length < size)
            {
                return;
            }

            if (conversation.Announced == false)
            {
                Announce(conversation, context.Packet.TimestampNs);
            }

            byte[] frame = data[..(int)size].ToArray();
            direction.Consume((int)size);
            var way = context.From == conversation.EffectiveClientSide ? P9Direction.ClientToServer : P9Direction.ServerToClient;
            context.Output.Add(new P9Frame(conversation.Index, way, context.Packet.TimestampNs, context.Packet.Number, frame));
        }
    }

    private void Announce(Conversation conversation, long timestampNs)
    {
        conversation.Announced = true;
        int client = conversation.EffectiveClientSide;
        var clientEnd = client == 0 ? conversation.A : conversation.B;
        var serverEnd = client == 0 ? conversation.B : conversation.A;
        _streams.Add(new P9StreamInfo(conversation.Index, clientEnd.ToIPEndPoint(), serverEnd.ToIPEndPoint(), timestampNs));
    }

    private void Desync(in Context context, Direction direction, string reason)
    {
        Conversation conversation = context.Conversation;
        direction.Desynced = true;
        direction.Release();
        direction.Pending.Clear();
        direction.PendingBytes = 0;
        if (conversation.State == StreamState.NinePStream)
        {
            _warnings.Add($"stream {conversation.Index} {DirectionName(conversation, context.From)}: stopped decoding at packet {context.Packet.Number}: {reason}");
        }
    }

    private static string DirectionName(Conversation conversation, int from) =>
        from == conversation.EffectiveClientSide ? "client→server" : "server→client";

    private enum StreamState : byte
    {
        Undecided,
        NinePStream,
        Ignored,
    }

    private readonly record struct Context(Conversation Conversation, int From, CapturedPacket Packet, List<P9Frame> Output);

    private sealed class Conversation(int index, TcpEndpoint a, TcpEndpoint b)
    {
        public int Index { get; } = index;

        /// <summary>The endpoint that sent the first packet seen; <see cref="Directions"/>[0] is from it.</summary>
        public TcpEndpoint A { get; } = a;

        public TcpEndpoint B { get; } = b;

        public Direction[] Directions { get; } = [new Direction(), new Direction()];

        public StreamState State { get; set; }

        /// <summary>0 or 1 when a SYN without ACK showed who connected; −1 while unknown.</summary>
        public int ClientSide { get; set; } = -1;

        /// <summary>From the configured server port, when exactly one end uses it.</summary>
        public int PortClientSide { get; set; } = -1;

        /// <summary>The side whose first bytes were a Tversion.</summary>
        public int HeuristicClientSide { get; set; } = -1;

        public bool SawData { get; set; }

        public bool Announced { get; set; }

        /// <summary>Who the client is, by the best evidence: the SYN, then the port, then the Tversion, then "A".</summary>
        public int EffectiveClientSide =>
            ClientSide >= 0 ? ClientSide : PortClientSide >= 0 ? PortClientSide : HeuristicClientSide >= 0 ? HeuristicClientSide : 0;

        /// <summary>True when a SYN from <paramref name="source"/> starts a new connection on this 4-tuple.</summary>
        public bool IsFinished(TcpEndpoint source, uint synSequence)
        {
            Direction d = Directions[source == A ? 0 : 1];
            if (d.SynSequence == synSequence)
            {
                return false; // a retransmitted SYN of this very connection
            }

            return SawData || Directions[0].Closed || Directions[1].Closed;
        }
    }

    /// <summary>One direction's reassembly state and the bytes not yet framed.</summary>
    private sealed class Direction
    {
        private byte[] _buffer = [];
        private int _start;
        private int _end;

        public bool HasNext { get; set; }

        public uint Next { get; set; }

        public uint? SynSequence { get; set; }

        public bool Closed { get; set; }

        public bool Desynced { get; set; }

        public List<(uint Sequence, byte[] Bytes)> Pending { get; } = [];

        public long PendingBytes { get; set; }

        public int Count => _end - _start;

        public ReadOnlySpan<byte> Data => _buffer.AsSpan(_start, _end - _start);

        public void Write(ReadOnlySpan<byte> bytes)
        {
            if (_buffer.Length - _end < bytes.Length)
            {
                int count = Count;
                if (_buffer.Length - count < bytes.Length || _start == 0)
                {
                    var bigger = new byte[Math.Max(count + bytes.Length, Math.Max(4096, _buffer.Length * 2))];
                    Data.CopyTo(bigger);
                    _buffer = bigger;
                }
                else
                {
                    Data.CopyTo(_buffer);
                }

                _start = 0;
                _end = count;
            }

            bytes.CopyTo(_buffer.AsSpan(_end));
            _end += bytes.Length;
        }

        public void Consume(int n)
        {
            _start += n;
            if (_start == _end)
            {
                _start = _end = 0;
            }
        }

        public void Release()
        {
            _buffer = [];
            _start = _end = 0;
        }
    }
}
