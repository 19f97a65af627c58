using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    private const int RLIMIT_NOFILE = 7;

    /// <summary>The soft RLIMIT_NOFILE (how many descriptors this process may hold), or 0 if it cannot be read.</summary>
    internal static unsafe ulong SoftFileLimit()
    {
        RLimit lim;
        return getrlimit(RLIMIT_NOFILE, &lim) == 0 ? lim.Cur : 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Cur;
        public ulong Max;
    }

    [LibraryImport(LibC, SetLastError = true)]
    private static unsafe partial int getrlimit(int resource, RLimit* rlim);
}
