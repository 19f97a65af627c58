using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

/// <summary>struct statx_timestamp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct StatxTimestamp
{
    public long Sec;
    public uint Nsec;
    private readonly int _reserved;
}

/// <summary>struct statx (linux/stat.h), 256 bytes; the tail is reserved space the kernel may fill.</summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal struct Statx
{
    [FieldOffset(0)] public uint Mask;
    [FieldOffset(4)] public uint Blksize;
    [FieldOffset(8)] public ulong Attributes;
    [FieldOffset(16)] public uint Nlink;
    [FieldOffset(20)] public uint Uid;
    [FieldOffset(24)] public uint Gid;
    [FieldOffset(28)] public ushort Mode;
    [FieldOffset(32)] public ulong Ino;
    [FieldOffset(40)] public ulong Size;
    [FieldOffset(48)] public ulong Blocks;
    [FieldOffset(56)] public ulong AttributesMask;
    [FieldOffset(64)] public StatxTimestamp Atime;
    [FieldOffset(80)] public StatxTimestamp Btime;
    [FieldOffset(96)] public StatxTimestamp Ctime;
    [FieldOffset(112)] public StatxTimestamp Mtime;
    [FieldOffset(128)] public uint RdevMajor;
    [FieldOffset(132)] public uint RdevMinor;
    [FieldOffset(136)] public uint DevMajor;
    [FieldOffset(140)] public uint DevMinor;

    /// <summary>The device as one number (glibc makedev layout); only used as a map key.</summary>
    public readonly ulong Dev => ((ulong)DevMajor << 32) | DevMinor;
}

internal static partial class Libc
{
    public const uint STATX_BASIC_STATS = 0x7ff;
    public const uint STATX_BTIME = 0x800;

    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int statx(SafeFd dirfd, byte* path, int flags, uint mask, Statx* buf);

    /// <summary>fstat of any fd, O_PATH included, never following a symlink the fd refers to.</summary>
    internal static unsafe Errno FStatx(SafeFd fd, uint mask, out Statx st)
    {
        byte empty = 0;
        fixed (Statx* p = &st)
        {
            return statx(fd, &empty, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, mask, p) == 0 ? Errno.None : ErrnoExtensions.Last();
        }
    }
}
