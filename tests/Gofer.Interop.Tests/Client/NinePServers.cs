using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using P9.Protocol.Client;

namespace Gofer.Interop.Tests.Client;

/// <summary>A real 9P2000.L server process on a loopback port exporting a fresh temp directory.</summary>
public abstract class NinePServer : IAsyncDisposable
{
    private Process? _process;

    public string Root { get; } = Directory.CreateTempSubdirectory("p9client-").FullName;

    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    /// <summary>The aname to attach with.</summary>
    public abstract string AttachName { get; }

    public abstract string Name { get; }

    /// <summary>Largest msize the server grants.</summary>
    public abstract uint MaxMsize { get; }

    protected abstract ProcessStartInfo StartInfo(int port);

    /// <summary>True when the server picks its port and prints it (no bind-and-close race).</summary>
    protected virtual bool ReportsPort => false;

    public async Task StartAsync()
    {
        // Free port: bind 0, read it, close. A tiny race with other processes is retried by the caller's connect loop.
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
        var psi = StartInfo(port);
        psi.RedirectStandardError = true;
        psi.RedirectStandardOutput = true;
        psi.UseShellExecute = false;
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start " + psi.FileName);
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        if (ReportsPort)
        {
            // The server chose its own port (listen on :0) and prints "listening tcp:127.0.0.1:PORT" first.
            var line = await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(120));
            const string prefix = "listening tcp:127.0.0.1:";
            if (line is null || !line.StartsWith(prefix, StringComparison.Ordinal))
                throw new InvalidOperationException($"{Name} did not report its endpoint: {line}");
            EndPoint = new IPEndPoint(IPAddress.Loopback, int.Parse(line[prefix.Length..], System.Globalization.CultureInfo.InvariantCulture));
            // Keep draining stdout so the server never blocks on a full pipe.
            _ = _process.StandardOutput.ReadToEndAsync();
        }
        else
        {
            _process.OutputDataReceived += (_, _) => { };
            _process.BeginOutputReadLine();
        }
        // Wait (generously: CI is slow) until it accepts connections.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await s.ConnectAsync(EndPoint);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    public async Task<P9Client> ConnectAsync(uint msize = 1024 * 1024)
    {
        var pipe = await P9SocketPipe.ConnectTcpAsync(EndPoint);
        return await P9Client.ConnectAsync(pipe, new P9ClientOptions { MaxMessageSize = msize });
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { } p)
        {
            try
            {
                if (!p.HasExited)
                    p.Kill();
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
        GC.SuppressFinalize(this);
    }
}

/// <summary>diod: `diod -f -n -N -l 127.0.0.1:PORT -e DIR` (foreground, no auth, no user db); aname = DIR; msize ≤ 65536.</summary>
public sealed class DiodServer : NinePServer
{
    public override string AttachName => Root;

    public override string Name => "diod";

    public override uint MaxMsize => 65536;

    protected override ProcessStartInfo StartInfo(int port)
    {
        var psi = new ProcessStartInfo("diod");
        foreach (var a in new[] { "-f", "-n", "-N", "-l", $"127.0.0.1:{port}", "-e", Root })
            psi.ArgumentList.Add(a);
        return psi;
    }
}

/// <summary>Our own server: `gofer serve --root DIR --listen tcp:127.0.0.1:0`, run from the test's build output;
/// aname "" = the root.</summary>
public sealed class GoferServer : NinePServer
{
    public override string AttachName => "";

    public override string Name => "gofer";

    public override uint MaxMsize => 1024 * 1024;

    protected override bool ReportsPort => true;

    protected override ProcessStartInfo StartInfo(int port)
    {
        var psi = new ProcessStartInfo("dotnet");
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "gofer.dll"), "serve", "--root", Root, "--listen", "tcp:127.0.0.1:0" })
            psi.ArgumentList.Add(a);
        return psi;
    }
}
