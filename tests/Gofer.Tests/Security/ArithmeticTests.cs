using System.Buffers.Binary;
using Gofer.Server;
using Gofer.Tests.Server;
using P9.Protocol.Wire;
using static Gofer.Tests.Server.P9TestClient;

namespace Gofer.Tests.Security;

/// <summary>
/// Offset and count arithmetic is 64-bit and overflow-checked (diod 2025 count+IOHDRSZ overflow, QEMU CVE-2016-9104):
/// offsets near 2^64, counts near 2^32, lying count fields, wild xattr offsets, lock ranges near 2^64. Every case is a
/// typed answer and the connection lives on.
/// </summary>
public sealed class ArithmeticTests
{
    private const ulong OffMax = long.MaxValue; // 2^63 − 1, the largest off_t

    [Fact]
    public void ReadWrite_OffsetsNear2To64_CountsNear2To32()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        c.WalkOk(0, 1, "file");
        c.LopenOk(1, LopenFlags.ReadWrite);
        uint payloadMax = c.Msize - 11; // size[4] Rread tag[2] count[4] data[count]

        foreach (var offset in new[] { ulong.MaxValue, ulong.MaxValue - 1, OffMax + 1 })
        {
            AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Tread.Encode(w, t, 1, offset, uint.MaxValue)));
            AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Tread.Encode(w, t, 1, offset, 1)));
            var wr = c.Rpc((w, t) => Twrite.Encode(w, t, 1, offset, "x"u8));
            Assert.Contains(ErrnoOf(wr), new[] { LinuxErrno.EFBIG, LinuxErrno.EINVAL });
        }
        // offset + count overflows off_t.
        AssertError(LinuxErrno.EFBIG, c.Rpc((w, t) => Twrite.Encode(w, t, 1, OffMax, "xyz"u8)));
        AssertError(LinuxErrno.EFBIG, c.Rpc((w, t) => Twrite.Encode(w, t, 1, OffMax - 1, "xyz"u8)));
        // A read at the largest offset: end of file, or EINVAL as pread(2) says when offset + count passes 2^63 − 1.
        var edge = c.Rpc((w, t) => Tread.Encode(w, t, 1, OffMax, uint.MaxValue));
        Assert.True(ErrnoOf(edge) == LinuxErrno.EINVAL || (Rread.TryDecode(edge, out var e) == P9DecodeError.None && e.Data.IsEmpty), P9Trace.Format(edge));
        // Counts are clamped to what msize allows.
        Assert.Equal("inside\n"u8.ToArray(), c.ReadBytes(1, 0, uint.MaxValue));
        Assert.Equal("inside\n"u8.ToArray(), c.ReadBytes(1, 0, uint.MaxValue - 23));
        Assert.Empty(c.ReadBytes(1, 0, 0));
        Assert.True(c.ReadBytes(1, 0, payloadMax).Length <= payloadMax);
        Assert.Equal(7, new FileInfo(x.Server.Path_("file")).Length); // nothing was written anywhere
        Raw.AssertAlive(c);
    }

    [Theory]
    [InlineData(uint.MaxValue)]
    [InlineData(uint.MaxValue - 22)] // count + header wraps 32 bits
    [InlineData(1000u)]
    public void Twrite_LyingCountField_IsAnErrorNotAnOverread(uint count)
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        c.WalkOk(0, 1, "file");
        c.LopenOk(1, LopenFlags.ReadWrite);
        // size[4] Twrite tag[2] fid[4] offset[8] count[4] data[count] — with 10 bytes of data, whatever count says.
        var body = new byte[4 + 8 + 4 + 10];
        BinaryPrimitives.WriteUInt32LittleEndian(body, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(12), count);
        ushort tag = c.NextTag();
        c.SendRaw(Raw.Frame(P9MessageType.Twrite, tag, body));
        var r = c.Receive();
        if (r is not null)
        {
            AssertType(P9MessageType.Rlerror, r);
            Raw.AssertAlive(c);
        }
        Assert.Equal("inside\n", File.ReadAllText(x.Server.Path_("file")));
        using var fresh = x.Connect().Start();
        Raw.AssertAlive(fresh);
    }

    [Fact]
    public void Treaddir_WildOffsetsAndCounts()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        c.WalkOk(0, 1);
        c.LopenOk(1, LopenFlags.ReadOnly);
        foreach (var offset in new[] { ulong.MaxValue, OffMax, OffMax + 1, 0xDEADBEEFCAFEUL })
        {
            var r = x.Clean(c.Rpc((w, t) => Treaddir.Encode(w, t, 1, offset, uint.MaxValue)));
            Assert.True(TypeOf(r) is P9MessageType.Rreaddir or P9MessageType.Rlerror, P9Trace.Format(r));
            Assert.True(r.Length <= c.Msize);
        }
        var all = c.ReadDirAll(1, uint.MaxValue);
        Assert.Contains(all, e => e.Name == "file");
        // Unopened directory fid: EBADF, not a crash.
        c.WalkOk(0, 2);
        AssertError(LinuxErrno.EBADF, c.Rpc((w, t) => Treaddir.Encode(w, t, 2, ulong.MaxValue, uint.MaxValue)));
        Raw.AssertAlive(c);
    }

    [Fact]
    public void XattrWrites_WithWildOffsets_AreEinval_ReadsBeforeWriteAreZeros()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        c.WalkOk(0, 1, "file");
        AssertType(P9MessageType.Rxattrcreate, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 1, "user.wild", 8, 0)));
        foreach (var (offset, len) in new (ulong, int)[] { (ulong.MaxValue, 1), (ulong.MaxValue - 7, 16), (8, 1), (7, 2), (1UL << 32, 1), (OffMax, 1) })
            AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Twrite.Encode(w, t, 1, offset, new byte[len])));
        Assert.Equal(4u, c.WriteBytes(1, 4, "abcd"u8));
        AssertType(P9MessageType.Rclunk, c.Clunk(1));

        // The value is 4 zero bytes then "abcd" (never uninitialised memory: CVE-2016-9103).
        c.WalkOk(0, 2, "file");
        var r = c.Rpc((w, t) => Txattrwalk.Encode(w, t, 2, 3, "user.wild"));
        AssertType(P9MessageType.Rxattrwalk, r);
        Assert.Equal(new byte[] { 0, 0, 0, 0, (byte)'a', (byte)'b', (byte)'c', (byte)'d' }, c.ReadBytes(3, 0, 100));
        Assert.Empty(c.ReadBytes(3, ulong.MaxValue, uint.MaxValue));
        Assert.Empty(c.ReadBytes(3, 8, 1));
        Assert.Equal("cd"u8.ToArray(), c.ReadBytes(3, 6, uint.MaxValue));

        // A Txattrcreate fid is write-only until clunked: reading it gives no heap contents.
        c.WalkOk(0, 4, "file");
        AssertType(P9MessageType.Rxattrcreate, c.Rpc((w, t) => Txattrcreate.Encode(w, t, 4, "user.unread", 64, 0)));
        r = c.Rpc((w, t) => Tread.Encode(w, t, 4, 0, 64));
        Assert.True(TypeOf(r) == P9MessageType.Rlerror || (Rread.TryDecode(r, out var m) == P9DecodeError.None && !m.Data.ContainsAnyExcept((byte)0)),
            P9Trace.Format(r));
        Raw.AssertAlive(c);
    }

    [Fact]
    public void Locks_RangesNear2To64_AreEinval()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        c.WalkOk(0, 1, "file");
        c.LopenOk(1, LopenFlags.ReadWrite);
        foreach (var (start, length) in new (ulong, ulong)[]
        {
            (ulong.MaxValue, 1), (ulong.MaxValue, 0), (OffMax + 1, 0), (0, ulong.MaxValue), (OffMax, 2), (2, OffMax), ((1UL << 62) + 1, 1UL << 62),
        })
        {
            AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Tlock.Encode(w, t, 1, LockType.WriteLock, LockFlags.None, start, length, 1, "c"u8)));
            AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Tgetlock.Encode(w, t, 1, LockType.WriteLock, start, length, 1, "c"u8)));
        }
        // Bad type and flags (reference §4.4: type 3, flags 4).
        AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Tlock.Encode(w, t, 1, (LockType)3, LockFlags.None, 0, 0, 1, "c"u8)));
        AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Tlock.Encode(w, t, 1, LockType.WriteLock, (LockFlags)4, 0, 0, 1, "c"u8)));
        // The largest legal ranges still work: the last byte is 2^63 − 1 exactly, or length 0 (to end of file).
        AssertType(P9MessageType.Rlock, c.Rpc((w, t) => Tlock.Encode(w, t, 1, LockType.WriteLock, LockFlags.None, 1, OffMax, 1, "c"u8)));
        AssertType(P9MessageType.Rlock, c.Rpc((w, t) => Tlock.Encode(w, t, 1, LockType.Unlock, LockFlags.None, 0, 0, 1, "c"u8)));
        var ok = c.Rpc((w, t) => Tlock.Encode(w, t, 1, LockType.WriteLock, LockFlags.None, OffMax, 0, 1, "c"u8));
        AssertType(P9MessageType.Rlock, ok);
        Raw.AssertAlive(c);
    }

    [Fact]
    public void Setattr_SizeAndTimesNear2To64()
    {
        using var x = new ConfinedExport();
        using var c = x.Connect().Start();
        c.WalkOk(0, 1, "file");
        foreach (var size in new[] { ulong.MaxValue, OffMax + 1 })
        {
            var r = c.Rpc((w, t) => Tsetattr.Encode(w, t, 1, SetattrMask.Size, 0, 0, 0, size, 0, 0, 0, 0));
            Assert.Contains(ErrnoOf(r), new[] { LinuxErrno.EFBIG, LinuxErrno.EINVAL });
        }
        AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Tsetattr.Encode(w, t, 1, SetattrMask.Mtime | SetattrMask.MtimeSet, 0, 0, 0, 0, 0, 0, 0, ulong.MaxValue)));
        AssertError(LinuxErrno.EINVAL, c.Rpc((w, t) => Tsetattr.Encode(w, t, 1, SetattrMask.Atime | SetattrMask.AtimeSet, 0, 0, 0, 0, 0, 1_000_000_000, 0, 0)));
        var huge = c.Rpc((w, t) => Tsetattr.Encode(w, t, 1, SetattrMask.Mtime | SetattrMask.MtimeSet, 0, 0, 0, 0, 0, 0, ulong.MaxValue, 0));
        Assert.True(TypeOf(huge) is P9MessageType.Rsetattr or P9MessageType.Rlerror);
        Assert.Equal(7, new FileInfo(x.Server.Path_("file")).Length);
        Raw.AssertAlive(c);
    }
}
