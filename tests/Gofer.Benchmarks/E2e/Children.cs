using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Gofer.Benchmarks.E2e;

/// <summary>
/// Every process the driver starts, so that all of them are killed by PID at the end — normal exit, exception,
/// Ctrl-C or SIGTERM alike. Nothing is ever killed by name.
/// </summary>
internal static class Children
{
    private static readonly ConcurrentDictionary<int, Process> s_live = new();
    private static PosixSignalRegistration? s_int, s_term;

    public static void InstallHandlers()
    {
        s_int = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        s_term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
    }

    private static void OnSignal(PosixSignalContext ctx)
    {
        Console.Error.WriteLine($"bench: {ctx.Signal}, stopping every child by PID");
        KillAll();
        // Default action continues: the driver exits too.
    }

    public static Process Start(ProcessStartInfo psi)
    {
        var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start " + psi.FileName);
        s_live[p.Id] = p;
        return p;
    }

    /// <summary>SIGTERM, a grace period, then SIGKILL; always by the recorded PID.</summary>
    public static void Stop(Process p, int graceMs = 3000)
    {
        try
        {
            if (!p.HasExited)
            {
                Native.Kill(p.Id, Native.SigTerm);
                if (!p.WaitForExit(graceMs))
                {
                    Native.Kill(p.Id, Native.SigKill);
                    p.WaitForExit(graceMs);
                }
            }
        }
        catch (InvalidOperationException)
        {
        }
        s_live.TryRemove(p.Id, out _);
    }

    public static void Forget(Process p) => s_live.TryRemove(p.Id, out _);

    public static void KillAll()
    {
        foreach (var (pid, p) in s_live)
        {
            try
            {
                if (!p.HasExited)
                    Native.Kill(pid, Native.SigKill);
            }
            catch (InvalidOperationException)
            {
            }
            s_live.TryRemove(pid, out _);
        }
        GC.KeepAlive(s_int);
        GC.KeepAlive(s_term);
    }
}
