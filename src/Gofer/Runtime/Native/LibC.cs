using System.Runtime.InteropServices;

namespace Gofer.Runtime.Native;

// The runtime's own libc declarations (the HostFs helper keeps its own set in HostFs/Native).
// One partial file per family of calls; constants are the Linux x86-64/arm64 values.
internal static partial class LibC
{
    internal const string Name = "libc";

    internal const int EINTR = 4;
    internal const int EBADF = 9;
    internal const int ECHILD = 10;
    internal const int ESRCH = 3;

    internal const int O_CLOEXEC = 0x80000;
}
