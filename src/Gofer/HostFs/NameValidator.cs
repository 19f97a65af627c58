using Gofer.HostFs.Native;

namespace Gofer.HostFs;

/// <summary>
/// One place that decides whether a client-supplied name may reach a host syscall. A name is a single
/// path component: never empty, never containing '/' (CVE-2016-7116: "a/../.." walks out) or NUL (the
/// kernel would silently cut the name there), never longer than NAME_MAX. "." and ".." are meaningful
/// only to walk (clone / parent, clamped at the root); everywhere else they are EINVAL.
/// </summary>
internal static class NameValidator
{
    public const int NameMax = 255;

    /// <summary>For Twalk elements: "." and ".." are allowed (handled by the walker, never passed to the host).</summary>
    public static Errno ValidateWalk(ReadOnlySpan<byte> name) => Validate(name, allowDots: true);

    /// <summary>For names that create, remove or rename an entry (Tlcreate, Tmkdir, Tsymlink, Tmknod, Tlink, Trename*, Tunlinkat).</summary>
    public static Errno ValidateEntry(ReadOnlySpan<byte> name) => Validate(name, allowDots: false);

    public static bool IsDot(ReadOnlySpan<byte> name) => name.Length == 1 && name[0] == (byte)'.';

    public static bool IsDotDot(ReadOnlySpan<byte> name) => name.Length == 2 && name[0] == (byte)'.' && name[1] == (byte)'.';

    private static Errno Validate(ReadOnlySpan<byte> name, bool allowDots)
    {
        // The brief's contract: every malformed name is EINVAL, including over-long ones, so a
        // handler can answer bad input uniformly.
        if (name.IsEmpty || name.Length > NameMax)
        {
            return Errno.EINVAL;
        }

        if (name.IndexOfAny((byte)'/', (byte)0) >= 0)
        {
            return Errno.EINVAL;
        }

        if (!allowDots && (IsDot(name) || IsDotDot(name)))
        {
            return Errno.EINVAL;
        }

        return Errno.None;
    }

    /// <summary>Copies a validated name into a NUL-terminated buffer of at least NameMax + 1 bytes.</summary>
    public static void ToCString(ReadOnlySpan<byte> name, Span<byte> dest)
    {
        name.CopyTo(dest);
        dest[name.Length] = 0;
    }
}
