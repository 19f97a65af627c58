using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Gofer.HostFs;
using Microsoft.Extensions.Logging;

namespace Gofer.Server;

/// <summary>
/// Runs sessions: one per connection, each over its own export (one export per inherited FD in a bundle, or one
/// shared export for a listener). A session's failure never touches another. <see cref="Shutdown"/> ends them all.
/// </summary>
internal sealed class GoferServer : IDisposable
{
    private readonly ServerOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<long, Session> _sessions = new();
    private readonly ConcurrentDictionary<Task, byte> _running = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _connectionThreads;

    // Handlers keep little on the stack (paths and names are bounded by the codec); 1 MiB leaves a wide margin.
    private const int ConnectionThreadStack = 1024 * 1024;

    public GoferServer(ServerOptions options, ILoggerFactory loggerFactory)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger("Gofer.Server");
    }

    public ServerOptions Options => _options;

    /// <summary>
    /// <c>--record</c>: when set, every socket connection is teed into its own capture file. Null (the default)
    /// costs one null check per connection and nothing per message.
    /// </summary>
    public Recording.TrafficRecorder? Recorder { get; init; }

    public int ActiveSessions => _sessions.Count;

    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Serves one connection given as a pipe until it ends. Never throws for peer behaviour.</summary>
    public Task ServeAsync(IDuplexPipe pipe, HostExport export, string endpoint) => ServeAsync(pipe, export, endpoint, synchronousReadLoop: false);

    private async Task ServeAsync(IDuplexPipe pipe, HostExport export, string endpoint, bool synchronousReadLoop)
    {
        using var session = new Session(pipe, export, _options, _loggerFactory) { SynchronousReadLoop = synchronousReadLoop };
        _sessions[session.Id] = session;
        try
        {
            ServerLog.ConnectionOpened(_log, session.Id, endpoint);
            if (_stopping.IsCancellationRequested)
                session.Abort("server shutting down");
            await session.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            _sessions.TryRemove(session.Id, out _);
        }
    }

    /// <summary>
    /// Serves one connected socket (inherited FD or accepted); closes it at the end. Up to
    /// <see cref="ServerOptions.MaxConnectionThreads"/> connections each get their own thread whose reads block on
    /// the socket (the kernel wakes it straight into the session); any beyond are served asynchronously on the pool.
    /// </summary>
    public Task ServeSocketAsync(Socket socket, HostExport export, string endpoint)
    {
        if (Interlocked.Increment(ref _connectionThreads) > _options.MaxConnectionThreads)
        {
            Interlocked.Decrement(ref _connectionThreads);
            return ServeSocketCoreAsync(socket, export, endpoint, ownThread: false);
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                ServeSocketCoreAsync(socket, export, endpoint, ownThread: true).GetAwaiter().GetResult();
                done.TrySetResult();
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
            finally
            {
                Interlocked.Decrement(ref _connectionThreads);
            }
        }, ConnectionThreadStack)
        {
            IsBackground = true,
            Name = "gofer-conn",
        };
        thread.UnsafeStart();
        return done.Task;
    }

    private async Task ServeSocketCoreAsync(Socket socket, HostExport export, string endpoint, bool ownThread)
    {
        var connection = Transport.FromSocket(socket, _options.MaxMsize);
        if (ownThread)
            connection.BindReaderToCurrentThread();
        using var recording = Recorder?.OpenConnection(endpoint);
        try
        {
            IDuplexPipe pipe = recording is null ? connection : new RecordingPipe(connection, recording);
            await ServeAsync(pipe, export, endpoint, synchronousReadLoop: ownThread).ConfigureAwait(false);
        }
        finally
        {
            socket.Dispose();
        }
    }

    /// <summary>Binds and accepts until <see cref="Shutdown"/>; every client gets its own session over the export.</summary>
    public static Socket Bind(EndPoint endpoint)
    {
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream,
            endpoint is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        try
        {
            if (endpoint is UnixDomainSocketEndPoint u && File.Exists(u.ToString()))
                File.Delete(u.ToString()); // a stale socket file from an earlier run would make bind fail
            listener.Bind(endpoint);
            listener.Listen(128);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    public async Task AcceptLoopAsync(Socket listener, HostExport export)
    {
        string name = Transport.Describe(listener.LocalEndPoint!);
        using var registration = _stopping.Token.Register(static s => ((Socket)s!).Dispose(), listener);
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stopping.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException e)
            {
                ServerLog.AcceptFailed(_log, name, e);
                await Task.Delay(100).ConfigureAwait(false); // e.g. EMFILE: do not spin
                continue;
            }
            Track(ServeSocketAsync(client, export, name + " peer " + (client.RemoteEndPoint?.ToString() ?? "?")));
        }
    }

    /// <summary>Keeps a session task so shutdown can wait for it.</summary>
    public void Track(Task task)
    {
        _running[task] = 0;
        task.ContinueWith(static (t, s) => ((ConcurrentDictionary<Task, byte>)s!).TryRemove(t, out _), _running,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Stops accepting and ends every session (in-flight requests finish, their replies may be dropped).</summary>
    public void Shutdown(string reason)
    {
        if (_stopping.IsCancellationRequested)
            return;
        ServerLog.ShuttingDown(_log, reason);
        _stopping.Cancel();
        foreach (var s in _sessions.Values)
            s.Abort("server shutting down: " + reason);
    }

    public void Dispose() => _stopping.Dispose();

    /// <summary>Waits until every tracked session has ended.</summary>
    public Task WhenAllSessionsEnded() => Task.WhenAll(_running.Keys);
}
