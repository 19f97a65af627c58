using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int linkat(SafeFd olddirfd, byte* oldpath, SafeFd newdirfd, byte* newpath, int flags);

}
