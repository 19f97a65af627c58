using System.Runtime.InteropServices;
using Gofer.Runtime.Native;

namespace Gofer.Runtime;

/// <summary>Creating close-on-exec descriptor pairs.</summary>
public static class Descriptors
{
    /// <summary>A connected AF_UNIX SOCK_STREAM pair, both ends close-on-exec.</summary>
    public static unsafe (SafeFdHandle First, SafeFdHandle Second) CreateSocketPair()
    {
        var sv = stackalloc int[2];
        if (LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, sv) != 0)
        {
            throw Fail("socketpair");
        }

        return (new SafeFdHandle(sv[0], true), new SafeFdHandle(sv[1], true));
    }

    /// <summary>A pipe, both ends close-on-exec.</summary>
    public static unsafe (SafeFdHandle Read, SafeFdHandle Write) CreatePipe()
    {
        var fds = stackalloc int[2];
        if (LibC.pipe2(fds, LibC.O_CLOEXEC) != 0)
        {
            throw Fail("pipe2");
        }

        return (new SafeFdHandle(fds[0], true), new SafeFdHandle(fds[1], true));
    }

    /// <summary>True when the descriptor has FD_CLOEXEC set.</summary>
    public static bool IsCloseOnExec(SafeHandle fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        var added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            var flags = LibC.fcntl((int)fd.DangerousGetHandle(), LibC.F_GETFD, 0);
            if (flags < 0)
            {
                throw Fail("fcntl(F_GETFD)");
            }

            return (flags & LibC.FD_CLOEXEC) != 0;
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    internal static IOException Fail(string call)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
    }
}
