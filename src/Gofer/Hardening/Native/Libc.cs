using System.Runtime.InteropServices;

namespace Gofer.Hardening.Native;

/// <summary>
/// libc calls made from ordinary threads: privilege checks, preparing posix_spawn attributes,
/// waiting for and signalling the confined child. The calls made after the confining thread
/// has left the host namespaces go through <see cref="ConfinedLibc"/> instead (see there why).
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    [StructLayout(LayoutKind.Sequential)]
    public struct CapHeader
    {
        public uint Version;
        public int Pid;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CapData
    {
        public uint Effective;
        public uint Permitted;
        public uint Inheritable;
    }

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    // capget(2) with pid 0 reads the calling thread's sets: capabilities are per thread.
    [LibraryImport(Lib, EntryPoint = "capget", SetLastError = true)]
    public static partial int CapGet(CapHeader* header, CapData* data);

    [LibraryImport(Lib, EntryPoint = "capset", SetLastError = true)]
    public static partial int CapSet(CapHeader* header, CapData* data);

    [LibraryImport(Lib, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(Lib, EntryPoint = "waitpid", SetLastError = true)]
    public static partial int WaitPid(int pid, int* status, int options);

    [LibraryImport(Lib, EntryPoint = "waitid", SetLastError = true)]
    public static partial int WaitId(int idType, int id, byte* info, int options);

    [LibraryImport(Lib, EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint RealPath(string path, nint resolved);

    [LibraryImport(Lib, EntryPoint = "free")]
    public static partial void Free(nint pointer);

    // fcntl is variadic in C; with integer arguments the System V and AAPCS64 calling
    // conventions pass them exactly like a fixed three-argument call.
    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_init")]
    public static partial int SpawnFileActionsInit(void* actions);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_adddup2")]
    public static partial int SpawnFileActionsAddDup2(void* actions, int fd, int newFd);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_addclose")]
    public static partial int SpawnFileActionsAddClose(void* actions, int fd);

    [LibraryImport(Lib, EntryPoint = "posix_spawn_file_actions_destroy")]
    public static partial int SpawnFileActionsDestroy(void* actions);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_init")]
    public static partial int SpawnAttrInit(void* attributes);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setflags")]
    public static partial int SpawnAttrSetFlags(void* attributes, short flags);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setsigmask")]
    public static partial int SpawnAttrSetSigMask(void* attributes, void* mask);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_setsigdefault")]
    public static partial int SpawnAttrSetSigDefault(void* attributes, void* signals);

    [LibraryImport(Lib, EntryPoint = "posix_spawnattr_destroy")]
    public static partial int SpawnAttrDestroy(void* attributes);

    [LibraryImport(Lib, EntryPoint = "sigemptyset")]
    public static partial int SigEmptySet(void* set);

    [LibraryImport(Lib, EntryPoint = "sigfillset")]
    public static partial int SigFillSet(void* set);

    /// <summary>Whether the calling thread holds <paramref name="capability"/> in its effective set.</summary>
    public static bool ThreadHasEffective(Capability capability)
    {
        CapHeader header = new() { Version = LinuxConstants.LINUX_CAPABILITY_VERSION_3, Pid = 0 };
        CapData* data = stackalloc CapData[2];
        if (CapGet(&header, data) != 0)
        {
            return false;
        }

        int bit = (int)capability;
        return (data[bit / 32].Effective & (1u << (bit % 32))) != 0;
    }
}
