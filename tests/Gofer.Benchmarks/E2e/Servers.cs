using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Gofer.Benchmarks.E2e;

/// <summary>One server under test, started by the driver and stopped by PID.</summary>
internal sealed class ServerUnderTest : IDisposable
{
    private readonly Process _process;
    private readonly string? _statsFile;
    private readonly Queue<string> _tail = new();

    private ServerUnderTest(string name, Process process, int port, string aname, string? statsFile)
    {
        Name = name;
        _process = process;
        Port = port;
        Aname = aname;
        _statsFile = statsFile;
    }

    public string Name { get; }

    public int Port { get; private set; }

    public string Aname { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Tail
    {
        get
        {
            lock (_tail)
                return string.Join('\n', _tail);
        }
    }

    /// <summary><c>gofer serve --root EXP --listen tcp:127.0.0.1:0 --stats-file F</c>; the port comes from its "listening" line.</summary>
    public static ServerUnderTest StartGofer(string gofer, string export, string workDir)
    {
        string stats = Path.Combine(workDir, "gofer.stats");
        var psi = Psi(gofer, "serve", "--root", export, "--listen", "tcp:127.0.0.1:0", "--stats-file", stats, "--log-level", "Warning");
        var p = Children.Start(psi);
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var s = new ServerUnderTest("gofer", p, 0, "", stats);
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            if (e.Data.StartsWith("listening tcp:", StringComparison.Ordinal))
                listening.TrySetResult(e.Data);
            s.Keep(e.Data);
        };
        p.ErrorDataReceived += (_, e) => s.Keep(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!listening.Task.Wait(TimeSpan.FromSeconds(60)))
            throw new InvalidOperationException("gofer did not print its listening line:\n" + s.Tail);
        string line = listening.Task.Result;
        s.Port = int.Parse(line[(line.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
        return s;
    }

    /// <summary><c>diod -f -n -N -l 127.0.0.1:PORT -e EXP</c> (foreground, no auth, no user db); aname = the export path.</summary>
    public static ServerUnderTest StartDiod(string diod, string export, string workDir)
    {
        int port = FreePort();
        var psi = Psi(diod, "-f", "-n", "-N", "-l", $"127.0.0.1:{port}", "-e", export, "-L", Path.Combine(workDir, "diod.log"));
        return Started("diod", psi, port, export);
    }

    /// <summary><c>p9ideal PORT</c>: canned replies, the transport ceiling.</summary>
    public static ServerUnderTest StartIdeal(string ideal)
    {
        int port = FreePort();
        return Started("p9ideal", Psi(ideal, port.ToString(CultureInfo.InvariantCulture)), port, "");
    }

    private static ServerUnderTest Started(string name, ProcessStartInfo psi, int port, string aname)
    {
        var p = Children.Start(psi);
        var s = new ServerUnderTest(name, p, port, aname, null);
        p.OutputDataReceived += (_, e) => s.Keep(e.Data);
        p.ErrorDataReceived += (_, e) => s.Keep(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (p.HasExited)
                throw new InvalidOperationException($"{name} exited at start:\n{s.Tail}");
            try
            {
                using var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                c.Connect(IPAddress.Loopback, port);
                return s;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                Thread.Sleep(50);
            }
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
            return;
        lock (_tail)
        {
            _tail.Enqueue(line);
            while (_tail.Count > 40)
                _tail.Dequeue();
        }
    }

    public bool HasStats => _statsFile is not null;

    /// <summary>Asks gofer for a fresh stats line (SIGUSR1) and waits for it: (requests, allocated bytes).</summary>
    public (long Requests, long AllocBytes)? Stats()
    {
        if (_statsFile is null)
            return null;
        long before = ReadStat(_statsFile, "seq") ?? 0;
        if (!Native.Kill(Pid, Native.SigUsr1))
            return null;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            if ((ReadStat(_statsFile, "seq") ?? 0) > before)
                return (ReadStat(_statsFile, "requests") ?? 0, ReadStat(_statsFile, "alloc_bytes") ?? 0);
            Thread.Sleep(5);
        }
        return null;
    }

    private static long? ReadStat(string file, string key)
    {
        try
        {
            foreach (var kv in File.ReadAllText(file).Split(' ', '\n'))
            {
                int eq = kv.IndexOf('=');
                if (eq > 0 && kv.AsSpan(0, eq).SequenceEqual(key))
                    return long.Parse(kv.AsSpan(eq + 1), CultureInfo.InvariantCulture);
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    public static ProcessStartInfo Psi(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        return psi;
    }

    public static int FreePort()
    {
        using var l = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        l.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)l.LocalEndPoint!).Port;
    }

    public void Dispose() => Children.Stop(_process);
}
