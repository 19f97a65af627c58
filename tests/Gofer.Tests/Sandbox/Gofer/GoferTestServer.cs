using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Gofer.HostFs;
using Gofer.Sandbox.Gofer;
using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;
using Gofer.Server;
using CachePolicy = Gofer.Spec.CachePolicy;
using Microsoft.Extensions.Logging.Abstractions;
using P9.Protocol.Client;

namespace Gofer.Tests.Sandbox.GoferFs;

/// <summary>Which real 9P2000.L server the gofer filesystem tests talk to.</summary>
public enum GoferBackend
{
    /// <summary>Our server (GoferServer over HostExport), in-process, on a real Unix socket.</summary>
    Ours,

    /// <summary>diod as a child process on a loopback TCP port (the reference Linux 9P server).</summary>
    Diod,
}

/// <summary>
/// A real 9P server exporting a fresh temporary directory, reached over real sockets. The default backend is ours;
/// GOFER_TEST_9P_SERVER=diod switches the tests that do not name a backend to diod.
/// </summary>
internal sealed class GoferTestServer : IAsyncDisposable
{
    private GoferServer? _server;
    private HostExport? _export;
    private Socket? _listener;
    private Task? _accept;
    private string? _socketPath;
    private Process? _diod;
    private IPEndPoint? _diodEndPoint;
    private readonly List<GoferFileSystem> _mounted = [];

    private GoferTestServer(GoferBackend backend)
    {
        Backend = backend;
        Root = Directory.CreateTempSubdirectory("goferfs-").FullName;
    }

    public GoferBackend Backend { get; }

    public string Root { get; }

    /// <summary>Tattach's aname: ours exports its root as ""; diod wants the exported path.</summary>
    public string AttachName => Backend == GoferBackend.Diod ? Root : "";

    public string HostPath(string relative) => Path.Combine(Root, relative);

    public static GoferBackend DefaultBackend =>
        string.Equals(Environment.GetEnvironmentVariable("GOFER_TEST_9P_SERVER"), "diod", StringComparison.OrdinalIgnoreCase)
            ? GoferBackend.Diod
            : GoferBackend.Ours;

    public static async Task<GoferTestServer> StartAsync(GoferBackend? backend = null)
    {
        var s = new GoferTestServer(backend ?? DefaultBackend);
        try
        {
            if (s.Backend == GoferBackend.Ours)
            {
                s.StartOurs();
            }
            else
            {
                await s.StartDiodAsync();
            }

            return s;
        }
        catch
        {
            await s.DisposeAsync();
            throw;
        }
    }

    private void StartOurs()
    {
        var err = HostExport.TryOpen(Root, new HostExportOptions(), out var export);
        Assert.Equal(global::Gofer.HostFs.Native.Errno.None, err);
        _export = export!;
        _server = new GoferServer(new ServerOptions(), NullLoggerFactory.Instance);
        _socketPath = Root + ".sock";
        _listener = GoferServer.Bind(new UnixDomainSocketEndPoint(_socketPath));
        _accept = _server.AcceptLoopAsync(_listener, _export);
    }

    private async Task StartDiodAsync()
    {
        // A free loopback port: bind 0, read it, close (diod binds it a moment later).
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        _diodEndPoint = new IPEndPoint(IPAddress.Loopback, port);
        var psi = new ProcessStartInfo("diod") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-f", "-n", "-N", "-l", $"127.0.0.1:{port}", "-e", Root })
        {
            psi.ArgumentList.Add(a);
        }

        _diod = Process.Start(psi) ?? throw new InvalidOperationException("could not start diod");
        _diod.OutputDataReceived += (_, _) => { };
        _diod.ErrorDataReceived += (_, _) => { };
        _diod.BeginOutputReadLine();
        _diod.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await s.ConnectAsync(_diodEndPoint);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_diod.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>A new connection (one 9P session) as the pipe GoferFileSystem.CreateAsync takes.</summary>
    public async Task<IDuplexPipe> ConnectAsync()
    {
        if (Backend == GoferBackend.Ours)
        {
            return await P9SocketPipe.ConnectUnixAsync(_socketPath!);
        }

        return await P9SocketPipe.ConnectTcpAsync(_diodEndPoint!);
    }

    public async Task<GoferFileSystem> MountFsAsync(CachePolicy policy, bool readOnly = false, int maxDentries = 1000, long maxCachedBytes = 64L << 20)
    {
        var fs = await GoferFileSystem.CreateAsync(await ConnectAsync(), policy, readOnly, Credentials.Root,
            new GoferMountOptions { AttachName = AttachName, MaxCachedDentries = maxDentries, MaxCachedBytes = maxCachedBytes });
        _mounted.Add(fs);
        return fs;
    }

    /// <summary>A sandbox: tmpfs root with the gofer filesystem mounted at /mnt (flags as given).</summary>
    public async Task<(MountNamespace Ns, GoferFileSystem Fs)> SandboxAsync(CachePolicy policy, MountFlags flags = MountFlags.None, bool readOnly = false,
        int maxDentries = 1000, long maxCachedBytes = 64L << 20)
    {
        var fs = await MountFsAsync(policy, readOnly, maxDentries, maxCachedBytes);
        var ns = await MountNamespace.CreateAsync(new MountSpec("/", new TmpfsFileSystem()) { Source = "rootfs" });
        await ns.MkdirAsync("/mnt");
        await ns.MountAsync(new MountSpec("/mnt", fs) { Flags = flags, Source = Root });
        return (ns, fs);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var fs in _mounted)
        {
            await fs.DisposeAsync();
        }

        if (_server is not null)
        {
            _server.Shutdown("test done");
            try
            {
                if (_accept is not null)
                {
                    await _accept.WaitAsync(TimeSpan.FromSeconds(30));
                }

                await _server.WhenAllSessionsEnded().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
            }

            _server.Dispose();
            _export?.Dispose();
            File.Delete(_socketPath!);
        }

        if (_diod is { } p)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill();
                }

                await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (InvalidOperationException)
            {
            }

            p.Dispose();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
