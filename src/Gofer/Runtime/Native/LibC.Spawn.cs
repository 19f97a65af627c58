using System.Runtime.InteropServices;

namespace Gofer.Runtime.Native;

internal static partial class LibC
{
    // glibc: posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336 bytes on 64-bit;
    // sigset_t is 128 bytes. The buffers are allocated larger so a bigger libc layout stays safe.
    internal const int SpawnFileActionsSize = 256;
    internal const int SpawnAttrSize = 1024;
    internal const int SigSetSize = 256;

    internal const short POSIX_SPAWN_SETSIGDEF = 0x04;
    internal const short POSIX_SPAWN_SETSIGMASK = 0x08;

    // All of these return 0 or an error number (not -1/errno).
    [LibraryImport(Name)]
    internal static unsafe partial int posix_spawn_file_actions_init(void* actions);

    [LibraryImport(Name)]
    internal static unsafe partial int posix_spawn_file_actions_destroy(void* actions);

    [LibraryImport(Name)]
    internal static unsafe partial int posix_spawn_file_actions_adddup2(void* actions, int fd, int newfd);

    [LibraryImport(Name)]
    internal static unsafe partial int posix_spawn_file_actions_addclose(void* actions, int fd);

    // glibc >= 2.34: close every fd >= from in the child.
    [LibraryImport(Name)]
    internal static unsafe partial int posix_spawn_file_actions_addclosefrom_np(void* actions, int from);

    // glibc >= 2.29.
    [LibraryImport(Name, StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial int posix_spawn_file_actions_addchdir_np(void* actions, string path);

    [LibraryImport(Name)]
    internal static unsafe partial int posix_spawnattr_init(void* attr);

    [LibraryImport(Name)]
    internal static unsafe partial int posix_spawnattr_destroy(void* attr);

    [LibraryImport(Name)]
    internal static unsafe partial int posix_spawnattr_setflags(void* attr, short flags);

    [LibraryImport(Name)]
    internal static unsafe partial int posix_spawnattr_setsigmask(void* attr, void* sigset);

    [LibraryImport(Name)]
    internal static unsafe partial int posix_spawnattr_setsigdefault(void* attr, void* sigset);

    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial int sigemptyset(void* set);

    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial int sigfillset(void* set);

    // int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
    //                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
    [LibraryImport(Name)]
    internal static unsafe partial int posix_spawn(int* pid, byte* path, void* actions, void* attr, byte** argv, byte** envp);
}
