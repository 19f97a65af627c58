using System.Runtime.InteropServices;

namespace Gofer.Hardening.Native;

/// <summary>
/// Raw libc entry points for the confining thread, called through unmanaged function pointers.
/// </summary>
/// <remarks>
/// Why not [LibraryImport] here: once the confining thread has unshared its mount and PID
/// namespaces it must run no managed code that could (a) create a thread — a thread created
/// from it would share its private root and mount namespace, and with a pending PID namespace
/// the kernel refuses CLONE_THREAD outright (EINVAL), which the runtime may treat as fatal;
/// tier-up of call-counted stubs, thread-pool injection and background GC all create threads
/// from whichever thread trips them; or (b) load an assembly from disk after pivot_root, when
/// the host's files are gone. A generated marshalling stub is call-counted managed code; an
/// unmanaged function pointer with blittable arguments is an inline transition inside the one
/// pre-compiled method that does the work (see <c>HardenedLauncher.Confine</c>). errno is read
/// through <c>__errno_location</c> right after each failing call; the runtime preserves errno
/// across the transition back to managed code.
/// </remarks>
internal static unsafe class ConfinedLibc
{
    public static readonly delegate* unmanaged<int, int> Unshare;
    public static readonly delegate* unmanaged<byte*, byte*, byte*, ulong, void*, int> Mount;
    public static readonly delegate* unmanaged<byte*, int, int> Umount2;
    public static readonly delegate* unmanaged<byte*, byte*, int> PivotRoot;
    public static readonly delegate* unmanaged<int, ulong, ulong, ulong, ulong, int> Prctl;
    public static readonly delegate* unmanaged<Libc.CapHeader*, Libc.CapData*, int> CapGet;
    public static readonly delegate* unmanaged<Libc.CapHeader*, Libc.CapData*, int> CapSet;
    public static readonly delegate* unmanaged<long, long, long, long, long, long, long, long> Syscall;
    public static readonly delegate* unmanaged<byte*, int, int, int> Open;
    public static readonly delegate* unmanaged<int, byte*, int, int, int> OpenAt;
    public static readonly delegate* unmanaged<int, int> Close;
    public static readonly delegate* unmanaged<int, byte*, int, int> MkdirAt;
    public static readonly delegate* unmanaged<byte*, int, byte*, int> SymlinkAt;
    public static readonly delegate* unmanaged<int, int> Fchdir;
    public static readonly delegate* unmanaged<byte*, int> Chdir;
    public static readonly delegate* unmanaged<int*, byte*, void*, void*, byte**, byte**, int> PosixSpawn;
    public static readonly delegate* unmanaged<void*, int, int> SpawnFileActionsAddCloseFrom;
    public static readonly delegate* unmanaged<int*> ErrnoLocation;
    public static readonly delegate* unmanaged<void*, void*, int, void*, int> Clone;
    public static readonly void* SigSuspend;

    static ConfinedLibc()
    {
        nint libc = NativeLibrary.TryLoad("libc.so.6", out nint handle) ? handle : NativeLibrary.Load("libc");
        Unshare = (delegate* unmanaged<int, int>)NativeLibrary.GetExport(libc, "unshare");
        Mount = (delegate* unmanaged<byte*, byte*, byte*, ulong, void*, int>)NativeLibrary.GetExport(libc, "mount");
        Umount2 = (delegate* unmanaged<byte*, int, int>)NativeLibrary.GetExport(libc, "umount2");
        PivotRoot = (delegate* unmanaged<byte*, byte*, int>)NativeLibrary.GetExport(libc, "pivot_root");
        // prctl is variadic; glibc reads the four trailing arguments as unsigned longs.
        Prctl = (delegate* unmanaged<int, ulong, ulong, ulong, ulong, int>)NativeLibrary.GetExport(libc, "prctl");
        CapGet = (delegate* unmanaged<Libc.CapHeader*, Libc.CapData*, int>)NativeLibrary.GetExport(libc, "capget");
        CapSet = (delegate* unmanaged<Libc.CapHeader*, Libc.CapData*, int>)NativeLibrary.GetExport(libc, "capset");
        // syscall(2) is variadic in C but glibc implements it in assembly, moving six integer
        // registers into the syscall registers: a fixed seven-argument call is exact.
        Syscall = (delegate* unmanaged<long, long, long, long, long, long, long, long>)NativeLibrary.GetExport(libc, "syscall");
        Open = (delegate* unmanaged<byte*, int, int, int>)NativeLibrary.GetExport(libc, "open");
        OpenAt = (delegate* unmanaged<int, byte*, int, int, int>)NativeLibrary.GetExport(libc, "openat");
        Close = (delegate* unmanaged<int, int>)NativeLibrary.GetExport(libc, "close");
        MkdirAt = (delegate* unmanaged<int, byte*, int, int>)NativeLibrary.GetExport(libc, "mkdirat");
        SymlinkAt = (delegate* unmanaged<byte*, int, byte*, int>)NativeLibrary.GetExport(libc, "symlinkat");
        Fchdir = (delegate* unmanaged<int, int>)NativeLibrary.GetExport(libc, "fchdir");
        Chdir = (delegate* unmanaged<byte*, int>)NativeLibrary.GetExport(libc, "chdir");
        PosixSpawn = (delegate* unmanaged<int*, byte*, void*, void*, byte**, byte**, int>)NativeLibrary.GetExport(libc, "posix_spawn");
        // glibc 2.34+: close every descriptor above the ones handed over. Older libcs lack it; the
        // runtime opens its descriptors O_CLOEXEC, so the child still receives only what we dup2.
        SpawnFileActionsAddCloseFrom = NativeLibrary.TryGetExport(libc, "posix_spawn_file_actions_addclosefrom_np", out nint closeFrom)
            ? (delegate* unmanaged<void*, int, int>)closeFrom
            : null;
        ErrnoLocation = (delegate* unmanaged<int*>)NativeLibrary.GetExport(libc, "__errno_location");
        // clone(fn, stack, flags, arg, ...): glibc's is assembly and reads the trailing variadic
        // arguments only for CLONE_PARENT_SETTID/SETTLS/CHILD_*TID, which are never passed here.
        Clone = (delegate* unmanaged<void*, void*, int, void*, int>)NativeLibrary.GetExport(libc, "clone");
        // The PID namespace's init runs sigsuspend(full set) as its clone function: no managed
        // code, no signal ever delivered, only SIGKILL ends it.
        SigSuspend = (void*)NativeLibrary.GetExport(libc, "sigsuspend");
    }
}
