using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
    public const int DirentInoOffset = 0;
    public const int DirentOffOffset = 8;
    public const int DirentReclenOffset = 16;
    public const int DirentTypeOffset = 18;
    public const int DirentNameOffset = 19;

    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial nint getdents64(SafeFd fd, byte* buf, nuint count);
}
