using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int ftruncate(SafeFd fd, long length);
}
