using System.Security.Cryptography;
using Gofer.Sandbox.Vfs;

namespace Gofer.Sandbox.Devices;

/// <summary>Linux dev_t encoding (new_encode_dev in include/linux/kdev_t.h), as stat's st_rdev carries it.</summary>
internal static class DeviceNumber
{
    public static ulong Make(uint major, uint minor) =>
        (minor & 0xffu) | ((ulong)(major & 0xfffu) << 8) | ((ulong)(minor & ~0xffu) << 12) | ((ulong)(major & ~0xfffu) << 32);

    public static uint Major(ulong dev) => (uint)(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffUL));

    public static uint Minor(ulong dev) => (uint)((dev & 0xff) | ((dev >> 12) & ~0xffUL));
}

/// <summary>
/// Character devices the sandbox emulates. A device node in any filesystem (tmpfs /dev, or one a gofer reports)
/// opens the emulated device by its number, never a host device: like gVisor's emulated char_device_policy.
/// </summary>
internal sealed class DeviceRegistry
{
    private readonly Dictionary<ulong, Func<OpenFlags, IFileHandle>> _char = [];

    public static DeviceRegistry CreateDefault()
    {
        var r = new DeviceRegistry();

        // Numbers from Documentation/admin-guide/devices.txt, major 1 ("memory devices").
        r.Register(1, 3, _ => new MemDevice(MemKind.Null));
        r.Register(1, 5, _ => new MemDevice(MemKind.Zero));
        r.Register(1, 7, _ => new MemDevice(MemKind.Full));
        r.Register(1, 8, _ => new MemDevice(MemKind.Random));
        r.Register(1, 9, _ => new MemDevice(MemKind.Random));
        return r;
    }

    public void Register(uint major, uint minor, Func<OpenFlags, IFileHandle> open) => _char[DeviceNumber.Make(major, minor)] = open;

    /// <summary>Opens a character device; ENXIO when nothing is registered for the number (as Linux).</summary>
    public IFileHandle OpenChar(ulong rdev, OpenFlags flags) =>
        _char.TryGetValue(rdev, out var open) ? open(flags) : throw new VfsException(Errno.ENXIO);

    private enum MemKind
    {
        Null,
        Zero,
        Full,
        Random,
    }

    private sealed class MemDevice(MemKind kind) : IFileHandle
    {
        public ValueTask<int> ReadAsync(Memory<byte> buffer, long offset, CancellationToken ct = default)
        {
            switch (kind)
            {
                case MemKind.Null:
                    return ValueTask.FromResult(0);
                case MemKind.Random:
                    RandomNumberGenerator.Fill(buffer.Span);
                    return ValueTask.FromResult(buffer.Length);
                default:
                    buffer.Span.Clear();
                    return ValueTask.FromResult(buffer.Length);
            }
        }

        public ValueTask<int> WriteAsync(ReadOnlyMemory<byte> data, long offset, CancellationToken ct = default) =>
            kind == MemKind.Full ? throw new VfsException(Errno.ENOSPC) : ValueTask.FromResult(data.Length);

        public ValueTask<IReadOnlyList<DirEntry>> ReadDirAsync(long cookie, int max, CancellationToken ct = default) =>
            throw new VfsException(Errno.ENOTDIR);

        public ValueTask FsyncAsync(CancellationToken ct = default) => default;

        public ValueTask DisposeAsync() => default;
    }
}
