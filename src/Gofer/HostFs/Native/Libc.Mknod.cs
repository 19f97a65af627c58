using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int mknodat(SafeFd dirfd, byte* path, uint mode, ulong dev);
}
