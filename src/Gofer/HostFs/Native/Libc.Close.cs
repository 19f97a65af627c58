using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    // close(2) takes the raw int: it is only called by SafeFd, once its last reference is gone, when no one else holds a reference.
    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int close(int fd);
}
