using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int symlinkat(byte* target, SafeFd newdirfd, byte* linkpath);

    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial nint readlinkat(SafeFd dirfd, byte* path, byte* buf, nuint size);
}
