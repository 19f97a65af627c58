using System.Runtime.InteropServices;

namespace Gofer.Runtime.Native;

internal static partial class LibC
{
    internal const int AF_UNIX = 1;
    internal const int SOCK_STREAM = 1;
    internal const int SOCK_CLOEXEC = 0x80000;

    // int socketpair(int domain, int type, int protocol, int sv[2]);
    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial int socketpair(int domain, int type, int protocol, int* sv);
}
