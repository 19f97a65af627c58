using P9.Protocol.Wire;

namespace P9.Protocol.Tests.Wire;

public class TraceTests
{
    private static string Trace(Func<byte[], int> encode)
    {
        var b = new byte[256];
        return P9Trace.Format(b.AsSpan(0, encode(b)));
    }

    [Fact]
    public void Twalk_line() =>
        Assert.Equal("Twalk tag 1 fid 0 newfid 1 nwname 2 'usr' 'bin'", Trace(b => Twalk.Encode(b, 1, 0, 1, new[] { "usr", "bin" })));

    [Fact]
    public void Rlerror_line() => Assert.Equal("Rlerror tag 3 ecode 2", Trace(b => Rlerror.Encode(b, 3, LinuxErrno.ENOENT)));

    [Fact]
    public void Rread_line_shows_count_not_data()
    {
        var data = new byte[512];
        var b = new byte[600];
        int n = Rread.Encode(b, 4, data);
        Assert.Equal("Rread tag 4 count 512", P9Trace.Format(b.AsSpan(0, n)));
    }

    [Fact]
    public void Lopen_flags_hex_mode_octal_qid_path_version_type()
    {
        Assert.Equal("Tlopen tag 2 fid 1 flags 0x8002", Trace(b => Tlopen.Encode(b, 2, 1, LopenFlags.ReadWrite | LopenFlags.LargeFile)));
        Assert.Equal("Tmkdir tag 2 dfid 1 name 'd' mode 0755 gid 0", Trace(b => Tmkdir.Encode(b, 2, 1, "d"u8, 0x1ED, 0)));
        Assert.Equal("Rlopen tag 2 qid (000000000000002a 3 80) iounit 0", Trace(b => Rlopen.Encode(b, 2, new Qid(QidType.Dir, 3, 42), 0)));
    }

    [Fact]
    public void Control_bytes_in_names_stay_on_one_line() =>
        Assert.Equal("Tunlinkat tag 1 dirfd 2 name 'a\\x0ab' flags 0x0", Trace(b => Tunlinkat.Encode(b, 1, 2, "a\nb"u8, 0)));

    [Fact]
    public void Malformed_frames_render_as_bad_frame()
    {
        Assert.Equal("<bad frame: nwname greater than 16>", P9Trace.Format(TestData.Hex("11000000 6E 0100 00000000 01000000 1100")));
        Assert.Equal("<bad frame: message type not part of 9P2000.L (type Topen tag 1)>", P9Trace.Format(TestData.Hex("08000000 70 0100 00")));
    }
}
