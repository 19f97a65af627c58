using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Gofer.Interop.Tests.Guest;

/// <summary>The 9P2000.L server the guest kernel mounts.</summary>
public enum GuestServer
{
    /// <summary>diod from Debian: the reference the harness was validated against.</summary>
    Diod,

    /// <summary>Our own server, <c>gofer serve</c>, from this repository's build output.</summary>
    Gofer,
}

/// <summary>
/// Builds the server command lines for both transport shapes and finds the binaries.
/// Selection: env <c>GOFER_GUEST_SERVER=diod|gofer</c>, else <see cref="Default"/>.
/// Recording hook: env <c>GOFER_GUEST_RECORD_DIR</c> (or <see cref="RecordDir"/>) appends
/// <c>--record DIR/&lt;boot&gt;</c> to the Gofer command line.
/// </summary>
public static class GuestServers
{
    /// <summary>The server used when GOFER_GUEST_SERVER is not set: our own; diod is for comparison runs.</summary>
    public const GuestServer Default = GuestServer.Gofer;

    /// <summary>Set by code (or env GOFER_GUEST_RECORD_DIR) to record every session under this folder.</summary>
    public static string? RecordDir { get; set; } = Environment.GetEnvironmentVariable("GOFER_GUEST_RECORD_DIR");

    public static GuestServer Selected
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable("GOFER_GUEST_SERVER");
            if (string.IsNullOrWhiteSpace(env))
            {
                return Default;
            }

            return Enum.TryParse(env, ignoreCase: true, out GuestServer s)
                ? s
                : throw new InvalidOperationException($"GOFER_GUEST_SERVER='{env}' is neither diod nor gofer");
        }
    }

    /// <summary>The aname the guest passes in Tattach: diod serves the export named by its path.</summary>
    public static string AttachName(GuestServer server, string exportDir) =>
        server == GuestServer.Diod ? exportDir : string.Empty;

    /// <summary>argv of a server listening on 127.0.0.1:<paramref name="port"/>.</summary>
    public static IReadOnlyList<string> TcpCommand(GuestServer server, string exportDir, int port, string bootName) =>
        server switch
        {
            // -f foreground, -n no auth, -N no user database (numeric ids), -e the export.
            GuestServer.Diod => ["diod", "-f", "-n", "-N", "-L", "stderr", "-l", $"127.0.0.1:{port}", "-e", exportDir],
            GuestServer.Gofer => [.. GoferCommand(), "serve", "--root", exportDir, "--listen", $"tcp:127.0.0.1:{port}", .. RecordArgs(bootName)],
            _ => throw new ArgumentOutOfRangeException(nameof(server)),
        };

    /// <summary>argv of a server speaking on the inherited, connected descriptor <paramref name="fd"/>.</summary>
    public static IReadOnlyList<string> FdCommand(GuestServer server, string exportDir, int fd, string bootName) =>
        server switch
        {
            // -r/-w: serve the one connected client on these descriptors.
            GuestServer.Diod => ["diod", "-f", "-n", "-N", "-L", "stderr", "-r", $"{fd}", "-w", $"{fd}", "-e", exportDir],
            GuestServer.Gofer => [.. GoferCommand(), "serve", "--root", exportDir, "--io-fds", $"{fd}", .. RecordArgs(bootName)],
            _ => throw new ArgumentOutOfRangeException(nameof(server)),
        };

    private static IEnumerable<string> RecordArgs(string bootName) =>
        string.IsNullOrEmpty(RecordDir) ? [] : ["--record", Path.Combine(RecordDir, bootName)];

    /// <summary>
    /// The gofer executable: env GOFER_BIN, else the apphost or dll copied next to the tests
    /// (this project references src/Gofer), else src/Gofer/bin/*/net10.0.
    /// </summary>
    public static IReadOnlyList<string> GoferCommand()
    {
        string? env = Environment.GetEnvironmentVariable("GOFER_BIN");
        if (!string.IsNullOrEmpty(env))
        {
            return env.EndsWith(".dll", StringComparison.Ordinal) ? ["dotnet", env] : [env];
        }

        var dirs = new List<string> { AppContext.BaseDirectory };
        string repo = RepoRoot();
        foreach (string config in new[] { "Release", "Debug" })
        {
            dirs.Add(Path.Combine(repo, "src", "Gofer", "bin", config, "net10.0"));
        }

        foreach (string dir in dirs)
        {
            string apphost = Path.Combine(dir, "gofer");
            if (File.Exists(apphost))
            {
                return [apphost];
            }

            string dll = Path.Combine(dir, "gofer.dll");
            if (File.Exists(dll))
            {
                return ["dotnet", dll];
            }
        }

        throw new FileNotFoundException("gofer executable not found (build src/Gofer or set GOFER_BIN); looked in " + string.Join(", ", dirs));
    }

    /// <summary>The repository root: the nearest ancestor of the test binaries holding Gofer.sln.</summary>
    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Gofer.sln")))
            {
                return d.FullName;
            }
        }

        throw new DirectoryNotFoundException("Gofer.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>
    /// A loopback port that was free a moment ago (diod cannot bind port 0 and report it).
    /// A race with another process is possible; the server then fails to start and says so.
    /// </summary>
    public static int FreeLoopbackPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>Waits until something accepts connections on 127.0.0.1:port, or the process exits.</summary>
    public static async Task WaitListeningAsync(int port, Process server, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException($"server exited with code {server.ExitCode} before listening on port {port}");
            }

            try
            {
                using var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await c.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        throw new TimeoutException($"server not listening on 127.0.0.1:{port} after {timeout}");
    }
}
