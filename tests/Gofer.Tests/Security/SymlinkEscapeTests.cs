using System.Runtime.InteropServices;
using System.Text;
using Gofer.Tests.Server;
using P9.Protocol.Wire;
using static Gofer.Tests.Server.P9TestClient;

namespace Gofer.Tests.Security;

/// <summary>
/// No escape by symlink (CVE-2016-9602): symlinks pointing outside can be created, read and listed, but no walk,
/// open, create, setattr, xattr, link or rename ever follows them — also not when a directory is swapped for such a
/// symlink while requests go through its name.
/// </summary>
public sealed partial class SymlinkEscapeTests
{
    [Fact]
    public void OutsideSymlinks_CanBeCreatedReadAndListed_TargetStoredVerbatim()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        string abs = x.Outside + "/" + ConfinedExport.CanaryFileName;
        string rel = "../../" + x.OutsideName + "/" + ConfinedExport.CanaryDirName;
        c.WalkOk(0, 1, "dir");
        AssertType(P9MessageType.Rsymlink, c.Rpc((w, t) => Tsymlink.Encode(w, t, 1, "made_abs", abs, 0)));
        AssertType(P9MessageType.Rsymlink, c.Rpc((w, t) => Tsymlink.Encode(w, t, 1, "made_rel", rel, 0)));
        Assert.Equal(abs, new FileInfo(x.Server.Path_("dir/made_abs")).LinkTarget);
        Assert.Equal(rel, new FileInfo(x.Server.Path_("dir/made_rel")).LinkTarget);

