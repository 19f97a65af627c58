using System.Buffers.Binary;
using P9.Protocol.Wire;

namespace P9.Protocol.Tests.Wire;

/// <summary>Every malformed input yields a typed error, never an exception.</summary>
public class BadInputTests
{
    private static byte[] Frame(Func<byte[], int> encode)
    {
        var b = new byte[1024];
        int n = encode(b);
        return b.AsSpan(0, n).ToArray();
    }

    [Fact]
    public void Truncated_fixed_field()
    {
        var f = TestData.WithoutLastByte(Frame(b => Tread.Encode(b, 1, 1, 0, 10)));
        Assert.Equal(P9DecodeError.Truncated, Tread.TryDecode(f, out var m));
        Assert.Equal(0u, m.Fid);
    }

    [Fact]
    public void Truncated_qid_and_empty_body()
    {
        var f = TestData.Hex("0B000000 69 0100 80000000"); // Rattach with 4 of 13 qid bytes
        Assert.Equal(P9DecodeError.Truncated, Rattach.TryDecode(f, out _));
        Assert.Equal(P9DecodeError.Truncated, Tclunk.TryDecode(TestData.Hex("07000000 78 0100"), out _));
    }

    [Fact]
    public void String_length_past_the_end()
    {
        var f = Frame(b => Tattach.Encode(b, 1, 0, P9Constants.NoFid, "root"u8, ""u8, 0));
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(15), 100); // uname len 100, 4 bytes there
        Assert.Equal(P9DecodeError.StringPastEnd, Tattach.TryDecode(f, out _));
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(15), 0xFFFF);
        Assert.Equal(P9DecodeError.StringPastEnd, Tattach.TryDecode(f, out _));
    }

    [Fact]
    public void String_length_cut_in_half()
    {
        // Tversion whose body ends one byte into len[2].
        Assert.Equal(P9DecodeError.Truncated, Tversion.TryDecode(TestData.Hex("0C000000 64 FFFF 00200000 08"), out _));
    }

    [Fact]
    public void Trailing_bytes()
    {
        var f = TestData.WithExtraByte(Frame(b => Tclunk.Encode(b, 1, 7)));
        Assert.Equal(P9DecodeError.TrailingBytes, Tclunk.TryDecode(f, out _));
        Assert.Equal(P9DecodeError.TrailingBytes, Rflush.TryDecode(TestData.Hex("08000000 6D 0100 00"), out _));
    }

    [Theory]
    [InlineData(17)]
    [InlineData(65535)]
    public void Nwname_over_16(int nwname)
    {
        var names = Enumerable.Repeat("a", 16).ToArray();
        var f = Frame(b => Twalk.Encode(b, 1, 0, 1, names));
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(15), (ushort)nwname);
        Assert.Equal(P9DecodeError.TooManyWalkNames, Twalk.TryDecode(f, out _));
        Assert.Equal(LinuxErrno.EINVAL, P9DecodeError.TooManyWalkNames.ToErrno());
    }

    [Fact]
    public void Sixteen_names_is_fine_and_a_name_past_the_end_is_not()
    {
        var names = Enumerable.Range(0, 16).Select(i => "n" + i).ToArray();
        var f = Frame(b => Twalk.Encode(b, 1, 0, 1, names));
        Assert.Equal(P9DecodeError.None, Twalk.TryDecode(f, out var m));
        Assert.Equal(16, m.Wnames.Count);
        Assert.True(m.Wnames[15].SequenceEqual("n15"u8));
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(f.Length - 5), 9); // last name claims 9 bytes, has 3
        Assert.Equal(P9DecodeError.StringPastEnd, Twalk.TryDecode(f, out _));
    }

    [Fact]
    public void Nwqid_over_16()
    {
        var f = Frame(b => Rwalk.Encode(b, 1, new[] { new Qid(QidType.Dir, 0, 1) }));
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(7), 17);
        Assert.Equal(P9DecodeError.TooManyQids, Rwalk.TryDecode(f, out _));
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(7), 2); // claims 2, carries 1
        Assert.Equal(P9DecodeError.Truncated, Rwalk.TryDecode(f, out _));
    }

    [Theory]
    [InlineData(100u)]
    [InlineData(0xFFFFFFFFu)]
    [InlineData(0x80000000u)]
    public void Data_count_past_the_end(uint count)
    {
        var f = Frame(b => Twrite.Encode(b, 1, 1, 0, "ab"u8));
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(19), count);
        Assert.Equal(P9DecodeError.CountPastEnd, Twrite.TryDecode(f, out _));
        var r = Frame(b => Rread.Encode(b, 1, "ab"u8));
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(7), count);
        Assert.Equal(P9DecodeError.CountPastEnd, Rread.TryDecode(r, out _));
    }

    [Fact]
    public void Data_count_short_of_the_end_is_trailing_bytes()
    {
        var f = Frame(b => Twrite.Encode(b, 1, 1, 0, "abcd"u8));
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(19), 2);
        Assert.Equal(P9DecodeError.TrailingBytes, Twrite.TryDecode(f, out _));
    }

    [Fact]
    public void Count_exceeding_msize_minus_header()
    {
        const uint msize = 8192;
        Assert.Equal(P9DecodeError.None, Tread.TryDecode(Frame(b => Tread.Encode(b, 1, 1, 0, msize - 11)), out var ok));
        Assert.Equal(P9DecodeError.None, ok.CheckCount(msize));
        Assert.Equal(P9DecodeError.None, Tread.TryDecode(Frame(b => Tread.Encode(b, 1, 1, 0, msize - 10)), out var big));
        Assert.Equal(P9DecodeError.CountTooLarge, big.CheckCount(msize));
        Assert.Equal(P9DecodeError.None, Treaddir.TryDecode(Frame(b => Treaddir.Encode(b, 1, 1, 0, uint.MaxValue)), out var rd));
        Assert.Equal(P9DecodeError.CountTooLarge, rd.CheckCount(msize));
        Assert.Equal(LinuxErrno.EMSGSIZE, P9DecodeError.CountTooLarge.ToErrno());
    }

    [Theory]
    [InlineData((byte)0)]
    [InlineData((byte)10)]
    [InlineData((byte)28)]
    [InlineData((byte)99)]
    [InlineData((byte)128)]
    [InlineData((byte)255)]
    public void Unknown_type_byte(byte type)
    {
        var f = TestData.Hex("07000000 00 0100");
        f[4] = type;
        Assert.Equal(P9DecodeError.UnknownType, FrameHeader.TryReadRequest(f, out var h));
        Assert.Equal(1, h.Tag);
        Assert.Equal(P9DecodeError.UnknownType, FrameHeader.TryReadReply(f, out _));
        Assert.Equal(LinuxErrno.EOPNOTSUPP, P9DecodeError.UnknownType.ToErrno());
        Assert.StartsWith("<bad frame: unknown message type", P9Trace.Format(f));
    }

    [Theory]
    [InlineData(P9MessageType.Rversion)]
    [InlineData(P9MessageType.Rlerror)]
    [InlineData(P9MessageType.Rwalk)]
    [InlineData(P9MessageType.Rerror)]
    public void Reply_type_where_a_request_is_expected(P9MessageType type)
    {
        var f = TestData.Hex("07000000 00 0100");
        f[4] = (byte)type;
        Assert.Equal(P9DecodeError.NotARequest, FrameHeader.TryReadRequest(f, out _));
        Assert.True(P9DecodeError.NotARequest.IsFatal());
    }

    [Fact]
    public void Request_type_where_a_reply_is_expected()
    {
        Assert.Equal(P9DecodeError.NotAReply, FrameHeader.TryReadReply(TestData.Hex("07000000 78 0100"), out _));
    }

    [Theory]
    [InlineData(P9MessageType.Topen)]
    [InlineData(P9MessageType.Tcreate)]
    [InlineData(P9MessageType.Tstat)]
    [InlineData(P9MessageType.Twstat)]
    [InlineData(P9MessageType.Tlerror)]
    public void Dropped_9P2000_requests_are_recognised(P9MessageType type)
    {
        var f = TestData.Hex("07000000 00 0200");
        f[4] = (byte)type;
        Assert.Equal(P9DecodeError.UnsupportedMessage, FrameHeader.TryReadRequest(f, out var h));
        Assert.Equal(type, h.Type);
        Assert.False(P9DecodeError.UnsupportedMessage.IsFatal());
        Assert.Equal(LinuxErrno.EOPNOTSUPP, P9DecodeError.UnsupportedMessage.ToErrno());
    }

    [Fact]
    public void Every_request_type_is_classified_as_a_request()
    {
        foreach (var t in new[] { P9MessageType.Tversion, P9MessageType.Tauth, P9MessageType.Tattach, P9MessageType.Tflush,
            P9MessageType.Twalk, P9MessageType.Tread, P9MessageType.Twrite, P9MessageType.Tclunk, P9MessageType.Tremove,
            P9MessageType.Tstatfs, P9MessageType.Tlopen, P9MessageType.Tlcreate, P9MessageType.Tsymlink, P9MessageType.Tmknod,
            P9MessageType.Trename, P9MessageType.Treadlink, P9MessageType.Tgetattr, P9MessageType.Tsetattr,
            P9MessageType.Txattrwalk, P9MessageType.Txattrcreate, P9MessageType.Treaddir, P9MessageType.Tfsync,
            P9MessageType.Tlock, P9MessageType.Tgetlock, P9MessageType.Tlink, P9MessageType.Tmkdir, P9MessageType.Trenameat,
            P9MessageType.Tunlinkat })
        {
            Assert.Equal(P9TypeClass.Request, P9MessageTypes.Classify((byte)t));
            Assert.Equal(P9TypeClass.Reply, P9MessageTypes.Classify((byte)(t + 1)));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("0500")]
    [InlineData("06000000 78 0100")]
    [InlineData("00000000 78 0100")]
    public void Frame_too_short(string hex)
    {
        Assert.Equal(P9DecodeError.FrameTooShort, FrameHeader.TryRead(TestData.Hex(hex), out _));
        Assert.Equal(P9DecodeError.FrameTooShort, Tclunk.TryDecode(TestData.Hex(hex), out _));
        Assert.StartsWith("<bad frame:", P9Trace.Format(TestData.Hex(hex)));
    }

    [Fact]
    public void Size_field_not_matching_the_frame()
    {
        var f = Frame(b => Tclunk.Encode(b, 1, 7));
        BinaryPrimitives.WriteUInt32LittleEndian(f, 12);
        Assert.Equal(P9DecodeError.SizeMismatch, Tclunk.TryDecode(f, out _));
        Assert.True(P9DecodeError.SizeMismatch.IsFatal());
    }

    [Fact]
    public void Wrong_decoder_for_the_frame()
    {
        var f = Frame(b => Tclunk.Encode(b, 1, 7));
        Assert.Equal(P9DecodeError.WrongType, Tremove.TryDecode(f, out _));
    }

    [Fact]
    public void Dirent_reader_stops_on_a_truncated_entry()
    {
        var data = new byte[64];
        var w = new DirentWriter(data);
        Assert.True(w.TryAppend(new Qid(QidType.File, 0, 9), 1, DirentType.Regular, "abc"u8));
        var reader = new DirentReader(data.AsSpan(0, w.Written - 1));
        Assert.False(reader.TryRead(out _));
        Assert.Equal(P9DecodeError.StringPastEnd, reader.Error);
        reader = new DirentReader(data.AsSpan(0, 10));
        Assert.False(reader.TryRead(out _));
        Assert.Equal(P9DecodeError.Truncated, reader.Error);
    }

    [Fact]
    public void Every_error_has_an_errno_and_a_reason()
    {
        foreach (var e in Enum.GetValues<P9DecodeError>().Where(e => e != P9DecodeError.None))
        {
            Assert.InRange(e.ToErrno(), 1u, 4095u);
            Assert.NotEqual("unknown decode error", e.Describe());
        }
    }

    private static readonly P9MessageType[] KnownTypes = Enum.GetValues<P9MessageType>();

    [Fact]
    public void Every_prefix_of_valid_frames_is_a_typed_error()
    {
        var b = new byte[512];
        var frames = new List<byte[]>
        {
            b.AsSpan(0, Tattach.Encode(b, 1, 0, P9Constants.NoFid, "root"u8, "/srv"u8, 0)).ToArray(),
            b.AsSpan(0, Twalk.Encode(b, 1, 0, 1, new[] { "a", "bb", "ccc" })).ToArray(),
            b.AsSpan(0, Rwalk.Encode(b, 1, new[] { new Qid(QidType.Dir, 1, 2), new Qid(QidType.File, 3, 4) })).ToArray(),
            b.AsSpan(0, Tlock.Encode(b, 1, 2, LockType.WriteLock, LockFlags.Block, 0, 0, 42, "host"u8)).ToArray(),
            b.AsSpan(0, Rgetlock.Encode(b, 1, LockType.Unlock, 0, 0, 0, "host"u8)).ToArray(),
            b.AsSpan(0, Trenameat.Encode(b, 1, 2, "old"u8, 3, "new"u8)).ToArray(),
            b.AsSpan(0, Twrite.Encode(b, 1, 2, 0, "data"u8)).ToArray(),
            b.AsSpan(0, Rgetattr.Encode(b, 1, GetattrMask.All, default, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)).ToArray(),
        };
        foreach (var frame in frames)
        {
            Assert.DoesNotContain("<bad", P9Trace.Format(frame), StringComparison.Ordinal);
            for (int len = 7; len < frame.Length; len++)
            {
                var prefix = frame.AsSpan(0, len).ToArray();
                BinaryPrimitives.WriteUInt32LittleEndian(prefix, (uint)len);
                Assert.StartsWith("<bad frame:", P9Trace.Format(prefix));
            }
        }
    }

    [Fact]
    public void Random_garbage_never_throws()
    {
        var rng = new Random(1234);
        var buf = new byte[64];
        for (int i = 0; i < 20000; i++)
        {
            int n = rng.Next(0, buf.Length);
            rng.NextBytes(buf);
            var f = buf.AsSpan(0, n);
            if (n >= 4 && rng.Next(2) == 0)
                BinaryPrimitives.WriteUInt32LittleEndian(f, (uint)n);
            if (n >= 5)
                f[4] = rng.Next(4) == 0 ? f[4] : (byte)KnownTypes[rng.Next(KnownTypes.Length)];
            _ = P9Trace.Format(f); // exercises every decoder through the dispatch
        }
    }
}

public class VersionStringTests
{
    [Theory]
    [InlineData("9P2000.L", true)]
    [InlineData("9P2000.L.Google.7", true)]
    [InlineData("9P2000.u", false)]
    [InlineData("9P2000", false)]
    [InlineData("9P2000.Lx", false)]
    [InlineData("garbage", false)]
    [InlineData("", false)]
    public void Dot_L_detection(string version, bool expected) =>
        Assert.Equal(expected, Tversion.IsDotL(System.Text.Encoding.UTF8.GetBytes(version)));
}
