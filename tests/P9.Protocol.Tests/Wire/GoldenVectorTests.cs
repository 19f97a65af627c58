using System.Buffers;
using System.Buffers.Binary;
using P9.Protocol.Wire;

namespace P9.Protocol.Tests.Wire;

/// <summary>Byte vectors worked out by hand from the 9P2000.L layouts (little-endian, size counts itself).</summary>
public class GoldenVectorTests
{
    private static byte[] Encoded(Action<ArrayBufferWriter<byte>> encode)
    {
        var w = new ArrayBufferWriter<byte>();
        encode(w);
        return w.WrittenSpan.ToArray();
    }

    [Fact]
    public void Tversion_notag_8192()
    {
        // size 21 = 7 + msize 4 + len 2 + "9P2000.L" 8; type 100 = 0x64; tag NOTAG
        var expected = TestData.Hex("15000000 64 FFFF 00200000 0800 3950323030302E4C");
        Assert.Equal(expected, Encoded(w => Tversion.Encode(w, P9Constants.NoTag, 8192, "9P2000.L"u8)));
        Assert.Equal(P9DecodeError.None, Tversion.TryDecode(expected, out var m));
        Assert.Equal(8192u, m.Msize);
        Assert.True(m.Version.SequenceEqual("9P2000.L"u8));
    }

    [Fact]
    public void Tattach_root_nofid()
    {
        // size 27 = 7 + fid 4 + afid 4 + "root" 2+4 + "" 2 + n_uname 4; type 104 = 0x68
        var expected = TestData.Hex("1B000000 68 0100 00000000 FFFFFFFF 0400 726F6F74 0000 00000000");
        Assert.Equal(expected, Encoded(w => Tattach.Encode(w, 1, 0, P9Constants.NoFid, "root"u8, ""u8, 0)));
        Assert.Equal(P9DecodeError.None, Tattach.TryDecode(expected, out var m));
        Assert.Equal(P9Constants.NoFid, m.Afid);
        Assert.True(m.Uname.SequenceEqual("root"u8));
        Assert.Equal(0, m.Aname.Length);
    }

    [Fact]
    public void Twalk_usr_bin()
    {
        // size 27 = 7 + fid 4 + newfid 4 + nwname 2 + (2+3) + (2+3); type 110 = 0x6E
        var expected = TestData.Hex("1B000000 6E 0100 00000000 01000000 0200 0300 757372 0300 62696E");
        Assert.Equal(expected, Encoded(w => Twalk.Encode(w, 1, 0, 1, new[] { "usr", "bin" })));
        Assert.Equal(P9DecodeError.None, Twalk.TryDecode(expected, out var m));
        Assert.Equal(1u, m.Newfid);
        Assert.Equal(new[] { "usr", "bin" }, TestData.Names(m.Wnames));
        Assert.True(m.Wnames[1].SequenceEqual("bin"u8));
    }

    [Fact]
    public void Tlopen_rdwr_largefile_and_Rlopen_body_17()
    {
        // size 15 = 7 + fid 4 + flags 4; type 12; flags 0x8002 = RDWR|LARGEFILE (wire octal 0100002)
        var expected = TestData.Hex("0F000000 0C 0200 01000000 02800000");
        Assert.Equal(expected, Encoded(w => Tlopen.Encode(w, 2, 1, LopenFlags.ReadWrite | LopenFlags.LargeFile)));
        Assert.Equal(P9DecodeError.None, Tlopen.TryDecode(expected, out var m));
        Assert.Equal(LopenFlags.ReadWrite | LopenFlags.LargeFile, m.Flags);

        // Rlopen: qid[13] iounit[4] = body 17, frame 24; type 13
        var rlopen = TestData.Hex("18000000 0D 0200 00 05000000 0900000000000000 00100000");
        Assert.Equal(24, Rlopen.FrameSize);
        Assert.Equal(rlopen, Encoded(w => Rlopen.Encode(w, 2, new Qid(QidType.File, 5, 9), 4096)));
    }

    [Fact]
    public void Tread_and_Rread()
    {
        // size 23 = 7 + fid 4 + offset 8 + count 4; type 116 = 0x74
        var tread = TestData.Hex("17000000 74 0300 01000000 0010000000000000 00020000");
        Assert.Equal(tread, Encoded(w => Tread.Encode(w, 3, 1, 0x1000, 512)));
        Assert.Equal(P9DecodeError.None, Tread.TryDecode(tread, out var t));
        Assert.Equal(0x1000UL, t.Offset);
        Assert.Equal(512u, t.Count);

        // size 13 = 7 + count 4 + "hi"; type 117 = 0x75
        var rread = TestData.Hex("0D000000 75 0300 02000000 6869");
        Assert.Equal(rread, Encoded(w => Rread.Encode(w, 3, "hi"u8)));
        Assert.Equal(P9DecodeError.None, Rread.TryDecode(rread, out var r));
        Assert.True(r.Data.SequenceEqual("hi"u8));
        // The payload is a slice of the input, not a copy.
        Assert.True(System.Runtime.CompilerServices.Unsafe.AreSame(
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(r.Data), ref rread[11]));
    }

