using System.Net.Sockets;
using System.Runtime.InteropServices;
using Gofer.Tests.Server;
using P9.Protocol.Wire;
using static Gofer.Tests.Server.P9TestClient;

namespace Gofer.Tests.Security;

/// <summary>
/// Special files (CVE-2023-2861): device nodes are never minted nor opened, FIFOs never block the server, sockets are
/// not connected to; the errnos are the ones src/Gofer/HostFs/README.md promises the sandbox.
/// </summary>
public sealed partial class SpecialFileTests
{
    private const uint SIfChr = 0x2000, SIfBlk = 0x6000, SIfIfo = 0x1000, SIfSock = 0xC000;

    [LibraryImport("libc", EntryPoint = "mknod", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int mknod(string path, uint mode, ulong dev);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint geteuid();

    [Fact]
    public void Tmknod_DeviceNodes_AreRefused_EvenForRoot()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        // /dev/null (1,3) and /dev/sda-like (8,0): EPERM whatever the gofer's privileges.
        AssertError(LinuxErrno.EPERM, c.Rpc((w, t) => Tmknod.Encode(w, t, 0, "chr", SIfChr | 0x1B6, 1, 3, 0)));
        AssertError(LinuxErrno.EPERM, c.Rpc((w, t) => Tmknod.Encode(w, t, 0, "blk", SIfBlk | 0x1B6, 8, 0, 0)));
        // A type that is no file type at all.
        AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Tmknod.Encode(w, t, 0, "bogus", 0xF000 | 0x1B6, 0, 0, 0)));
        Assert.False(File.Exists(x.Server.Path_("chr")) || File.Exists(x.Server.Path_("blk")) || File.Exists(x.Server.Path_("bogus")));
        // Tlcreate's mode with device type bits creates a plain file at most, never a device.
        var r = c.Lcreate(0, "lc-chr", LopenFlags.ReadWrite, SIfChr | 0x1B6);
        if (TypeOf(r) == P9MessageType.Rlcreate)
            Assert.True(IsRegularMode(x.Server.Path_("lc-chr")), "Tlcreate made something other than a regular file");
    }

    [LibraryImport("libc", EntryPoint = "lstat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int lstat(string path, ref byte buf);

    private static uint ModeOf(string path)
    {
        Span<byte> buf = stackalloc byte[256];
        Assert.Equal(0, lstat(path, ref MemoryMarshal.GetReference(buf)));
        // st_mode: offset 24 on x86-64 (after dev, ino, nlink), 16 on arm64 (after dev, ino).
        int at = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 16 : 24;
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(buf[at..]);
    }

    private static bool IsRegularMode(string path) => (ModeOf(path) & 0xF000) == 0x8000;

    [RootFact]
    public void HostDeviceNode_InTheExport_IsWalkableButNeverOpened()
    {
        using var x = new ConfinedExport();
        // A host-made /dev/null twin and a /dev/zero twin: if either were opened, a read would answer (zeros for zero).
        Assert.Equal(0, mknod(x.Server.Path_("devnull"), SIfChr | 0x1B6, (1 << 8) | 3));
        Assert.Equal(0, mknod(x.Server.Path_("devzero"), SIfChr | 0x1B6, (1 << 8) | 5));
        using var c = x.Connect().Start();
        foreach (var name in new[] { "devnull", "devzero" })
        {
            c.WalkOk(0, 1, name);
            var a = c.GetAttrOf(c.GetAttr(1));
            Assert.Equal(SIfChr, a.Mode & 0xF000);
            foreach (var flags in new[] { LopenFlags.ReadOnly, LopenFlags.WriteOnly, LopenFlags.ReadWrite, LopenFlags.ReadOnly | LopenFlags.NonBlock })
                AssertError(LinuxErrno.EPERM, c.Lopen(1, flags));
            AssertError(LinuxErrno.EBADF, c.Rpc((w, t) => Tread.Encode(w, t, 1, 0, 16)));
            // Truncating a device through setattr is refused too (it would need an open).
            AssertType(P9MessageType.Rlerror, c.Rpc((w, t) => Tsetattr.Encode(w, t, 1, SetattrMask.Size, 0, 0, 0, 0, 0, 0, 0, 0)));
            c.Clunk(1);
        }
        // Listing shows them; unlinking them is allowed (it does not open them).
        c.WalkOk(0, 2);
        c.LopenOk(2, LopenFlags.ReadOnly);
        Assert.Contains("devnull", c.ReadDirAll(2).Select(e => e.Name));
        AssertType(P9MessageType.Runlinkat, c.Rpc((w, t) => Tunlinkat.Encode(w, t, 0, "devzero", 0)));
    }

    [Fact]
    public void Fifo_OpenIsRefusedPromptly_AndTheServerKeepsServing()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        // Made by the client (Tmknod allows FIFOs) and by the host.
        AssertType(P9MessageType.Rmknod, c.Rpc((w, t) => Tmknod.Encode(w, t, 0, "fifo", SIfIfo | 0x1B6, 0, 0, 0)));
        Assert.Equal(0, mknod(x.Server.Path_("hostfifo"), SIfIfo | 0x1B6, 0));
        foreach (var name in new[] { "fifo", "hostfifo" })
        {
            // With no writer, open(O_RDONLY) would block forever, open(O_WRONLY|O_NONBLOCK) ENXIO: the server must answer
            // at once (the client's 60 s receive timeout turns a hang into a failure).
            foreach (var flags in new[] { LopenFlags.ReadOnly, LopenFlags.WriteOnly, LopenFlags.ReadWrite })
            {
                c.WalkOk(0, 1, name);
                AssertError(LinuxErrno.EPERM, c.Lopen(1, flags));
                c.Clunk(1);
            }
        }
        // Pipelined: a FIFO open between two getattrs is answered in order, and the connection lives.
        c.WalkOk(0, 3, "fifo");
        c.Send(w => Tlopen.Encode(w, 900, 3, LopenFlags.ReadOnly));
        c.Send(w => Tgetattr.Encode(w, 901, 0, GetattrMask.Basic));
        var r1 = c.ReceiveFrame();
        var r2 = c.ReceiveFrame();
        Assert.Equal(new ushort[] { 900, 901 }, new[] { TagOf(r1), TagOf(r2) }.Order());
        Raw.AssertAlive(c);
    }

    [Fact]
    public void Socket_InTheExport_IsNeverConnected()
    {
        using var x = new ConfinedExport();
        string path = x.Server.Path_("sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        using var c = x.Connect().Start();
        c.WalkOk(0, 1, "sock");
        Assert.Equal(SIfSock, c.GetAttrOf(c.GetAttr(1)).Mode & 0xF000);
        foreach (var flags in new[] { LopenFlags.ReadOnly, LopenFlags.ReadWrite })
            AssertError(LinuxErrno.ENXIO, c.Lopen(1, flags));
        // Nothing connected to the host process behind the socket.
        listener.Blocking = false;
        Assert.Throws<SocketException>(() => listener.Accept());
        // Tmknod of a socket is allowed (a name only) and is equally never opened.
        AssertType(P9MessageType.Rmknod, c.Rpc((w, t) => Tmknod.Encode(w, t, 0, "sock2", SIfSock | 0x1B6, 0, 0, 0)));
        c.WalkOk(0, 2, "sock2");
        AssertError(LinuxErrno.ENXIO, c.Lopen(2, LopenFlags.ReadOnly));
    }

    [Fact]
    public void Symlink_Open_IsEloop()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        c.WalkOk(0, 1, "escape_file");
        AssertError(LinuxErrno.ELOOP, x.Clean(c.Lopen(1, LopenFlags.ReadOnly)));
    }
}

/// <summary>A fact skipped, saying why, when the tests do not run as root (mknod of a device needs CAP_MKNOD).</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (SpecialFileTests.geteuid() != 0)
            Skip = "needs root: creating a device node on the host needs CAP_MKNOD";
    }
}
