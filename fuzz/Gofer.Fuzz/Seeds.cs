using System.Buffers;
using P9.Protocol.Wire;

namespace Gofer.Fuzz;

/// <summary>
/// Hand-made seeds built with the codec's encoders, so every 9P2000.L message type is in the corpus even where no
/// recorded client sends it. Requests are written as sessions against <see cref="ExportTree"/> (names that exist,
/// fids that were granted) so the session target gets past Tversion/Tattach into every handler.
/// </summary>
public static class Seeds
{
    /// <summary>Writes the seed files of a target into <paramref name="directory"/>; returns how many.</summary>
    public static int Write(string target, string directory)
    {
        Directory.CreateDirectory(directory);
        var (clientRequests, clientReplies) = ClientTarget.RecordSeed();
        List<(string Name, byte[] Bytes)> files = target switch
        {
            "codec" => [.. Requests(), .. Replies(), ("p9client-requests", clientRequests), ("p9client-replies", clientReplies)],
            "session" => [.. Requests(), ("p9client-requests", clientRequests)],
            "client" => [("p9client-replies", clientReplies)],
            _ => throw new ArgumentException("unknown target " + target, nameof(target)),
        };
        foreach (var (name, bytes) in files)
            File.WriteAllBytes(Path.Combine(directory, "seed-" + name), bytes);
        return files.Count;
    }

    private static byte[] Build(Action<ArrayBufferWriter<byte>> frames)
    {
        var w = new ArrayBufferWriter<byte>();
        frames(w);
        return w.WrittenSpan.ToArray();
    }

    private static void Start(ArrayBufferWriter<byte> w, uint msize = 65536)
    {
        Tversion.Encode(w, P9Constants.NoTag, msize, "9P2000.L");
        Tattach.Encode(w, 1, 0, P9Constants.NoFid, "root", "", 0);
    }

