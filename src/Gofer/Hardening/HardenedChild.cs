using System.Runtime.InteropServices;
using Gofer.Hardening.Native;

namespace Gofer.Hardening;

/// <summary>
/// The confined child: PID 2 of its own PID namespace, whose init (PID 1) is a placeholder
/// that dies with it. Signals reach it as they would any process.
/// </summary>
internal sealed class HardenedChild
{
    private readonly Lock _lock = new();
    private readonly Lazy<Task<int>> _exit;
    private bool _reaped;

    internal HardenedChild(int pid, int initPid, IReadOnlyList<string> exportPaths)
    {
        Pid = pid;
        InitPid = initPid;
        ExportPaths = exportPaths;
        _exit = new Lazy<Task<int>>(
            () => Task.Factory.StartNew(WaitForExitCore, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default),
            LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The child's PID in the caller's PID namespace.</summary>
    public int Pid { get; }

    /// <summary>The PID namespace's placeholder init (0 if none); killed and reaped after the child.</summary>
    public int InitPid { get; }

    /// <summary>Where export i is inside the child's root.</summary>
    public IReadOnlyList<string> ExportPaths { get; }

    /// <summary>Exit code, or 128 + signal number if a signal ended it (as shells report it).</summary>
    public int WaitForExit() => _exit.Value.GetAwaiter().GetResult();

    public Task<int> WaitForExitAsync(CancellationToken cancellationToken = default) =>
        _exit.Value.WaitAsync(cancellationToken);

    /// <summary>Send <paramref name="signal"/> unless the child has been reaped (its PID may be reused then).</summary>
    public bool Signal(int signal)
    {
        lock (_lock)
        {
            return !_reaped && Libc.Kill(Pid, signal) == 0;
        }
    }

    /// <summary>SIGTERM, then SIGKILL if the child is still there after <paramref name="grace"/>.</summary>
    public async Task<int> TerminateAsync(TimeSpan grace)
    {
        Signal(LinuxConstants.SIGTERM);
        Task<int> exit = _exit.Value;
        if (await Task.WhenAny(exit, Task.Delay(grace)).ConfigureAwait(false) != exit)
        {
            Signal(LinuxConstants.SIGKILL);
        }

        return await exit.ConfigureAwait(false);
    }

    public int Terminate(TimeSpan grace) => TerminateAsync(grace).GetAwaiter().GetResult();

    /// <summary>SIGKILL and reap a process only this object knows about (the namespace's init).</summary>
    internal static unsafe void KillAndReap(int pid)
    {
        _ = Libc.Kill(pid, LinuxConstants.SIGKILL);
        int status = 0;
        while (Libc.WaitPid(pid, &status, 0) < 0 && Marshal.GetLastPInvokeError() == LinuxConstants.EINTR)
        {
        }
    }

    private unsafe int WaitForExitCore()
    {
        // Wait without reaping first (WNOWAIT), so a concurrent Signal never hits a reused PID:
        // the PID stays ours until the waitpid below, which happens under the same lock.
        byte* info = stackalloc byte[128]; // siginfo_t
        while (Libc.WaitId(1 /* P_PID */, Pid, info, 4 /* WEXITED */ | 0x01000000 /* WNOWAIT */) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != LinuxConstants.EINTR)
            {
                throw new HardeningException($"waiting for confined child {Pid}: {Marshal.GetPInvokeErrorMessage(errno)}") { Errno = errno };
            }
        }

        int status = 0;
        lock (_lock)
        {
            while (Libc.WaitPid(Pid, &status, 0) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != LinuxConstants.EINTR)
                {
                    throw new HardeningException($"reaping confined child {Pid}: {Marshal.GetPInvokeErrorMessage(errno)}") { Errno = errno };
                }
            }

            _reaped = true;
        }

        if (InitPid > 0)
        {
            KillAndReap(InitPid);
        }

        int signal = status & 0x7f;
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
    }
}
