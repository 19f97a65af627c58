using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int fsync(SafeFd fd);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int fdatasync(SafeFd fd);
}
