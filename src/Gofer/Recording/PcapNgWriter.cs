using System.Buffers.Binary;
using System.Text;

namespace Gofer.Recording;

/// <summary>
/// Writes a pcapng file (draft-ietf-opsawg-pcapng) in little-endian byte order: one Section Header Block, one
/// Interface Description Block (Ethernet, microsecond timestamps), then Enhanced Packet Blocks.
/// </summary>
/// <remarks>pcapng rather than pcap because it carries a comment (which connection this was) and needs no
/// snap-length guess; every tool that reads one reads the other.</remarks>
internal sealed class PcapNgWriter
{
    public const uint SectionHeaderType = 0x0A0D0D0A;
    public const uint InterfaceDescriptionType = 0x00000001;
    public const uint EnhancedPacketType = 0x00000006;
    public const uint ByteOrderMagic = 0x1A2B3C4D;
    public const ushort LinkTypeEthernet = 1;

    // Option codes: opt_endofopt 0, opt_comment 1, shb_userappl 4, if_name 2, if_description 3, if_tsresol 9.
    private const ushort OptEnd = 0;
    private const ushort OptComment = 1;
    private const ushort OptShbUserAppl = 4;
    private const ushort OptIfName = 2;
    private const ushort OptIfTsResol = 9;

    // EPB fixed part: type[4] len[4] ifid[4] ts_hi[4] ts_lo[4] caplen[4] origlen[4].
    private const int EpbHeaderLength = 28;

    private readonly Stream _out;

    public PcapNgWriter(Stream output) => _out = output;

    /// <summary>Writes the section header and the single Ethernet interface (timestamps in microseconds).</summary>
    public void WriteHeader(string? comment, string interfaceName)
    {
        var shbOptions = new List<(ushort, byte[])> { (OptShbUserAppl, Encoding.UTF8.GetBytes("gofer")) };
        if (!string.IsNullOrEmpty(comment))
        {
            // An option's length is 16 bits; a description is a label, so a short prefix is plenty.
            shbOptions.Add((OptComment, Encoding.UTF8.GetBytes(comment.Length > 512 ? comment[..512] : comment)));
        }

        // SHB body: bom[4] major[2] minor[2] section_length[8] options. Section length −1 = not known in advance.
        Span<byte> fixedShb = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(fixedShb, ByteOrderMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(fixedShb[4..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(fixedShb[6..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(fixedShb[8..], -1);
        WriteBlock(SectionHeaderType, fixedShb, shbOptions);

        // IDB body: linktype[2] reserved[2] snaplen[4] options. Snaplen 0 = no limit (segments can exceed 64 KiB
        // of link-layer bytes once headers are counted).
        Span<byte> fixedIdb = stackalloc byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(fixedIdb, LinkTypeEthernet);
        BinaryPrimitives.WriteUInt16LittleEndian(fixedIdb[2..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(fixedIdb[4..], 0);
        WriteBlock(InterfaceDescriptionType, fixedIdb,
        [
            (OptIfName, Encoding.UTF8.GetBytes(interfaceName.Length > 512 ? interfaceName[..512] : interfaceName)),
            (OptIfTsResol, [6]), // 10^-6 s, the default, stated so readers need not assume it
        ]);
    }

    /// <summary>
    /// Writes one Enhanced Packet Block whose packet is <paramref name="headers"/> followed by
    /// <paramref name="payload"/>; <paramref name="unixMicros"/> is the capture time.
    /// </summary>
    public void WritePacket(long unixMicros, ReadOnlySpan<byte> headers, ReadOnlySpan<byte> payload)
    {
        int packetLength = headers.Length + payload.Length;
        int padded = Align4(packetLength);
        int total = EpbHeaderLength + padded + 4;
        Span<byte> h = stackalloc byte[EpbHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(h, EnhancedPacketType);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], (uint)total);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)((ulong)unixMicros >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], (uint)unixMicros);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], (uint)packetLength);
        BinaryPrimitives.WriteUInt32LittleEndian(h[24..], (uint)packetLength);
        _out.Write(h);
        _out.Write(headers);
        _out.Write(payload);
        Span<byte> tail = stackalloc byte[8];
        tail.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(tail[(padded - packetLength)..], (uint)total);
        _out.Write(tail[..(padded - packetLength + 4)]);
    }

    private void WriteBlock(uint type, ReadOnlySpan<byte> fixedBody, List<(ushort Code, byte[] Value)> options)
    {
        int optionsLength = 4; // opt_endofopt
        foreach (var (_, value) in options)
        {
            optionsLength += 4 + Align4(value.Length);
        }

        int total = 8 + fixedBody.Length + optionsLength + 4;
        var block = new byte[total];
        Span<byte> b = block;
        BinaryPrimitives.WriteUInt32LittleEndian(b, type);
        BinaryPrimitives.WriteUInt32LittleEndian(b[4..], (uint)total);
        fixedBody.CopyTo(b[8..]);
        int at = 8 + fixedBody.Length;
        foreach (var (code, value) in options)
        {
            // option: code[2] length[2] value[length] padding to 32 bits.
            BinaryPrimitives.WriteUInt16LittleEndian(b[at..], code);
            BinaryPrimitives.WriteUInt16LittleEndian(b[(at + 2)..], (ushort)value.Length);
            value.CopyTo(b[(at + 4)..]);
            at += 4 + Align4(value.Length);
        }

        BinaryPrimitives.WriteUInt16LittleEndian(b[at..], OptEnd);
        BinaryPrimitives.WriteUInt16LittleEndian(b[(at + 2)..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(b[(total - 4)..], (uint)total);
        _out.Write(block);
    }

    private static int Align4(int n) => (n + 3) & ~3;
}
