using System.Runtime.InteropServices;

namespace Gofer.Runtime.Native;

internal static partial class LibC
{
    internal const int F_GETFD = 1;
    internal const int F_DUPFD_CLOEXEC = 1030;
    internal const int FD_CLOEXEC = 1;

    // int close(int fd);
    [LibraryImport(Name, SetLastError = true)]
    internal static partial int close(int fd);

    // int fcntl(int fd, int cmd, int arg); only called with an int third argument, which the
    // variadic calling convention passes like a fixed one on Linux x86-64 and arm64.
    [LibraryImport(Name, SetLastError = true)]
    internal static partial int fcntl(int fd, int cmd, int arg);

    // int pipe2(int pipefd[2], int flags);
    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial int pipe2(int* pipefd, int flags);

    // ssize_t read(int fd, void *buf, size_t count);
    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial nint read(int fd, byte* buf, nuint count);

    // ssize_t write(int fd, const void *buf, size_t count);
    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial nint write(int fd, byte* buf, nuint count);
}
