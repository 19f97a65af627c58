using System.Buffers;
using Gofer.Fuzz;
using Gofer.Tests.Recording;
using P9.Protocol.Framing;
using P9.Protocol.Wire;

namespace Gofer.Tests.Fuzz;

/// <summary><c>Gofer.Fuzz split</c>: pieces start at quiet points, carry the mount prefix, rewrite the aname, cut
/// Twrite data and keep the replies of exactly their requests.</summary>
public class CaptureSplitterTests
{
    private static readonly Qid Dir = new(QidType.Dir, 0, 1);

    private static byte[] F(Action<ArrayBufferWriter<byte>> encode)
    {
        var w = new ArrayBufferWriter<byte>();
        encode(w);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>A kernel-like session: mount, then two "checks" that each walk from the attach fid, work and clunk.</summary>
    private static List<(bool FromClient, byte[] Frame)> Session() =>
    [
        (true, F(w => Tversion.Encode(w, P9Constants.NoTag, 8192, "9P2000.L"))),
        (false, F(w => Rversion.Encode(w, P9Constants.NoTag, 8192, "9P2000.L"))),
        (true, F(w => Tattach.Encode(w, 0, 0, P9Constants.NoFid, "root", "/srv/export", 0))),
        (false, F(w => Rattach.Encode(w, 0, Dir))),
        (true, F(w => Tmkdir.Encode(w, 0, 0, "work", 0x41ED, 0))), // 2: the prefix ends after this
        (false, F(w => Rmkdir.Encode(w, 0, Dir))),
        (true, F(w => Twalk.Encode(w, 0, 0, 1, ["work"]))), // 3: quiet point before the first naming of "one"
        (false, F(w => Rwalk.Encode(w, 0, [Dir]))),
        (true, F(w => Tmkdir.Encode(w, 0, 1, "one", 0x41ED, 0))), // 4: names "one", fid 1 live: not quiet
        (false, F(w => Rmkdir.Encode(w, 0, Dir))),
        (true, F(w => Twrite.Encode(w, 0, 1, 0, new byte[100]))),
        (false, F(w => Rwrite.Encode(w, 0, 100))),
        (true, F(w => Tclunk.Encode(w, 0, 1))),
        (false, F(w => Rclunk.Encode(w, 0))),
        (true, F(w => Twalk.Encode(w, 0, 0, 2, ["work"]))), // 7: quiet, before "two"
        (false, F(w => Rwalk.Encode(w, 0, [Dir]))),
        (true, F(w => Tmkdir.Encode(w, 0, 2, "two", 0x41ED, 0))),
        (false, F(w => Rmkdir.Encode(w, 0, Dir))),
        (true, F(w => Tclunk.Encode(w, 0, 2))),
        (false, F(w => Rclunk.Encode(w, 0))),
        (true, F(w => Tclunk.Encode(w, 0, 0))),
        (false, F(w => Rclunk.Encode(w, 0))),
    ];

    private static List<byte[]> Frames(byte[] stream)
    {
        var frames = new List<byte[]>();
        ReadOnlySpan<byte> rest = stream;
        while (P9FrameScanner.Scan(rest, int.MaxValue, out int length, out _) == FrameScanStatus.Frame)
        {
            frames.Add(rest[..length].ToArray());
            rest = rest[length..];
        }
        Assert.True(rest.IsEmpty);
        return frames;
    }

    [Fact]
    public void Pieces_start_at_quiet_points_with_the_mount_prefix()
    {
        using var dir = new TempDir();
        var session = Session();
        string capture = Recordings.RecordOne(Path.Combine(dir.Path, "rec"), session);
        string outDir = Path.Combine(dir.Path, "out");

        int rc = CaptureSplitter.Command([capture, outDir, "one", "mount=^..one", "one=one..two", "end=last:two..$", "--max-write", "8"]);

        Assert.Equal(0, rc);
        var requests = session.Where(s => s.FromClient).Select(s => s.Frame).ToList();
        var replies = session.Where(s => !s.FromClient).Select(s => s.Frame).ToList();
        byte[] attachRewritten = F(w => Tattach.Encode(w, 0, 0, P9Constants.NoFid, "root", "", 0));

        // mount: the three requests before the quiet point at the walk, aname rewritten.
        var mount = Frames(File.ReadAllBytes(Path.Combine(outDir, "mount")));
        Assert.Equal([requests[0], attachRewritten, requests[2]], mount);
        Assert.Equal(replies.Take(3), Frames(File.ReadAllBytes(Path.Combine(outDir, "mount.replies"))));

        // one: prefix, then from the walk (not from the Tmkdir naming "one", where fid 1 was live) to the walk before "two".
        var one = Frames(File.ReadAllBytes(Path.Combine(outDir, "one")));
        Assert.Equal(7, one.Count);
        Assert.Equal(mount, one.Take(3));
        Assert.Equal(requests[3], one[3]);
        Assert.Equal(requests[4], one[4]);
        Assert.Equal(P9DecodeError.None, Twrite.TryDecode(one[5], out var write));
        Assert.Equal(8, write.Count);
        Assert.Equal(requests[6], one[6]);
        Assert.Equal(replies.Take(7), Frames(File.ReadAllBytes(Path.Combine(outDir, "one.replies"))));

        // end: prefix, then the last naming of "two" back to its quiet point, to the end.
        var end = Frames(File.ReadAllBytes(Path.Combine(outDir, "end")));
        Assert.Equal([.. mount, .. requests.Skip(7)], end);
    }

    [Fact]
    public void Pieces_are_cut_to_max_bytes_after_the_prefix()
    {
        using var dir = new TempDir();
        string capture = Recordings.RecordOne(Path.Combine(dir.Path, "rec"), Session());
        string outDir = Path.Combine(dir.Path, "out");

        // Prefix: Tversion 21 + Tattach 27 (aname rewritten) + Tmkdir 25 bytes; then Twalk 23, Tmkdir 24.
        Assert.Equal(0, CaptureSplitter.Command([capture, outDir, "one", "one=one..two", "--max-bytes", "110"]));

        byte[] piece = File.ReadAllBytes(Path.Combine(outDir, "one"));
        Assert.Equal(96, piece.Length);
        Assert.Equal(4, Frames(piece).Count);
        // The replies of exactly the kept requests: Rversion, Rattach, Rmkdir, Rwalk.
        Assert.Equal([.. Session().Where(s => !s.FromClient).Take(4).Select(s => s.Frame)], Frames(File.ReadAllBytes(Path.Combine(outDir, "one.replies"))));
    }
}
