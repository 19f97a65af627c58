using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

/// <summary>struct statfs for 64-bit Linux (every word is a long), 120 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct StatfsBuf
{
    public long Type;
    public long Bsize;
    public ulong Blocks;
    public ulong Bfree;
    public ulong Bavail;
    public ulong Files;
    public ulong Ffree;
    public int Fsid0;
    public int Fsid1;
    public long Namelen;
    public long Frsize;
    public long Flags;
    private readonly long _spare0;
    private readonly long _spare1;
    private readonly long _spare2;
    private readonly long _spare3;
}

internal static partial class Libc
{
    // fstatfs works on O_PATH descriptors since Linux 3.12.
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int fstatfs(SafeFd fd, StatfsBuf* buf);
}
