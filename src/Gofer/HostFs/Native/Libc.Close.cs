using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    // close(2) takes the raw int: it is only called from SafeFd.ReleaseHandle, when no one else holds a reference.
    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int close(int fd);
}
