using System.Runtime.InteropServices;

namespace Gofer.Benchmarks.E2e;

/// <summary>The one libc call the driver needs: signals by PID (SIGUSR1 for stats, SIGTERM/SIGKILL to stop).</summary>
internal static partial class Native
{
    public const int SigKill = 9;
    public const int SigUsr1 = 10;
    public const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int sig);

    /// <summary>Sends <paramref name="sig"/> to <paramref name="pid"/>; false if the process is gone.</summary>
    public static bool Kill(int pid, int sig) => pid > 0 && KillNative(pid, sig) == 0;

    /// <summary>VmRSS of a process in KiB from /proc/PID/status, or -1.</summary>
    public static long RssKiB(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        catch (IOException)
        {
        }
        return -1;
    }
}