    [Fact]
    public void Tgetattr_and_Rgetattr_160()
    {
        // size 19 = 7 + fid 4 + request_mask 8; type 24 = 0x18
        var tget = TestData.Hex("13000000 18 0400 01000000 FF07000000000000");
        Assert.Equal(tget, Encoded(w => Tgetattr.Encode(w, 4, 1, GetattrMask.Basic)));

        // Rgetattr by hand: valid@7 qid@15 mode@28 uid@32 gid@36 then 17 x [8] from 40 to 176? no: 40 + 15*8 = 160.
        var expected = new byte[160];
        BinaryPrimitives.WriteUInt32LittleEndian(expected, 160);
        expected[4] = 25;
        BinaryPrimitives.WriteUInt16LittleEndian(expected.AsSpan(5), 4);
        BinaryPrimitives.WriteUInt64LittleEndian(expected.AsSpan(7), 0x7FF);
        expected[15] = 0x80;                                                   // qid.type DIR
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(16), 3);      // qid.version
        BinaryPrimitives.WriteUInt64LittleEndian(expected.AsSpan(20), 42);     // qid.path
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(28), 0x41ED); // mode 040755
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(32), 1000);
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(36), 1001);
        // nlink rdev size blksize blocks atime(2) mtime(2) ctime(2) btime(2) gen data_version: 15 x 8 bytes from 40.
        for (int i = 0; i < 15; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(expected.AsSpan(40 + (8 * i)), (ulong)(i + 1));
        var actual = Encoded(w => Rgetattr.Encode(w, 4, GetattrMask.Basic, new Qid(QidType.Dir, 3, 42), 0x41ED, 1000, 1001,
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
        Assert.Equal(160, Rgetattr.FrameSize);
        Assert.Equal(expected, actual);
        Assert.Equal(P9DecodeError.None, Rgetattr.TryDecode(expected, out var m));
        Assert.Equal(15UL, m.DataVersion);
        Assert.Equal(6UL, m.AtimeSec);
    }

    [Fact]
    public void Treaddir_and_Rreaddir_one_entry()
    {
        // size 23; type 40 = 0x28; count 4072 = 8192 − 24 − 96 (any value)
        var treaddir = TestData.Hex("17000000 28 0500 01000000 0000000000000000 E80F0000");
        Assert.Equal(treaddir, Encoded(w => Treaddir.Encode(w, 5, 1, 0, 4072)));

        // Entry qid[13] offset[8] type[1] name[s] for "." = 25 bytes; frame 11 + 25 = 36; type 41 = 0x29
        var rreaddir = TestData.Hex("24000000 29 0500 19000000 80 00000000 0200000000000000 0100000000000000 04 0100 2E");
        var w = new ArrayBufferWriter<byte>();
        var reply = ReplyWriter.BeginRreaddir(w, 5, 4072);
        var dirents = new DirentWriter(reply.Payload);
        Assert.True(dirents.TryAppend(new Qid(QidType.Dir, 0, 2), 1, DirentType.Directory, "."u8));
        reply.Commit(dirents.Written);
        Assert.Equal(rreaddir, w.WrittenSpan.ToArray());

        Assert.Equal(P9DecodeError.None, Rreaddir.TryDecode(rreaddir, out var m));
        var entries = m.Entries;
        Assert.True(entries.TryRead(out var e));
        Assert.Equal(new Qid(QidType.Dir, 0, 2), e.Qid);
        Assert.Equal(1UL, e.Offset);
        Assert.Equal(DirentType.Directory, e.Type);
        Assert.True(e.Name.SequenceEqual("."u8));
        Assert.False(entries.TryRead(out _));
        Assert.Equal(P9DecodeError.None, entries.Error);
    }

    [Fact]
    public void Fixed_sizes_from_the_reference()
    {
        Assert.Equal(7 + 60, Tsetattr.FrameSize);
        Assert.Equal(7 + 60, Rstatfs.FrameSize);
        Assert.Equal(7 + 17, Rlcreate.FrameSize);
        Assert.Equal(7 + 153, Rgetattr.FrameSize);
        Assert.Equal(7, Rclunk.FrameSize);
        Assert.Equal(11, Rlerror.FrameSize);
    }
}
