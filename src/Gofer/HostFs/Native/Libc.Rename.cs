using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int renameat2(SafeFd olddirfd, byte* oldpath, SafeFd newdirfd, byte* newpath, uint flags);
}