    /// <summary>Request sessions: each exercises a family of handlers; together they send every T-message.</summary>
    public static List<(string Name, byte[] Bytes)> Requests() =>
    [
        ("read-file", Build(w =>
        {
            Start(w);
            Twalk.Encode(w, 2, 0, 1, ["hello.txt"]);
            Tgetattr.Encode(w, 3, 1, GetattrMask.All);
            Tlopen.Encode(w, 4, 1, LopenFlags.ReadOnly);
            Tread.Encode(w, 5, 1, 0, 4096);
            Tread.Encode(w, 6, 1, 1 << 40, 100);
            Tclunk.Encode(w, 7, 1);
            Tstatfs.Encode(w, 8, 0);
            Tclunk.Encode(w, 9, 0);
        })),
        ("readdir", Build(w =>
        {
            Start(w);
            Twalk.Encode(w, 2, 0, 1, ["sub"]);
            Tlopen.Encode(w, 3, 1, LopenFlags.ReadOnly | LopenFlags.Directory);
            Treaddir.Encode(w, 4, 1, 0, 8192);
            Treaddir.Encode(w, 5, 1, 2, 8192);
            Twalk.Encode(w, 6, 0, 2, []);
            Tlopen.Encode(w, 7, 2, LopenFlags.ReadOnly);
            Treaddir.Encode(w, 8, 2, 0, 200);
            Tclunk.Encode(w, 9, 1);
            Tclunk.Encode(w, 10, 2);
        })),
        ("create-write", Build(w =>
        {
            Start(w);
            Twalk.Encode(w, 2, 0, 1, []);
            Tlcreate.Encode(w, 3, 1, "new.txt", LopenFlags.ReadWrite | LopenFlags.Create, 0x1A4, 0);
            Twrite.Encode(w, 4, 1, 0, "some bytes\n"u8);
            Twrite.Encode(w, 5, 1, 100000, "far\n"u8);
            Tfsync.Encode(w, 6, 1, 0);
            Tsetattr.Encode(w, 7, 1, SetattrMask.Size | SetattrMask.Mode, 0x180, 0, 0, 5, 0, 0, 0, 0);
            Tsetattr.Encode(w, 8, 1, SetattrMask.Atime | SetattrMask.Mtime | SetattrMask.AtimeSet | SetattrMask.MtimeSet, 0, 0, 0, 0, 1, 2, 3, 4);
            Tlock.Encode(w, 9, 1, LockType.WriteLock, LockFlags.None, 0, 10, 42, "fuzz");
            Tgetlock.Encode(w, 10, 1, LockType.ReadLock, 0, 0, 43, "other");
            Tlock.Encode(w, 11, 1, LockType.Unlock, LockFlags.None, 0, 0, 42, "fuzz");
            Tclunk.Encode(w, 12, 1);
        })),
        ("namespace", Build(w =>
        {
            Start(w);
            Tmkdir.Encode(w, 2, 0, "dir", 0x1ED, 0);
            Tsymlink.Encode(w, 3, 0, "sl", "hello.txt", 0);
            Twalk.Encode(w, 4, 0, 1, ["sl"]);
            Treadlink.Encode(w, 5, 1);
            Twalk.Encode(w, 6, 0, 2, ["hello.txt"]);
            Tlink.Encode(w, 7, 0, 2, "hard");
            Tmknod.Encode(w, 8, 0, "fifo2", 0x11A4, 0, 0, 0);
            Tmknod.Encode(w, 9, 0, "dev", 0x21A4, 1, 3, 0);
            Trename.Encode(w, 10, 2, 0, "renamed.txt");
            Trenameat.Encode(w, 11, 0, "hard", 0, "hard2");
            Tunlinkat.Encode(w, 12, 0, "hard2", 0);
            Tunlinkat.Encode(w, 13, 0, "dir", 0x200);
            Twalk.Encode(w, 14, 0, 3, ["sub", "empty"]);
            Tremove.Encode(w, 15, 3);
            Tclunk.Encode(w, 16, 1);
            Tclunk.Encode(w, 17, 2);
        })),
        ("xattr", Build(w =>
        {
            Start(w);
            Twalk.Encode(w, 2, 0, 1, ["hello.txt"]);
            Txattrcreate.Encode(w, 3, 1, "user.fuzz", 5, 0);
            Twrite.Encode(w, 4, 1, 0, "value"u8);
            Tclunk.Encode(w, 5, 1);
            Txattrwalk.Encode(w, 6, 0, 2, "");
            Tread.Encode(w, 7, 2, 0, 4096);
            Tclunk.Encode(w, 8, 2);
            Twalk.Encode(w, 9, 0, 3, ["hello.txt"]);
            Txattrwalk.Encode(w, 10, 3, 4, "user.fuzz");
            Tread.Encode(w, 11, 4, 0, 4096);
            Tclunk.Encode(w, 12, 4);
        })),
        ("escapes", Build(w =>
        {
            Start(w);
            Twalk.Encode(w, 2, 0, 1, ["..", "..", "canary.txt"]);
            Twalk.Encode(w, 3, 0, 2, ["link-out"]);
            Tlopen.Encode(w, 4, 2, LopenFlags.ReadWrite);
            Twalk.Encode(w, 5, 0, 3, ["link-abs"]);
            Tsetattr.Encode(w, 6, 3, SetattrMask.Mode | SetattrMask.Atime | SetattrMask.Mtime | SetattrMask.AtimeSet | SetattrMask.MtimeSet, 0x1FF, 0, 0, 0, 1, 1, 1, 1);
            Twalk.Encode(w, 7, 0, 4, ["fifo"]);
            Tlopen.Encode(w, 8, 4, LopenFlags.ReadOnly);
            Tlcreate.Encode(w, 9, 0, "../escape", LopenFlags.ReadWrite | LopenFlags.Create, 0x1A4, 0);
            Tsymlink.Encode(w, 10, 0, "up", "..", 0);
            Twalk.Encode(w, 11, 0, 5, ["up", "canary.txt"]);
            Tlink.Encode(w, 12, 0, 3, "canary-link");
            Trenameat.Encode(w, 13, 0, "hello.txt", 0, "../moved");
            Tattach.Encode(w, 14, 6, P9Constants.NoFid, "root", "../", 0);
        })),
        ("session-rules", Build(w =>
        {
            Tread.Encode(w, 1, 0, 0, 10);                        // before Tversion
            Start(w);
            Tauth.Encode(w, 2, 9, "root", "", 0);
            Tattach.Encode(w, 3, 0, P9Constants.NoFid, "root", "", 0);   // fid in use
            Tflush.Encode(w, 4, 3);
            Tflush.Encode(w, 5, 5);
            Tread.Encode(w, 6, 0, 0, 1 << 30);                   // count above msize
            Twalk.Encode(w, 7, 77, 78, ["x"]);                    // unknown fid
            Tclunk.Encode(w, 8, 77);
            Tversion.Encode(w, 9, 8192, "9P2000.u");
            Tattach.Encode(w, 10, 1, P9Constants.NoFid, "root", "", 0);
            Tversion.Encode(w, P9Constants.NoTag, 4096, "9P2000.L");
            Tattach.Encode(w, 11, 1, P9Constants.NoFid, "root", "", 0);
            Tclunk.Encode(w, 12, 1);
        })),
    ];

