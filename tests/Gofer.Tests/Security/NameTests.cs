using System.Text;
using Gofer.Tests.Server;
using P9.Protocol.Wire;
using static Gofer.Tests.Server.P9TestClient;

namespace Gofer.Tests.Security;

/// <summary>
/// No escape by name (CVE-2016-7116, GHSA-2gv2-cffp-j227): every name-carrying message refuses "", ".", "..", names
/// with '/' or NUL and names over 255 bytes with EINVAL, and none of them reaches outside the export or creates
/// anything. Each hostile name is crafted to succeed if the check were missing (an existing "dir/sub", an absolute
/// path into the canary directory, "../outside").
/// </summary>
public sealed class NameTests
{
    private const uint SIfReg = 0x8000;

    /// <summary>(label, bytes) of every hostile name for a message in which "." and ".." mean nothing.</summary>
    private static List<(string Label, byte[] Name)> BadNames(ConfinedExport x) =>
    [
        ("empty", []),
        (".", "."u8.ToArray()),
        ("..", ".."u8.ToArray()),
        ("a/b existing", "dir/sub"u8.ToArray()),
        ("absolute into outside", Encoding.UTF8.GetBytes(x.Outside + "/pwn-abs")),
        ("absolute canary", Encoding.UTF8.GetBytes(x.Outside + "/" + ConfinedExport.CanaryFileName)),
        ("../outside", Encoding.UTF8.GetBytes("../" + x.OutsideName + "/pwn-rel")),
        ("../canary", Encoding.UTF8.GetBytes("../" + x.OutsideName + "/" + ConfinedExport.CanaryFileName)),
        ("trailing slash", "pwnslash/"u8.ToArray()),
        ("NUL inside", "pwn\0evil"u8.ToArray()),
        ("NUL cut to existing", "file\0"u8.ToArray()),
        ("256 bytes", Encoding.ASCII.GetBytes(new string('p', 256))),
        ("65535 bytes", Encoding.ASCII.GetBytes(new string('p', 65535))),
    ];

    public static TheoryData<string> Messages() =>
    [
        "Tlcreate", "Tmkdir", "Tsymlink", "Tmknod", "Tlink", "Trename", "Trenameat.old", "Trenameat.new", "Tunlinkat",
    ];

    [Theory]
    [MemberData(nameof(Messages))]
    public void EntryName_IsRefusedWithEinval_InEveryMessage(string message)
    {
        using var x = new ConfinedExport(new Gofer.Server.ServerOptions { MaxMsize = 256 * 1024 });
        using var c = x.Connect().Start(256 * 1024);
        var before = ConfinedExport.Entries(x.Root).Order().ToArray();
        var failures = new List<string>();
        uint next = 10;
        foreach (var (label, name) in BadNames(x))
        {
            // Fresh fids each time: a directory fid (Tlcreate turns it into the file), and a file fid.
            uint dir = next++, file = next++;
            c.WalkOk(0, dir);
            c.WalkOk(0, file, "file");
            var r = x.Clean(Send(c, message, name, dir, file));
            if (ErrnoOf(r) != LinuxErrno.EINVAL)
                failures.Add($"{message} name '{label}': expected EINVAL, got {P9Trace.Format(r)}");
        }
        Raw.AssertAlive(c);
        x.AssertOutsideUntouched();
        var after = ConfinedExport.Entries(x.Root).Order().ToArray();
        Assert.Equal(before, after);
        Assert.Empty(failures);
    }

    private static byte[] Send(P9TestClient c, string message, byte[] name, uint dir, uint file) => message switch
    {
        "Tlcreate" => c.Rpc((w, t) => Tlcreate.Encode(w, t, dir, name, LopenFlags.ReadWrite, 0x1A4, 0)),
        "Tmkdir" => c.Rpc((w, t) => Tmkdir.Encode(w, t, dir, name, 0x1ED, 0)),
        "Tsymlink" => c.Rpc((w, t) => Tsymlink.Encode(w, t, dir, name, "target"u8, 0)),
        "Tmknod" => c.Rpc((w, t) => Tmknod.Encode(w, t, dir, name, SIfReg | 0x1A4, 0, 0, 0)),
        "Tlink" => c.Rpc((w, t) => Tlink.Encode(w, t, dir, file, name)),
        "Trename" => c.Rpc((w, t) => Trename.Encode(w, t, file, dir, name)),
        "Trenameat.old" => c.Rpc((w, t) => Trenameat.Encode(w, t, dir, name, dir, "pwn-renamed"u8)),
        "Trenameat.new" => c.Rpc((w, t) => Trenameat.Encode(w, t, dir, "file"u8, dir, name)),
        "Tunlinkat" => c.Rpc((w, t) => Tunlinkat.Encode(w, t, dir, name, 0)),
        _ => throw new ArgumentOutOfRangeException(nameof(message)),
    };

