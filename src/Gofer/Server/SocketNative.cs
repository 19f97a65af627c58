using System.Runtime.InteropServices;

namespace Gofer.Server;

/// <summary>
/// The socket calls <see cref="SocketPipe"/> makes itself: the reader thread's recv/poll, the direct send, and splice(2)
/// for a big Twrite's payload. The pipe it splices through uses the runtime layer's pipe2/fcntl/read/close
/// (<c>Gofer.Runtime.Native.LibC</c>) and HostFs's pwrite.
/// </summary>
internal static unsafe partial class SocketNative
{
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;
    public const short POLLIN = 0x001;
    public const short POLLRDHUP = 0x2000;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const uint SPLICE_F_MOVE = 1;
    public const uint SPLICE_F_NONBLOCK = 2;
    public const int F_SETPIPE_SZ = 1031;
    public const int F_GETPIPE_SZ = 1032;

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

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint splice(int fdIn, long* offIn, int fdOut, long* offOut, nuint len, uint flags);
}
