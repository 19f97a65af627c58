using System.Runtime.InteropServices;

namespace Gofer.HostFs.Native;

/// <summary>struct open_how (linux/openat2.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct OpenHow
{
    public ulong Flags;
    public ulong Mode;
    public ulong Resolve;
}

internal static partial class Libc
{
    public const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    public const ulong RESOLVE_NO_SYMLINKS = 0x04;
    public const ulong RESOLVE_BENEATH = 0x08;

    // Same number on x86-64 and arm64 (the unified syscall table since 5.1).
    private const long SYS_openat2 = 437;

    [LibraryImport(LibC, SetLastError = true)]
    internal static unsafe partial int openat(SafeFd dirfd, byte* path, int flags, uint mode);

    [LibraryImport(LibC, EntryPoint = "openat", SetLastError = true)]
    internal static unsafe partial int openat_cwd(int dirfd, byte* path, int flags, uint mode);

    // glibc has no openat2 wrapper; syscall(2) is variadic but every argument here is a full register.
    [LibraryImport(LibC, EntryPoint = "syscall", SetLastError = true)]
    private static unsafe partial long syscall_openat2(long nr, SafeFd dirfd, byte* path, OpenHow* how, nuint size);

    internal static unsafe int openat2(SafeFd dirfd, byte* path, ref OpenHow how)
    {
        fixed (OpenHow* h = &how)
        {
            return (int)syscall_openat2(SYS_openat2, dirfd, path, h, (nuint)sizeof(OpenHow));
        }
    }
}