    private static readonly Qid SomeQid = new(QidType.Dir, 1, 0x1234);

    /// <summary>One frame per R-message (plus Rlerror), for the codec's reply decoders.</summary>
    public static List<(string Name, byte[] Bytes)> Replies() =>
    [
        ("r-all", Build(w =>
        {
            Rversion.Encode(w, P9Constants.NoTag, 65536, "9P2000.L");
            Rauth.Encode(w, 1, SomeQid);
            Rattach.Encode(w, 2, SomeQid);
            Rlerror.Encode(w, 3, LinuxErrno.ENOENT);
            Rflush.Encode(w, 4);
            Rwalk.Encode(w, 5, [SomeQid, new Qid(QidType.File, 0, 7)]);
            Rread.Encode(w, 6, "data"u8);
            Rwrite.Encode(w, 7, 4);
            Rclunk.Encode(w, 8);
            Rremove.Encode(w, 9);
            Rstatfs.Encode(w, 10, 0x01021997, 4096, 100, 50, 40, 1000, 900, 1, 255);
            Rlopen.Encode(w, 11, SomeQid, 0);
            Rlcreate.Encode(w, 12, SomeQid, 0);
            Rsymlink.Encode(w, 13, SomeQid);
            Rmknod.Encode(w, 14, SomeQid);
            Rrename.Encode(w, 15);
            Rreadlink.Encode(w, 16, "target");
            Rgetattr.Encode(w, 17, GetattrMask.Basic, SomeQid, 0x41ED, 0, 0, 2, 0, 4096, 4096, 8, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0);
            Rsetattr.Encode(w, 18);
            Rxattrwalk.Encode(w, 19, 5);
            Rxattrcreate.Encode(w, 20);
            Rreaddir.Encode(w, 21, DirentBytes());
            Rfsync.Encode(w, 22);
            Rlock.Encode(w, 23, LockStatus.Success);
            Rgetlock.Encode(w, 24, LockType.Unlock, 0, 0, 0, "");
            Rlink.Encode(w, 25);
            Rmkdir.Encode(w, 26, SomeQid);
            Rrenameat.Encode(w, 27);
            Runlinkat.Encode(w, 28);
        })),
    ];

    // qid[13] offset[8] type[1] name[s], twice.
    private static byte[] DirentBytes()
    {
        var w = new List<byte>();
        void Entry(byte type, ulong offset, string name)
        {
            w.Add((byte)QidType.File);
            w.AddRange(BitConverter.GetBytes(0u));
            w.AddRange(BitConverter.GetBytes(0x55UL));
            w.AddRange(BitConverter.GetBytes(offset));
            w.Add(type);
            w.AddRange(BitConverter.GetBytes((ushort)name.Length));
            w.AddRange(System.Text.Encoding.ASCII.GetBytes(name));
        }
        Entry(4, 1, ".");
        Entry(8, 2, "hello.txt");
        return [.. w];
    }
}
