using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial nint pread(SafeFd fd, byte* buf, nuint count, long offset);

    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial nint pwrite(SafeFd fd, byte* buf, nuint count, long offset);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial long lseek(SafeFd fd, long offset, int whence);
}
