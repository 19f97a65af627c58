using System.Runtime.InteropServices;

namespace Gofer.Server;

/// <summary>The socket calls <see cref="SocketPipe"/> makes itself: the reader thread's recv/poll, the direct send.</summary>
internal static unsafe partial class SocketNative
{
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;
    public const short POLLIN = 0x001;
    public const short POLLRDHUP = 0x2000;
    public const int EINTR = 4;
    public const int EAGAIN = 11;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recv(int fd, byte* buf, nuint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint send(int fd, byte* buf, nuint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint nfds, int timeout);
}