        foreach (var (name, target) in new[] { ("made_abs", abs), ("made_rel", rel) })
        {
            var q = c.WalkOk(1, 2, name);
            Assert.Equal(QidType.Symlink, q[0].Type);
            var r = c.Rpc((w, t) => Treadlink.Encode(w, t, 2));
            AssertType(P9MessageType.Rreadlink, r);
            Rreadlink.TryDecode(r, out var m);
            Assert.Equal(target, Encoding.UTF8.GetString(m.Target));
            c.Clunk(2);
        }
        c.LopenOk(1, LopenFlags.ReadOnly);
        var listed = c.ReadDirAll(1).Select(e => (e.Name, e.Qid.Type)).ToArray();
        Assert.Contains(("made_abs", QidType.Symlink), listed);
        x.AssertOutsideUntouched();
    }

    [Theory]
    [InlineData("escape_abs")]
    [InlineData("escape_rel")]
    [InlineData("escape_file")]
    [InlineData("escape_etc")]
    public void NoOperation_FollowsAnOutsideSymlink(string link)
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();

        // Walk: the link itself is reached (a symlink qid); nothing past it.
        var q = c.WalkOk(0, 1, link);
        Assert.Equal(QidType.Symlink, q[0].Type);
        foreach (var next in new[] { ConfinedExport.CanaryFileName, ConfinedExport.CanaryDirName, "passwd", "..", "." })
        {
            var r = x.Clean(c.Walk(0, 2, link, next));
            Assert.True(TypeOf(r) == P9MessageType.Rlerror || (TypeOf(r) == P9MessageType.Rwalk && Rwalk.TryDecode(r, out var w) == P9DecodeError.None && w.Qids.Count == 1),
                $"walk {link}/{next}: {P9Trace.Format(r)}");
            AssertError(LinuxErrno.EBADF, c.GetAttr(2));
        }

        // Open for read, write, as a directory: never through the link.
        foreach (var flags in new[] { LopenFlags.ReadOnly, LopenFlags.ReadWrite, LopenFlags.WriteOnly | LopenFlags.Trunc, LopenFlags.ReadOnly | LopenFlags.Directory })
        {
            c.WalkOk(0, 3, link);
            AssertType(P9MessageType.Rlerror, x.Clean(c.Lopen(3, flags)));
            AssertError(LinuxErrno.EBADF, x.Clean(c.Rpc((w, t) => Tread.Encode(w, t, 3, 0, 4096))));
            AssertError(LinuxErrno.EBADF, x.Clean(c.Rpc((w, t) => Treaddir.Encode(w, t, 3, 0, 4096))));
            c.Clunk(3);
        }

        // The link fid used as a directory: create family, link, rename, unlink — all refused.
        c.WalkOk(0, 4, "file");
        AssertType(P9MessageType.Rlerror, c.Lcreate(1, "pwn-create", LopenFlags.ReadWrite));
        AssertType(P9MessageType.Rlerror, c.Rpc((w, t) => Tmkdir.Encode(w, t, 1, "pwn-mkdir", 0x1ED, 0)));
        AssertType(P9MessageType.Rlerror, c.Rpc((w, t) => Tsymlink.Encode(w, t, 1, "pwn-symlink", "x", 0)));
        AssertType(P9MessageType.Rlerror, c.Rpc((w, t) => Tmknod.Encode(w, t, 1, "pwn-mknod", 0x8000 | 0x1A4, 0, 0, 0)));
        AssertType(P9MessageType.Rlerror, c.Rpc((w, t) => Tlink.Encode(w, t, 1, 4, "pwn-link")));
        AssertType(P9MessageType.Rlerror, c.Rpc((w, t) => Trename.Encode(w, t, 4, 1, "pwn-rename")));
        AssertType(P9MessageType.Rlerror, c.Rpc((w, t) => Trenameat.Encode(w, t, 0, "file", 1, "pwn-renameat")));
        AssertType(P9MessageType.Rlerror, c.Rpc((w, t) => Trenameat.Encode(w, t, 1, ConfinedExport.CanaryFileName, 0, "stolen")));
        AssertType(P9MessageType.Rlerror, c.Rpc((w, t) => Tunlinkat.Encode(w, t, 1, ConfinedExport.CanaryFileName, 0)));
        AssertType(P9MessageType.Rlerror, c.Rpc((w, t) => Tunlinkat.Encode(w, t, 1, ConfinedExport.CanaryDirName, 0x200)));

        // Setattr on the link: mode and size refused; times/owner, if allowed, act on the link itself (never the target).
        AssertType(P9MessageType.Rlerror, c.Rpc((w, t) => Tsetattr.Encode(w, t, 1, SetattrMask.Mode, 0x1FF, 0, 0, 0, 0, 0, 0, 0)));
        AssertType(P9MessageType.Rlerror, c.Rpc((w, t) => Tsetattr.Encode(w, t, 1, SetattrMask.Size, 0, 0, 0, 0, 0, 0, 0, 0)));
        x.Clean(c.Rpc((w, t) => Tsetattr.Encode(w, t, 1, SetattrMask.Atime | SetattrMask.Mtime | SetattrMask.AtimeSet | SetattrMask.MtimeSet, 0, 0, 0, 0, 1, 0, 1, 0)));
        x.Clean(c.Rpc((w, t) => Tsetattr.Encode(w, t, 1, SetattrMask.Uid | SetattrMask.Gid, 0, 12345, 12345, 0, 0, 0, 0, 0)));

        // xattrs on the link: never the target's. A user.* set on a symlink is refused by Linux; reading finds nothing.
        x.Clean(c.Rpc((w, t) => Txattrwalk.Encode(w, t, 1, 5, "")));
        c.Clunk(5);
        c.WalkOk(0, 6, link);
        if (TypeOf(c.Rpc((w, t) => Txattrcreate.Encode(w, t, 6, "user.pwn", 3, 0))) == P9MessageType.Rxattrcreate)
        {
            x.Clean(c.Rpc((w, t) => Twrite.Encode(w, t, 6, 0, "pwn"u8)));
            x.Clean(c.Clunk(6)); // the set happens here; EPERM expected for user.* on a symlink
        }

        // getattr of the link describes the link (a symlink), never the target.
        Assert.Equal(0xA000u, c.GetAttrOf(c.GetAttr(1)).Mode & 0xF000);
        // statfs through it is allowed (fstatfs of the O_PATH fd — the export's file system, not the target's).
        x.Clean(c.Rpc((w, t) => Tstatfs.Encode(w, t, 1)));
        Raw.AssertAlive(c);
        x.AssertOutsideUntouched();
        Assert.DoesNotContain(ConfinedExport.Entries(x.Root), e => Path.GetFileName(e).StartsWith("pwn", StringComparison.Ordinal));
    }

    [Fact]
    public void HardLinkToAnOutsideFile_IsImpossible()
    {
        // Tlink takes a fid, not a path: the only fid that "names" the outside file is the symlink's own, and linking
        // it links the symlink. The canary's link count must not move.
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        c.WalkOk(0, 1, "escape_file");
        c.WalkOk(0, 2, "dir");
        var r = c.Rpc((w, t) => Tlink.Encode(w, t, 2, 1, "hardlink"));
        if (TypeOf(r) == P9MessageType.Rlink)
            Assert.NotNull(new FileInfo(x.Server.Path_("dir/hardlink")).LinkTarget); // a second name for the symlink
        x.AssertOutsideUntouched();
    }

    // ---- the swap race ---------------------------------------------------------------------------------------

    private const uint RenameExchange = 2;

    [LibraryImport("libc", EntryPoint = "renameat2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    private const int AtFdCwd = -100;

    /// <summary>
    /// One thread atomically exchanges a real directory and a symlink to the outside (renameat2 RENAME_EXCHANGE)
    /// as fast as it can, while the client walks, opens, reads, lists and creates through that name. Whatever the
    /// interleaving, no reply may carry canary data and nothing may appear outside.
    /// </summary>
    [Fact]
    public async Task SwapRace_DirectoryAndOutsideSymlink_NeverLetsARequestOut()
    {
        const int Iterations = 2000;
        using var x = new ConfinedExport();
        string real = x.Server.Path_("swap"), link = x.Server.Path_("swaplink");
        Directory.CreateDirectory(real);
        File.WriteAllText(Path.Combine(real, "secret"), "inside\n");
        File.WriteAllText(Path.Combine(real, ConfinedExport.CanaryFileName), "inside too\n");
        File.CreateSymbolicLink(link, x.Outside);
        using var c = x.Connect().Start();

        using var stop = new CancellationTokenSource();
        long swaps = 0;
        var swapper = Task.Factory.StartNew(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (renameat2(AtFdCwd, real, AtFdCwd, link, RenameExchange) != 0)
                    throw new InvalidOperationException("renameat2 failed: errno " + Marshal.GetLastPInvokeError());
                swaps++;
            }
        }, TaskCreationOptions.LongRunning);

        int created = 0;
        try
        {
            for (int i = 0; i < Iterations && !swapper.IsCompleted; i++)
            {
                string leaf = (i & 1) == 0 ? "secret" : ConfinedExport.CanaryFileName;
                // Walk two components through the swapped name, then open and read what was reached.
                var r = x.Clean(c.Walk(0, 1, "swap", leaf));
                if (TypeOf(r) == P9MessageType.Rwalk && Rwalk.TryDecode(r, out var w) == P9DecodeError.None && w.Qids.Count == 2)
                {
                    if (TypeOf(x.Clean(c.Lopen(1, LopenFlags.ReadOnly))) == P9MessageType.Rlopen)
                    {
                        x.Clean(c.Rpc((w2, t) => Tread.Encode(w2, t, 1, 0, 4096)));
                    }
                    c.Clunk(1);
                }

                // Walk the name alone, then list and create through whatever it was.
                r = x.Clean(c.Walk(0, 2, "swap"));
                if (TypeOf(r) == P9MessageType.Rwalk)
                {
                    c.WalkOk(2, 3);
                    if (TypeOf(x.Clean(c.Lopen(3, LopenFlags.ReadOnly | LopenFlags.Directory))) == P9MessageType.Rlopen)
                        x.Clean(c.Rpc((w2, t) => Treaddir.Encode(w2, t, 3, 0, 8192)));
                    c.Clunk(3);
                    if (TypeOf(x.Clean(c.Lcreate(2, "pwn-" + i, LopenFlags.ReadWrite))) == P9MessageType.Rlcreate)
                        created++;
                    c.Clunk(2);
                }

                // Rename and unlink through the name: the canary must not move.
                x.Clean(c.Rpc((w2, t) => Trenameat.Encode(w2, t, 0, "swap/" + leaf, 0, "pwn-stolen")));
            }
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAny(swapper, Task.Delay(TimeSpan.FromSeconds(60)));
        }
        Assert.True(swapper.IsCompletedSuccessfully, swapper.Exception?.ToString());
        Assert.True(swaps > 0);
        Raw.AssertAlive(c);
        x.AssertOutsideUntouched();
        // Everything created went into the real directory (under either name), inside the export.
        Assert.Equal(created, ConfinedExport.Entries(x.Root).Count(e => Path.GetFileName(e).StartsWith("pwn-", StringComparison.Ordinal)));
    }
}