    [Fact]
    public void Tunlinkat_AsDirectory_WithHostileNames_RemovesNothing()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        foreach (var (_, name) in BadNames(x).Where(n => n.Name.Length < 60000))
            AssertError(LinuxErrno.EINVAL, x.Clean(c.Rpc((w, t) => Tunlinkat.Encode(w, t, 0, name, 0x200))));
        Assert.True(Directory.Exists(x.Server.Path_("dir/sub")));
        x.AssertOutsideUntouched();
    }

    [Fact]
    public void Twalk_HostileNames_AreRefused_DotsClampAtRoot()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        var root = c.GetAttrOf(c.GetAttr(0)).Qid;
        foreach (var (label, name) in BadNames(x).Where(n => n.Name.Length < 60000 && n.Label is not ("." or "..")))
        {
            var r = x.Clean(Raw.WalkRpc(c, 0, 1, name));
            if (ErrnoOf(r) != LinuxErrno.EINVAL)
                throw new Xunit.Sdk.XunitException($"walk '{label}': expected EINVAL, got {P9Trace.Format(r)}");
            AssertError(LinuxErrno.EBADF, c.GetAttr(1)); // newfid never created
        }

        // "." is a clone, ".." clamps at the root however many times it is repeated, in one walk or across walks.
        var dots = c.WalkOk(0, 2, "..", ".", "..", "..", "..", "..", "..", "..", "..", "..", "..", "..", "..", "..", "..", "..");
        Assert.All(dots, q => Assert.Equal(root, q));
        c.WalkOk(2, 3, "..");
        Assert.Equal(root, c.GetAttrOf(c.GetAttr(3)).Qid);
        // dir/sub/../../.. is the root, not its parent.
        var q = c.WalkOk(0, 4, "dir", "sub", "..", "..", "..", "..");
        Assert.Equal(root, q[^1]);
        // After clamping, no name can be used to reach a sibling of the export.
        // ("..", sibling): ".." succeeds (the root), the sibling is not found — a partial walk, newfid not created.
        var partial = x.Clean(c.Walk(0, 5, "..", x.OutsideName));
        AssertType(P9MessageType.Rwalk, partial);
        Rwalk.TryDecode(partial, out var pw);
        Assert.Equal(1, pw.Qids.Count);
        AssertError(LinuxErrno.EBADF, c.GetAttr(5));
        c.Lopen(4, LopenFlags.ReadOnly);
        var names = c.ReadDirAll(4).Select(e => e.Name).ToArray();
        Assert.Contains("escape_abs", names);
        Assert.DoesNotContain(x.OutsideName, names);
        x.AssertOutsideUntouched();
    }

    [Fact]
    public void Tattach_Aname_CannotClimbOrFollow()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect();
        c.Version();
        var root = c.Attach(0);
        Assert.Equal(root, c.Attach(1, "/../../.."));
        Assert.Equal(root, c.Attach(2, "/dir/sub/../../.."));
        foreach (var aname in new[] { "/escape_abs/" + ConfinedExport.CanaryFileName, "/escape_rel/canary-dir", "/../" + x.OutsideName, "/escape_etc/passwd" })
        {
            var r = x.Clean(c.Rpc((w, t) => Tattach.Encode(w, t, 3, P9Constants.NoFid, "root", aname, 0)));
            AssertType(P9MessageType.Rlerror, r);
        }
        x.AssertOutsideUntouched();
    }

    [Fact]
    public void XattrNames_EmptyNulOverlong_AreRefused()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        c.WalkOk(0, 1, "file");
        // Txattrwalk: "" means "list" and is legal; NUL → EINVAL; over 255 → ERANGE (what getxattr(2) says) or EINVAL.
        AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Txattrwalk.Encode(w, t, 1, 2, "user.a\0b"u8)));
        var r = c.Rpc((w, t) => Txattrwalk.Encode(w, t, 1, 2, Encoding.ASCII.GetBytes("user." + new string('x', 300))));
        Assert.Contains(ErrnoOf(r), new[] { LinuxErrno.ERANGE, LinuxErrno.EINVAL });
        AssertError(LinuxErrno.EBADF, c.GetAttr(2));

        foreach (var name in new[] { ""u8.ToArray(), "user.a\0b"u8.ToArray(), Encoding.ASCII.GetBytes("user." + new string('x', 300)) })
        {
            c.WalkOk(0, 3, "file");
            r = c.Rpc((w, t) => Txattrcreate.Encode(w, t, 3, name, 4, 0));
            Assert.Contains(ErrnoOf(r), new[] { LinuxErrno.EINVAL, LinuxErrno.ERANGE });
            c.Clunk(3);
        }
        Raw.AssertAlive(c);
    }
}
