using System.Runtime.InteropServices;

namespace Gofer.Runtime.Native;

internal static partial class LibC
{
    internal const int P_PID = 1;
    internal const int WEXITED = 4;
    internal const int WNOWAIT = 0x01000000;

    // siginfo_t is 128 bytes on Linux.
    internal const int SigInfoSize = 128;

    internal const int SIGKILL = 9;
    internal const int SIGTERM = 15;

    // int waitid(idtype_t idtype, id_t id, siginfo_t *infop, int options);
    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial int waitid(int idtype, int id, void* infop, int options);

    // pid_t waitpid(pid_t pid, int *wstatus, int options);
    [LibraryImport(Name, SetLastError = true)]
    internal static unsafe partial int waitpid(int pid, int* wstatus, int options);

    // int kill(pid_t pid, int sig);
    [LibraryImport(Name, SetLastError = true)]
    internal static partial int kill(int pid, int sig);
}
