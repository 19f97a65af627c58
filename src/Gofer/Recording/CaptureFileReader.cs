using System.Buffers.Binary;

namespace Gofer.Recording;

/// <summary>One packet of a capture file: link type, capture time, and the captured bytes.</summary>
/// <param name="Number">1-based packet number in the file, as Wireshark counts frames.</param>
/// <param name="TimestampNs">Capture time in nanoseconds since the Unix epoch (0 when the file has none).</param>
/// <param name="Data">The captured bytes; valid only until the next packet is read.</param>
/// <param name="Truncated">True when fewer bytes were captured than were on the wire (snap length).</param>
internal readonly record struct CapturedPacket(long Number, int LinkType, long TimestampNs, ReadOnlyMemory<byte> Data, bool Truncated);

/// <summary>
/// Reads packets from pcap (both byte orders, micro- and nanosecond variants) and pcapng (any number of sections,
/// each with its own byte order and interfaces, Enhanced/Simple/obsolete Packet Blocks, if_tsresol and
/// if_tsoffset). Blocks of other types are skipped. Damage is reported as <see cref="CaptureFormatException"/>.
/// </summary>
internal sealed class CaptureFileReader
{
    /// <summary>No real capture block comes near this; a larger length field means damage, not data.</summary>
    private const int MaxBlockLength = 64 * 1024 * 1024;

    private const uint PcapMagicMicros = 0xA1B2C3D4;
    private const uint PcapMagicNanos = 0xA1B23C4D;
    private const uint PcapNgSectionHeader = 0x0A0D0D0A;
    private const uint PcapNgByteOrderMagic = 0x1A2B3C4D;

    private readonly Stream _in;
    private readonly bool _isPcapNg;
    private readonly List<Interface> _interfaces = [];
    private byte[] _buffer = new byte[1 << 16];
    private bool _bigEndian;
    private long _number;

    // pcap (classic) state.
    private int _pcapLinkType;
    private bool _pcapNanos;

    private CaptureFileReader(Stream input, bool isPcapNg)
    {
        _in = input;
        _isPcapNg = isPcapNg;
    }

    /// <summary>Opens a capture, detecting the format from its first bytes.</summary>
    /// <exception cref="CaptureFormatException">Not a pcap or pcapng file, or its header is damaged.</exception>
    public static CaptureFileReader Open(Stream input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Span<byte> magic = stackalloc byte[4];
        if (!TryReadExactly(input, magic))
        {
            throw new CaptureFormatException("file too short to be a capture");
        }

        uint le = BinaryPrimitives.ReadUInt32LittleEndian(magic);
        if (le == PcapNgSectionHeader)
        {
            var ng = new CaptureFileReader(input, isPcapNg: true);
            ng.ReadSectionHeader();
            return ng;
        }

        uint be = BinaryPrimitives.ReadUInt32BigEndian(magic);
        var pcap = new CaptureFileReader(input, isPcapNg: false);
        if (le is PcapMagicMicros or PcapMagicNanos)
        {
            pcap._bigEndian = false;
            pcap._pcapNanos = le == PcapMagicNanos;
        }
        else if (be is PcapMagicMicros or PcapMagicNanos)
        {
            pcap._bigEndian = true;
            pcap._pcapNanos = be == PcapMagicNanos;
        }
        else
        {
            throw new CaptureFormatException($"not a pcap or pcapng file (magic 0x{be:X8})");
        }

        // pcap global header after the magic: major[2] minor[2] thiszone[4] sigfigs[4] snaplen[4] network[4].
        Span<byte> header = stackalloc byte[20];
        if (!TryReadExactly(input, header))
        {
            throw new CaptureFormatException("pcap header truncated");
        }

        // The link type is the low 16 bits; the upper bits may carry FCS information (pcap-linktype(7)).
        pcap._pcapLinkType = (int)(pcap.U32(header[16..]) & 0xFFFF);
        return pcap;
    }

    /// <summary>Reads the next packet; false at a clean end of file.</summary>
    /// <exception cref="CaptureFormatException">The file is damaged or ends inside a record.</exception>
    public bool TryRead(out CapturedPacket packet)
    {
        return _isPcapNg ? TryReadPcapNg(out packet) : TryReadPcap(out packet);
    }

    private bool TryReadPcap(out CapturedPacket packet)
    {
        packet = default;
        // Record header: ts_sec[4] ts_frac[4] incl_len[4] orig_len[4].
        Span<byte> header = stackalloc byte[16];
        int got = ReadUpTo(_in, header);
        if (got == 0)
        {
            return false;
        }

        if (got < header.Length)
        {
            throw new CaptureFormatException("pcap record header truncated at end of file");
        }

        uint seconds = U32(header);
        uint fraction = U32(header[4..]);
        uint included = U32(header[8..]);
        uint original = U32(header[12..]);
        if (included > MaxBlockLength)
        {
            throw new CaptureFormatException($"pcap record {_number + 1} claims {included} bytes");
        }

        EnsureBuffer((int)included);
        if (!TryReadExactly(_in, _buffer.AsSpan(0, (int)included)))
        {
            throw new CaptureFormatException($"pcap record {_number + 1} truncated at end of file");
        }

        long ns = (seconds * 1_000_000_000L) + (_pcapNanos ? fraction : fraction * 1000L);
        packet = new CapturedPacket(++_number, _pcapLinkType, ns, _buffer.AsMemory(0, (int)included), included < original);
        return true;
    }

