namespace Gofer.HostFs;

/// <summary>
/// Builds "N" and "/proc/self/fd/N" as NUL-terminated bytes on the stack. The magic link resolves to
/// exactly the inode an fd holds, so re-opening or chmod-ing through it never touches a name a client
/// could swap; it is how QEMU and gVisor work around calls that refuse O_PATH descriptors.
/// </summary>
internal static class ProcFdPath
{
    public const int BufferSize = 32;

    private static ReadOnlySpan<byte> Prefix => "/proc/self/fd/"u8;

    /// <summary>Writes the decimal fd and a NUL; returns the length without the NUL.</summary>
    public static int WriteNumber(int fd, Span<byte> dest)
    {
        // fd is never negative here (SafeFd is valid); 10 digits cover int.MaxValue.
        Span<byte> tmp = stackalloc byte[10];
        int n = 0;
        uint v = (uint)fd;
        do
        {
            tmp[n++] = (byte)('0' + (v % 10));
            v /= 10;
        }
        while (v != 0);

        for (int i = 0; i < n; i++)
        {
            dest[i] = tmp[n - 1 - i];
        }

        dest[n] = 0;
        return n;
    }

    public static int WriteFull(int fd, Span<byte> dest)
    {
        Prefix.CopyTo(dest);
        return Prefix.Length + WriteNumber(fd, dest[Prefix.Length..]);
    }
}
