using Gofer.Tests.Server;
using P9.Protocol.Wire;
using static Gofer.Tests.Server.P9TestClient;

namespace Gofer.Tests.Security;

/// <summary>
/// A read-only export (`--readonly`) refuses every mutation with EROFS — create family, link, rename, unlink, remove,
/// setattr, xattr set/remove, write locks, and opens/creates with any write access or O_TRUNC — and the tree is
/// byte-for-byte unchanged afterwards. Reads keep working.
/// </summary>
public sealed class ReadOnlyTests
{
    private const uint SIfReg = 0x8000, SIfIfo = 0x1000;

    [Fact]
    public void EveryMutation_IsErofs_AndNothingChanges()
    {
        using var x = new ConfinedExport(readOnly: true);
        File.WriteAllText(x.Server.Path_("dir/victim"), "keep me\n");
        var before = Tree(x.Root);
        using var c = x.Connect().Start();
        var failures = new List<string>();
        void Expect(string what, byte[] r)
        {
            if (ErrnoOf(r) != LinuxErrno.EROFS)
                failures.Add($"{what}: expected EROFS, got {P9Trace.Format(r)}");
        }

        c.WalkOk(0, 1, "dir");
        c.WalkOk(0, 2, "file");
        // A refused Tlcreate leaves fid 1 the (unopened) directory it was.
        Expect("Tlcreate", c.Lcreate(1, "new", LopenFlags.ReadWrite));
        Expect("Tlcreate O_RDONLY", c.Lcreate(1, "new-ro", LopenFlags.ReadOnly));
        Expect("Tmkdir", c.Rpc((w, t) => Tmkdir.Encode(w, t, 1, "newdir", 0x1ED, 0)));
        Expect("Tsymlink", c.Rpc((w, t) => Tsymlink.Encode(w, t, 1, "newlink", "file", 0)));
        Expect("Tmknod reg", c.Rpc((w, t) => Tmknod.Encode(w, t, 1, "newnod", SIfReg | 0x1A4, 0, 0, 0)));
        Expect("Tmknod fifo", c.Rpc((w, t) => Tmknod.Encode(w, t, 1, "newfifo", SIfIfo | 0x1A4, 0, 0, 0)));
        Expect("Tlink", c.Rpc((w, t) => Tlink.Encode(w, t, 1, 2, "hard")));
        Expect("Trename", c.Rpc((w, t) => Trename.Encode(w, t, 2, 1, "moved")));
        Expect("Trenameat", c.Rpc((w, t) => Trenameat.Encode(w, t, 0, "file", 1, "moved")));
        Expect("Trenameat same dir", c.Rpc((w, t) => Trenameat.Encode(w, t, 1, "victim", 1, "victim2")));
        Expect("Tunlinkat file", c.Rpc((w, t) => Tunlinkat.Encode(w, t, 1, "victim", 0)));
        Expect("Tunlinkat dir", c.Rpc((w, t) => Tunlinkat.Encode(w, t, 1, "sub", 0x200)));
        c.WalkOk(0, 3, "dir", "victim");
        Expect("Tremove", c.Rpc((w, t) => Tremove.Encode(w, t, 3)));
        Expect("Tsetattr mode", c.Rpc((w, t) => Tsetattr.Encode(w, t, 2, SetattrMask.Mode, 0x1FF, 0, 0, 0, 0, 0, 0, 0)));
        Expect("Tsetattr owner", c.Rpc((w, t) => Tsetattr.Encode(w, t, 2, SetattrMask.Uid | SetattrMask.Gid, 0, 1, 1, 0, 0, 0, 0, 0)));
        Expect("Tsetattr size", c.Rpc((w, t) => Tsetattr.Encode(w, t, 2, SetattrMask.Size, 0, 0, 0, 0, 0, 0, 0, 0)));
        Expect("Tsetattr times", c.Rpc((w, t) => Tsetattr.Encode(w, t, 2, SetattrMask.Atime | SetattrMask.Mtime, 0, 0, 0, 0, 0, 0, 0, 0)));
        Expect("Tsetattr set times", c.Rpc((w, t) => Tsetattr.Encode(w, t, 2, SetattrMask.Mtime | SetattrMask.MtimeSet, 0, 0, 0, 0, 0, 0, 7, 0)));
        Expect("Txattrcreate set", c.Rpc((w, t) => Txattrcreate.Encode(w, t, 2, "user.x", 1, 0)));
        Expect("Txattrcreate remove (size 0)", c.Rpc((w, t) => Txattrcreate.Encode(w, t, 2, "user.x", 0, 0)));
        Expect("Txattrcreate on dir", c.Rpc((w, t) => Txattrcreate.Encode(w, t, 1, "user.x", 1, 0)));

        foreach (var flags in new[]
        {
            LopenFlags.WriteOnly, LopenFlags.ReadWrite, LopenFlags.ReadOnly | LopenFlags.Trunc,
            LopenFlags.WriteOnly | LopenFlags.Append, LopenFlags.ReadWrite | LopenFlags.Create,
        })
        {
            c.WalkOk(0, 4, "file");
            Expect("Tlopen " + flags, c.Lopen(4, flags));
            c.Clunk(4);
            c.WalkOk(0, 5, "dir");
            Expect("Tlcreate " + flags, c.Lcreate(5, "new-" + (uint)flags, flags));
            c.Clunk(5);
        }

        // Reading is fine, and a write lock on a read-only open is EROFS (a read lock is allowed).
        c.WalkOk(0, 6, "file");
        c.LopenOk(6, LopenFlags.ReadOnly);
        Assert.Equal("inside\n"u8.ToArray(), c.ReadBytes(6, 0, 100));
        // Twrite on a fid that could only be opened read-only: refused (EBADF — it was not opened for writing — or EROFS).
        Assert.Contains(ErrnoOf(c.Rpc((w, t) => Twrite.Encode(w, t, 6, 0, "x"u8))), new[] { LinuxErrno.EBADF, LinuxErrno.EROFS });
        Expect("Tlock write", c.Rpc((w, t) => Tlock.Encode(w, t, 6, LockType.WriteLock, LockFlags.None, 0, 0, 1, "c"u8)));
        var rl = c.Rpc((w, t) => Tlock.Encode(w, t, 6, LockType.ReadLock, LockFlags.None, 0, 0, 1, "c"u8));
        AssertType(P9MessageType.Rlock, rl);
        // A directory xattr read works; the tree is unchanged.
        c.WalkOk(0, 7, "dir");
        AssertType(P9MessageType.Rxattrwalk, c.Rpc((w, t) => Txattrwalk.Encode(w, t, 7, 8, "")));

        Raw.AssertAlive(c);
        Assert.Equal(before, Tree(x.Root));
        x.AssertOutsideUntouched();
        Assert.Empty(failures);
    }

    private static string[] Tree(string root) =>
        ConfinedExport.Entries(root).Order()
            .Select(p =>
            {
                var fi = new FileInfo(p);
                return $"{Path.GetRelativePath(root, p)} {fi.Attributes} {fi.UnixFileMode} {fi.LastWriteTimeUtc.Ticks} " +
                       (fi.Attributes.HasFlag(FileAttributes.Directory) || fi.LinkTarget is not null ? "" : Convert.ToHexString(File.ReadAllBytes(p)));
            })
            .ToArray();
}