    private bool TryReadPcapNg(out CapturedPacket packet)
    {
        packet = default;
        Span<byte> head = stackalloc byte[8];
        while (true)
        {
            int got = ReadUpTo(_in, head);
            if (got == 0)
            {
                return false;
            }

            if (got < head.Length)
            {
                throw new CaptureFormatException("pcapng block header truncated at end of file");
            }

            uint type = U32(head);
            if (type == PcapNgSectionHeader)
            {
                ReadSectionHeader();
                continue;
            }

            uint total = U32(head[4..]);
            if (total < 12 || total % 4 != 0 || total > MaxBlockLength)
            {
                throw new CaptureFormatException($"pcapng block of type {type} has bad length {total}");
            }

            int bodyLength = (int)total - 12;
            EnsureBuffer(bodyLength + 4);
            Span<byte> body = _buffer.AsSpan(0, bodyLength + 4);
            if (!TryReadExactly(_in, body))
            {
                throw new CaptureFormatException($"pcapng block of type {type} truncated at end of file");
            }

            if (U32(body[bodyLength..]) != total)
            {
                throw new CaptureFormatException($"pcapng block of type {type}: trailing length does not match");
            }

            body = body[..bodyLength];
            switch (type)
            {
                case 1: // Interface Description Block: linktype[2] reserved[2] snaplen[4] options.
                    if (bodyLength < 8)
                    {
                        throw new CaptureFormatException("pcapng interface block too short");
                    }

                    _interfaces.Add(ReadInterface(body));
                    continue;
                case 6: // Enhanced Packet Block: ifid[4] ts_hi[4] ts_lo[4] caplen[4] origlen[4] data options.
                {
                    if (bodyLength < 20)
                    {
                        throw new CaptureFormatException("pcapng enhanced packet block too short");
                    }

                    uint ifid = U32(body);
                    ulong ts = ((ulong)U32(body[4..]) << 32) | U32(body[8..]);
                    uint captured = U32(body[12..]);
                    uint original = U32(body[16..]);
                    if (captured > (uint)(bodyLength - 20))
                    {
                        throw new CaptureFormatException($"pcapng packet {_number + 1}: captured length exceeds its block");
                    }

                    var iface = InterfaceAt(ifid);
                    packet = new CapturedPacket(++_number, iface.LinkType, iface.ToNanoseconds(ts),
                        _buffer.AsMemory(20, (int)captured), captured < original);
                    return true;
                }

                case 3: // Simple Packet Block: origlen[4] data (interface 0, no timestamp).
                {
                    if (bodyLength < 4)
                    {
                        throw new CaptureFormatException("pcapng simple packet block too short");
                    }

                    uint original = U32(body);
                    int captured = (int)Math.Min(original, (uint)(bodyLength - 4));
                    var iface = InterfaceAt(0);
                    packet = new CapturedPacket(++_number, iface.LinkType, 0, _buffer.AsMemory(4, captured), captured < original);
                    return true;
                }

                case 2: // obsolete Packet Block: ifid[2] drops[2] ts_hi[4] ts_lo[4] caplen[4] origlen[4] data.
                {
                    if (bodyLength < 20)
                    {
                        throw new CaptureFormatException("pcapng packet block too short");
                    }

                    uint ifid = U16(body);
                    ulong ts = ((ulong)U32(body[4..]) << 32) | U32(body[8..]);
                    uint captured = U32(body[12..]);
                    uint original = U32(body[16..]);
                    if (captured > (uint)(bodyLength - 20))
                    {
                        throw new CaptureFormatException($"pcapng packet {_number + 1}: captured length exceeds its block");
                    }

                    var iface = InterfaceAt(ifid);
                    packet = new CapturedPacket(++_number, iface.LinkType, iface.ToNanoseconds(ts),
                        _buffer.AsMemory(20, (int)captured), captured < original);
                    return true;
                }

                default:
                    continue; // name resolution, statistics, custom blocks…: not needed for 9P
            }
        }
    }

