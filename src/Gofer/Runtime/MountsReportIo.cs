using System.Runtime.InteropServices;
using Gofer.Runtime.Native;

namespace Gofer.Runtime;

/// <summary>Blocking reads and writes of the report on a pipe FD.</summary>
internal static class MountsReportIo
{
    public static unsafe void WriteAll(SafeFdHandle fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            var done = 0;
            while (done < data.Length)
            {
                var n = LibC.write(fd.Fd, p + done, (nuint)(data.Length - done));
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == LibC.EINTR)
                    {
                        continue;
                    }

                    throw Descriptors.Fail("write(--mounts-fd)");
                }

                done += (int)n;
            }
        }
    }

    /// <summary>Reads until EOF, at most <see cref="MountsReport.MaxBytes"/> + 1 bytes (the parser rejects more).</summary>
    public static byte[] ReadToEnd(SafeFdHandle fd)
    {
        // Hold a reference for the whole loop: a Dispose from another thread (a launch giving up) then
        // defers the close until the read returns, so the number is never reused under us.
        var added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            return ReadLoop(fd.Fd);
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    private static unsafe byte[] ReadLoop(int fd)
    {
        var buffer = new byte[64 * 1024];
        var length = 0;
        while (length <= MountsReport.MaxBytes)
        {
            if (length == buffer.Length)
            {
                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, MountsReport.MaxBytes + 1));
            }

            nint n;
            fixed (byte* p = buffer)
            {
                n = LibC.read(fd, p + length, (nuint)(buffer.Length - length));
            }

            if (n < 0)
            {
                if (Marshal.GetLastPInvokeError() == LibC.EINTR)
                {
                    continue;
                }

                throw Descriptors.Fail("read(mounts report)");
            }

            if (n == 0)
            {
                break;
            }

            length += (int)n;
        }

        return buffer.AsSpan(0, length).ToArray();
    }
}
