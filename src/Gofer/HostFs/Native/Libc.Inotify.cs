using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

internal static partial class Libc
{
    // linux/inotify.h. IN_NONBLOCK and IN_CLOEXEC are O_NONBLOCK and O_CLOEXEC, the same on x86-64 and arm64.
    public const int IN_NONBLOCK = O_NONBLOCK;
    public const int IN_CLOEXEC = O_CLOEXEC;

    public const uint IN_MOVED_FROM = 0x00000040;
    public const uint IN_MOVED_TO = 0x00000080;
    public const uint IN_CREATE = 0x00000100;
    public const uint IN_DELETE = 0x00000200;
    public const uint IN_DELETE_SELF = 0x00000400;
    public const uint IN_MOVE_SELF = 0x00000800;
    public const uint IN_UNMOUNT = 0x00002000;
    public const uint IN_Q_OVERFLOW = 0x00004000;
    public const uint IN_IGNORED = 0x00008000;
    public const uint IN_ONLYDIR = 0x01000000;

    // struct inotify_event { s32 wd; u32 mask; u32 cookie; u32 len; char name[len]; }
    public const int InotifyEventHeaderSize = 16;

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int inotify_init1(int flags);

    // inotify has no *at form: the caller passes "/proc/self/fd/N" of a descriptor it holds, never a client's path.
    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int inotify_add_watch(SafeFd fd, byte* pathname, uint mask);

    [LibraryImport(LibC, SetLastError = true)]
    internal static partial int inotify_rm_watch(SafeFd fd, int wd);

    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial nint read(SafeFd fd, byte* buf, nuint count);
}