    /// <summary>Reads an SHB whose type field has been consumed: length[4] bom[4] major[2] minor[2] seclen[8] options.</summary>
    private void ReadSectionHeader()
    {
        Span<byte> fixedPart = stackalloc byte[8];
        if (!TryReadExactly(_in, fixedPart))
        {
            throw new CaptureFormatException("pcapng section header truncated");
        }

        // The byte-order magic decides how every later field of this section is read.
        uint bomLe = BinaryPrimitives.ReadUInt32LittleEndian(fixedPart[4..]);
        if (bomLe == PcapNgByteOrderMagic)
        {
            _bigEndian = false;
        }
        else if (BinaryPrimitives.ReadUInt32BigEndian(fixedPart[4..]) == PcapNgByteOrderMagic)
        {
            _bigEndian = true;
        }
        else
        {
            throw new CaptureFormatException("pcapng section header has a bad byte-order magic");
        }

        uint total = U32(fixedPart);
        if (total < 28 || total % 4 != 0 || total > MaxBlockLength)
        {
            throw new CaptureFormatException($"pcapng section header has bad length {total}");
        }

        int rest = (int)total - 12;
        EnsureBuffer(rest);
        if (!TryReadExactly(_in, _buffer.AsSpan(0, rest)))
        {
            throw new CaptureFormatException("pcapng section header truncated");
        }

        ushort major = U16(_buffer);
        if (major != 1)
        {
            throw new CaptureFormatException($"pcapng version {major} is not supported");
        }

        _interfaces.Clear(); // interface ids are per section
    }

    private Interface ReadInterface(ReadOnlySpan<byte> body)
    {
        int linkType = U16(body);
        int exponent = 6;
        bool binary = false;
        long offsetSeconds = 0;
        // Options: code[2] length[2] value padded to 32 bits, ended by opt_endofopt or the block's end.
        ReadOnlySpan<byte> options = body[8..];
        while (options.Length >= 4)
        {
            ushort code = U16(options);
            int length = U16(options[2..]);
            if (code == 0)
            {
                break;
            }

            int padded = (length + 3) & ~3;
            if (padded > options.Length - 4)
            {
                break; // a damaged option list: keep the defaults rather than reject the capture
            }

            ReadOnlySpan<byte> value = options.Slice(4, length);
            if (code == 9 && length >= 1) // if_tsresol: bit 7 set = power of 2, else power of 10
            {
                binary = (value[0] & 0x80) != 0;
                exponent = value[0] & 0x7F;
            }
            else if (code == 14 && length >= 8) // if_tsoffset: seconds added to every timestamp
            {
                offsetSeconds = _bigEndian ? BinaryPrimitives.ReadInt64BigEndian(value) : BinaryPrimitives.ReadInt64LittleEndian(value);
            }

            options = options[(4 + padded)..];
        }

        return new Interface(linkType, exponent, binary, offsetSeconds);
    }

    private Interface InterfaceAt(uint id)
    {
        if (id >= (uint)_interfaces.Count)
        {
            throw new CaptureFormatException($"pcapng packet {_number + 1} names interface {id}, which is not described");
        }

        return _interfaces[(int)id];
    }

    private void EnsureBuffer(int length)
    {
        // A damaged length field must not make us allocate what the file cannot hold (when we can tell).
        if (_in.CanSeek && length > _in.Length - _in.Position)
        {
            throw new CaptureFormatException($"a record of {length} bytes runs past the end of the file");
        }

        if (_buffer.Length < length)
        {
            _buffer = new byte[Math.Max(length, _buffer.Length * 2)];
        }
    }

    private uint U32(ReadOnlySpan<byte> b) => _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);

    private ushort U16(ReadOnlySpan<byte> b) => _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);

    private static bool TryReadExactly(Stream s, Span<byte> into) => ReadUpTo(s, into) == into.Length;

    private static int ReadUpTo(Stream s, Span<byte> into)
    {
        int total = 0;
        while (total < into.Length)
        {
            int n = s.Read(into[total..]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    private readonly record struct Interface(int LinkType, int Exponent, bool Binary, long OffsetSeconds)
    {
        public long ToNanoseconds(ulong ts)
        {
            // ts counts units of 10^-e or 2^-e seconds; 128-bit arithmetic so no resolution can overflow.
            UInt128 ns;
            if (Binary)
            {
                ns = Exponent >= 64 ? 0 : ((UInt128)ts * 1_000_000_000UL) >> Exponent;
            }
            else if (Exponent <= 9)
            {
                ns = (UInt128)ts * Pow10(9 - Exponent);
            }
            else
            {
                ns = Exponent - 9 > 19 ? 0 : (UInt128)ts / Pow10(Exponent - 9);
            }

            long result = ns > long.MaxValue / 2 ? long.MaxValue / 2 : (long)ns;
            // Clamped so a damaged offset cannot overflow; ±126 years covers every real one.
            return result + (Math.Clamp(OffsetSeconds, -4_000_000_000L, 4_000_000_000L) * 1_000_000_000L);
        }

        private static ulong Pow10(int n)
        {
            ulong r = 1;
            for (int i = 0; i < n; i++)
            {
                r *= 10;
            }

            return r;
        }
    }
}
