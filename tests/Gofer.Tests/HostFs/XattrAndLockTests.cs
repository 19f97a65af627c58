using System.Text;
using Gofer.HostFs;
using Gofer.HostFs.Native;

namespace Gofer.Tests.HostFs;

public sealed class XattrAndLockTests : HostFsTestBase
{
    [Fact]
    public void Xattrs_report_exact_sizes_and_respect_the_caps()
    {
        File.WriteAllText(InExport("f"), "x");
        using HostNode f = WalkOk(Root, "f"); // an O_PATH node: xattrs go through /proc/self/fd/N
        byte[] value = new byte[1000];
        new Random(7).NextBytes(value);
        Assert.Equal(Errno.None, f.SetXattr(U("user.one"), value, 0));
        Assert.Equal(Errno.None, f.SetXattr(U("user.two"), "2"u8, P9L.XattrCreate));
        Assert.Equal(Errno.EEXIST, f.SetXattr(U("user.two"), "2"u8, P9L.XattrCreate));
        Assert.Equal(Errno.ENODATA, f.SetXattr(U("user.three"), "3"u8, P9L.XattrReplace));
        Assert.Equal(Errno.EINVAL, f.SetXattr(U("user.x"), "3"u8, 4));
        Assert.Equal(Errno.EINVAL, f.SetXattr(U("user.x"), "3"u8, 3));

        // Size probe, exact read, too-small buffer.
        Assert.Equal(Errno.None, f.GetXattr(U("user.one"), default, out int size));
        Assert.Equal(1000, size);
        byte[] got = new byte[size];
        Assert.Equal(Errno.None, f.GetXattr(U("user.one"), got, out size));
        Assert.Equal(value, got);
        Assert.Equal(Errno.ERANGE, f.GetXattr(U("user.one"), new byte[999], out _));
        Assert.Equal(Errno.ENODATA, f.GetXattr(U("user.none"), default, out _));

        // List: NUL-separated, exact size.
        Assert.Equal(Errno.None, f.ListXattr(default, out size));
        byte[] list = new byte[size];
        Assert.Equal(Errno.None, f.ListXattr(list, out int listed));
        Assert.Equal(size, listed);
        string[] names = Encoding.UTF8.GetString(list).Split('\0', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("user.one", names);
        Assert.Contains("user.two", names);

        // Caps: value > 64 KiB → E2BIG before reaching the host; bad names.
        Assert.Equal(Errno.E2BIG, f.SetXattr(U("user.big"), new byte[64 * 1024 + 1], 0));
        Assert.Equal(Errno.ERANGE, f.SetXattr(U("user." + new string('n', 251)), "v"u8, 0));
        Assert.Equal(Errno.EINVAL, f.SetXattr(U(""), "v"u8, 0));
        Assert.Equal(Errno.EINVAL, f.GetXattr(U("user.a\0b"), default, out _));

        // Remove.
        Assert.Equal(Errno.None, f.RemoveXattr(U("user.one")));
        Assert.Equal(Errno.ENODATA, f.GetXattr(U("user.one"), default, out _));
        Assert.Equal(Errno.ENODATA, f.RemoveXattr(U("user.one")));

        // Works on directories and on open-unlinked files too.
        using HostNode root = Root.Clone();
        Assert.Equal(Errno.None, root.SetXattr(U("user.dir"), "d"u8, 0));
        Assert.Equal(Errno.None, Root.UnlinkAt(U("f"), 0));
        Assert.Equal(Errno.None, f.GetXattr(U("user.two"), new byte[4], out size));
        Assert.Equal(1, size);
        AssertCanaryIntact();
    }

    [Fact]
    public void Ofd_locks_taken_by_two_nodes_see_each_other_and_never_block()
    {
        File.WriteAllText(InExport("f"), "0123456789");
        using HostNode a = OpenOk(Root, P9L.ORdWr, "f");
        using HostNode b = OpenOk(Root, P9L.ORdWr, "f");

        Assert.Equal(Errno.None, a.Lock(P9L.LockTypeWrite, 0, 0, 5, out LockStatus s));
        Assert.Equal(LockStatus.Success, s);
        Assert.Equal(Errno.None, b.Lock(P9L.LockTypeWrite, 0, 2, 1, out s));
        Assert.Equal(LockStatus.Blocked, s);
        // BLOCK asked: still answered at once with BLOCKED (the client retries).
        Assert.Equal(Errno.None, b.Lock(P9L.LockTypeRead, P9L.LockFlagsBlock, 0, 0, out s));
        Assert.Equal(LockStatus.Blocked, s);
        // Non-overlapping range is fine.
        Assert.Equal(Errno.None, b.Lock(P9L.LockTypeWrite, 0, 5, 5, out s));
        Assert.Equal(LockStatus.Success, s);

        byte type = P9L.LockTypeWrite;
        ulong start = 0, length = 0;
        Assert.Equal(Errno.None, b.GetLock(ref type, ref start, ref length, out int pid));
        Assert.Equal((P9L.LockTypeWrite, 0ul, 5ul, -1), (type, start, length, pid));

        // The holder sees no conflict with itself.
        type = P9L.LockTypeWrite;
        start = 0;
        length = 5;
        Assert.Equal(Errno.None, a.GetLock(ref type, ref start, ref length, out _));
        Assert.Equal(P9L.LockTypeUnlock, type);

        Assert.Equal(Errno.None, a.Lock(P9L.LockTypeUnlock, 0, 0, 0, out s));
        Assert.Equal(Errno.None, b.Lock(P9L.LockTypeWrite, 0, 0, 0, out s));
        Assert.Equal(LockStatus.Success, s);

        // Closing the holder (clunk) releases its locks.
        b.Dispose();
        Assert.Equal(Errno.None, a.Lock(P9L.LockTypeWrite, 0, 0, 0, out s));
        Assert.Equal(LockStatus.Success, s);
    }

    [Fact]
    public void Lock_rejects_bad_input()
    {
        File.WriteAllText(InExport("f"), "x");
        using HostNode walked = WalkOk(Root, "f");
        Assert.Equal(Errno.EBADF, walked.Lock(P9L.LockTypeRead, 0, 0, 0, out _));
        using HostNode f = OpenOk(Root, P9L.ORdOnly, "f");
        Assert.Equal(Errno.EINVAL, f.Lock(3, 0, 0, 0, out _));
        Assert.Equal(Errno.EINVAL, f.Lock(P9L.LockTypeRead, 4, 0, 0, out _));
        Assert.Equal(Errno.EINVAL, f.Lock(P9L.LockTypeRead, 0, ulong.MaxValue, 0, out _));
        Assert.Equal(Errno.EINVAL, f.Lock(P9L.LockTypeRead, 0, long.MaxValue, 2, out _));
        // A write lock needs a descriptor opened for write (host rule).
        Assert.Equal(Errno.EBADF, f.Lock(P9L.LockTypeWrite, 0, 0, 0, out _));
    }
}
