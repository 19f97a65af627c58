using System.IO.Pipelines;
using System.Net.Sockets;
using Gofer.HostFs;
using Gofer.Server;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gofer.Tests.Server;

/// <summary>
/// A real server over a real temporary directory, reached through real Unix socket connections (one session each).
/// Dispose shuts the server down and deletes the directory.
/// </summary>
internal sealed class ServerFixture : IDisposable
{
    private readonly Socket _listener;
    private readonly string _socketPath;
    private readonly Task _accept;
    private readonly GoferServer _server;
    private readonly HostExport _export;

    public ServerFixture(ServerOptions? options = null, bool readOnly = false, ILoggerFactory? loggers = null,
        HostExportOptions? exportOptions = null, DirListingCache? dirCache = null)
    {
        Root = Path.Combine(Path.GetTempPath(), "gofer-srv-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
        var err = HostExport.TryOpen(Root, exportOptions ?? new HostExportOptions { ReadOnly = readOnly }, dirCache, out var export);
        Assert.Equal(Gofer.HostFs.Native.Errno.None, err);
        _export = export!;
        _server = new GoferServer(options ?? new ServerOptions(), loggers ?? NullLoggerFactory.Instance);
        _socketPath = Path.Combine(Root + ".sock");
        _listener = GoferServer.Bind(new UnixDomainSocketEndPoint(_socketPath));
        _accept = _server.AcceptLoopAsync(_listener, _export);
    }

    public string Root { get; }

    public GoferServer Server => _server;

    public HostExport Export => _export;

    public string Path_(string relative) => Path.Combine(Root, relative);

    public P9TestClient Connect()
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(_socketPath));
        return new P9TestClient(s);
    }

    /// <summary>A session over an in-memory pipe pair instead of a socket (same server code path).</summary>
    public (Task Session, IDuplexPipe Client) ConnectInMemory()
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        var serverSide = new DuplexPipe(toServer.Reader, toClient.Writer);
        var clientSide = new DuplexPipe(toClient.Reader, toServer.Writer);
        return (_server.ServeAsync(serverSide, _export, "memory"), clientSide);
    }

    public void Dispose()
    {
        _server.Shutdown("test done");
        try
        {
            _accept.Wait(TimeSpan.FromSeconds(30));
            _server.WhenAllSessionsEnded().Wait(TimeSpan.FromSeconds(30));
        }
        catch (AggregateException)
        {
        }
        _server.Dispose();
        _export.Dispose();
        try
        {
            File.Delete(_socketPath);
            // Tests may leave read-only dirs behind; make everything deletable first.
            if (OperatingSystem.IsLinux())
            {
                // Never through a symlink: AllDirectories enumeration follows directory symlinks on Linux, and tests
                // put links to /etc and to canary trees in the export (as root this chmod-ed all of /etc to 0700).
                foreach (var d in RealDirectories(Root))
                    File.SetUnixFileMode(d, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static IEnumerable<string> RealDirectories(string root)
    {
        foreach (var d in Directory.EnumerateDirectories(root))
        {
            if (new DirectoryInfo(d).LinkTarget is not null)
                continue;
            yield return d;
            foreach (var sub in RealDirectories(d))
                yield return sub;
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
