using System.Globalization;
using System.Runtime.InteropServices;

namespace Gofer.Server;

/// <summary>
/// Process-wide counters for the performance contract "steady-state serving allocates nothing per request":
/// requests served (every frame the sessions decode a header for) and the runtime's precise allocation counter.
/// <para>
/// Exposed with <c>gofer serve --stats-file PATH</c>: on SIGUSR1 and at exit the server rewrites PATH (temp file +
/// rename, so a reader never sees half a line) with one line
/// <c>seq=N requests=N alloc_bytes=N gc0=N gc1=N gc2=N spliced_writes=N</c>. A benchmark snapshots before and after a load run and
/// divides Δalloc_bytes by Δrequests. Kept in its own file so the session code only carries one counter increment.
/// </para>
/// </summary>
internal static class ServerStats
{
    // SIGUSR1 has no PosixSignal name; raw signal numbers are accepted by PosixSignalRegistration.
    private const int SigUsr1 = 10;

    private static long s_requests;
    private static long s_seq;

    /// <summary>Requests whose header was decoded, over all sessions since start.</summary>
    public static long Requests => Volatile.Read(ref s_requests);

    /// <summary>Called once per request frame by the session read loop (an uncontended interlocked add).</summary>
    public static void CountRequest() => Interlocked.Increment(ref s_requests);

    private static long s_splicedWrites;

    /// <summary>Twrites whose payload went from the socket into the file by splice(2).</summary>
    public static long SplicedWrites => Volatile.Read(ref s_splicedWrites);

    public static void CountSplicedWrite() => Interlocked.Increment(ref s_splicedWrites);

    /// <summary>The stats line as of now (allocates; never called on the request path).</summary>
    public static string Snapshot()
    {
        long seq = Interlocked.Increment(ref s_seq);
        long alloc = GC.GetTotalAllocatedBytes(precise: true);
        return string.Create(CultureInfo.InvariantCulture,
            $"seq={seq} requests={Requests} alloc_bytes={alloc} gc0={GC.CollectionCount(0)} gc1={GC.CollectionCount(1)} gc2={GC.CollectionCount(2)} spliced_writes={SplicedWrites}");
    }

    /// <summary>Writes the snapshot to <paramref name="path"/> atomically (temp + rename).</summary>
    public static void WriteTo(string path)
    {
        string line = Snapshot() + "\n";
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, line);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// Starts reporting to <paramref name="path"/> (null: nothing): writes once now, on every SIGUSR1, and when the
    /// returned handle is disposed (server exit).
    /// </summary>
    public static IDisposable Start(string? path) => path is null ? NoReporter.Instance : new Reporter(path);

    private sealed class NoReporter : IDisposable
    {
        public static readonly NoReporter Instance = new();

        public void Dispose()
        {
        }
    }

    private sealed class Reporter : IDisposable
    {
        private readonly string _path;
        private readonly PosixSignalRegistration _usr1;

        public Reporter(string path)
        {
            _path = path;
            WriteTo(path);
            _usr1 = PosixSignalRegistration.Create((PosixSignal)SigUsr1, ctx =>
            {
                ctx.Cancel = true;
                TryWrite();
            });
        }

        public void Dispose()
        {
            _usr1.Dispose();
            TryWrite();
        }

        private void TryWrite()
        {
            try
            {
                WriteTo(_path);
            }
            catch (IOException)
            {
                // Stats are best effort: an unwritable path must never take the server down.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
