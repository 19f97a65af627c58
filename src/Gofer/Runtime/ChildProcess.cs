using System.Runtime.InteropServices;
using Gofer.Runtime.Native;

namespace Gofer.Runtime;

/// <summary>
/// A child started by <see cref="ProcessSpawner"/>. A dedicated thread waits for it without reaping
/// (waitid WNOWAIT), then reaps it under a lock that <see cref="Signal"/> also takes: a signal is never
/// sent to a pid that has been reaped and possibly reused.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable, IDisposable
{
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource<ChildExitStatus> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _reaped;

    internal ChildProcess(int pid, string description)
    {
        Pid = pid;
        Description = description;
        var waiter = new Thread(WaitForExit) { IsBackground = true, Name = $"wait {pid}" };
        waiter.Start();
    }

    /// <summary>Process id.</summary>
    public int Pid { get; }

    /// <summary>What was started (for messages).</summary>
    public string Description { get; }

    /// <summary>Completes when the child has exited and been reaped.</summary>
    public Task<ChildExitStatus> Exited => _exited.Task;

    /// <summary>True once the child has exited.</summary>
    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Sends a signal unless the child has already been reaped. Returns false if it had.</summary>
    public bool Signal(int signal)
    {
        lock (_gate)
        {
            if (_reaped)
            {
                return false;
            }

            if (LibC.kill(Pid, signal) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();

                // ESRCH cannot happen while unreaped (a zombie still has its pid), but do not throw for it.
                if (errno == LibC.ESRCH)
                {
                    return false;
                }

                throw Descriptors.Fail("kill");
            }

            return true;
        }
    }

    /// <summary>
    /// Stops the child: SIGTERM, then SIGKILL if it has not exited after <paramref name="grace"/>.
    /// Returns how it ended.
    /// </summary>
    public async Task<ChildExitStatus> StopAsync(TimeSpan grace, CancellationToken cancellationToken = default)
    {
        if (!HasExited)
        {
            Signal(LibC.SIGTERM);
            try
            {
                return await Exited.WaitAsync(grace, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                Signal(LibC.SIGKILL);
            }
        }

        return await Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Kills (SIGKILL) and reaps the child if it is still running.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            Signal(LibC.SIGKILL);
        }

        await Exited.ConfigureAwait(false);
    }

    /// <summary>Kills (SIGKILL) and reaps the child if it is still running.</summary>
    public void Dispose()
    {
        if (!HasExited)
        {
            Signal(LibC.SIGKILL);
        }

        Exited.GetAwaiter().GetResult();
    }

    public override string ToString() => $"{Description} (pid {Pid})";

    private unsafe void WaitForExit()
    {
        try
        {
            var info = stackalloc byte[LibC.SigInfoSize];
            while (LibC.waitid(LibC.P_PID, Pid, info, LibC.WEXITED | LibC.WNOWAIT) != 0)
            {
                if (Marshal.GetLastPInvokeError() != LibC.EINTR)
                {
                    throw Descriptors.Fail("waitid");
                }
            }

            int status;
            lock (_gate)
            {
                int rc;
                while ((rc = LibC.waitpid(Pid, &status, 0)) < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR)
                {
                }

                if (rc < 0)
                {
                    throw Descriptors.Fail("waitpid");
                }

                _reaped = true;
            }

            _exited.TrySetResult(ChildExitStatus.FromWaitStatus(status));
        }
        catch (Exception e)
        {
            // ECHILD here means someone else reaped our child (a SIGCHLD=SIG_IGN host, say): report it.
            lock (_gate)
            {
                _reaped = true;
            }

            _exited.TrySetException(e);
        }
    }
}
