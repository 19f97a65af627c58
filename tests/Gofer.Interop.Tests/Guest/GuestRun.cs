using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Gofer.Interop.Tests.Guest;

/// <summary>How the guest reaches the server.</summary>
public enum GuestTransport
{
    /// <summary>trans=tcp to 10.0.2.2:PORT through QEMU user-mode NAT to the host's 127.0.0.1:PORT.</summary>
    Tcp,

    /// <summary>
    /// Server on one end of a host socket pair (inherited fd); QEMU's virtio-serial chardev on the
    /// other; the guest mounts trans=fd over that port (through fdrelay, see guest/fdrelay.c).
    /// </summary>
    Fd,
}

/// <summary>One mount inside a boot: label, extra mount options and which checks run in it.</summary>
/// <param name="Label">Names the mount point and the work directory; unique within a boot.</param>
/// <param name="Options">Mount options after version/aname/trans, comma separated.</param>
/// <param name="Heavy">Whether the heavy checks (256 MiB file, 10 000 entries, fsx) run here.</param>
/// <param name="Extra">Heavy checks to run here even when <paramref name="Heavy"/> is false.</param>
public sealed record GuestMount(string Label, string Options, bool Heavy, IReadOnlyList<string>? Extra = null)
{
    /// <summary>The checks this mount runs, in the checker's order.</summary>
    public IEnumerable<string> Checks =>
        GuestChecks.All.Where(c => Heavy || !c.Heavy || (Extra?.Contains(c.Name) ?? false)).Select(c => c.Name);
}

/// <summary>One QEMU boot: a transport and the mounts made one after the other.</summary>
public sealed record GuestBoot(string Name, GuestTransport Transport, IReadOnlyList<GuestMount> Mounts, TimeSpan Timeout);

/// <summary>A check the guest's checker program runs (names match guest/checker.c).</summary>
public sealed record GuestCheck(string Name, bool Heavy);

public static class GuestChecks
{
    public static readonly IReadOnlyList<GuestCheck> All =
    [
        new("create_rw", false), new("append", false), new("truncate", false), new("sparse", false),
        new("big_file_256m", true), new("mkdir_rmdir", false), new("rename_file", false), new("rename_dir", false),
        new("hardlink", false), new("symlink", false), new("chmod", false), new("chown", false), new("utime", false),
        new("bigdir_10000", true), new("unlink_open", false), new("xattr", false), new("fcntl_lock", false),
        new("flock", false), new("mkfifo", false), new("statfs", false), new("rmtree", false), new("fsx_2000", false),
        new("fsx_20000", true),
    ];
}

/// <summary>
/// The boots the suite makes. TCG emulation is slow, so the heavy checks (256 MiB file, 10 000
/// entries, fsx) run in the cache=none TCP mount only, plus the 20 000-op fsx over the fd
/// transport: under cache=loose the 6.1 kernel writes back page by page and the three heavy
/// checks alone took ~14 min (measured against diod). Every mount runs fsx_2000.
/// uname=root: diod with -N cannot look up the default uname "nobody" and refuses the attach.
/// </summary>
public static class GuestPlan
{
    public const string CommonOptions = "uname=root";

    public static readonly GuestBoot Tcp = new(
        "tcp",
        GuestTransport.Tcp,
        [
            new("none_user", $"cache=none,access=user,msize=1048576,{CommonOptions}", Heavy: true),
            new("loose_client", $"cache=loose,access=client,msize=1048576,{CommonOptions}", Heavy: false),
            new("mmap_client", $"cache=mmap,access=client,{CommonOptions}", Heavy: false),
        ],
        TimeSpan.FromMinutes(30));

    public static readonly GuestBoot Fd = new(
        "fd",
        GuestTransport.Fd,
        [new("fd_none_user", $"cache=none,access=user,msize=1048576,{CommonOptions}", Heavy: false, Extra: ["fsx_20000"])],
        TimeSpan.FromMinutes(15));

    public static readonly IReadOnlyList<GuestBoot> Boots = [Tcp, Fd];
}

/// <summary>Outcome of one check in one mount.</summary>
public sealed record CheckOutcome(string Label, string Name, bool Passed, string Detail);

/// <summary>Everything one boot produced, parsed from the serial console.</summary>
public sealed partial class GuestRunResult
{
    public required GuestBoot Boot { get; init; }
    public required GuestServer Server { get; init; }
    public required IReadOnlyList<string> Console { get; init; }
    public required TimeSpan Elapsed { get; init; }
    public required bool TimedOut { get; init; }
    public required string ServerLog { get; init; }
    public string? LogFile { get; init; }

    /// <summary>Console parsed into per-mount results (label → check → outcome).</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, CheckOutcome>> Checks => _checks ??= ParseChecks(Console);

    private IReadOnlyDictionary<string, IReadOnlyDictionary<string, CheckOutcome>>? _checks;

    public bool GuestFinished => Console.Any(l => l.Contains("GUEST-END", StringComparison.Ordinal));

    /// <summary>The MOUNT-FAIL line of a mount, if it failed.</summary>
    public string? MountFailure(string label) =>
        Console.FirstOrDefault(l => l.Contains($"MOUNT-FAIL {label} ", StringComparison.Ordinal));

    /// <summary>The /proc/mounts line the guest printed after mounting.</summary>
    public string? MountLine(string label) =>
        Console.FirstOrDefault(l => l.Contains($"MOUNT-OK {label} ", StringComparison.Ordinal));

    public bool Done(string label) => Console.Any(l => l.Contains($"DONE {label}", StringComparison.Ordinal));

    /// <summary>Guest seconds spent in one mount (RUN-END start=… end=…), or null.</summary>
    public double? MountSeconds(string label)
    {
        foreach (string l in Console)
        {
            Match m = RunEndRegex().Match(l);
            if (m.Success && m.Groups[1].Value == label)
            {
                return double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture) - double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    public string Tail(int lines = 60)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"--- guest console ({Boot.Name}, server {Server}, {Elapsed.TotalSeconds:F0}s{(TimedOut ? ", TIMED OUT" : "")}{(LogFile is null ? "" : ", full log " + LogFile)}), last {lines} lines ---");
        foreach (string l in Console.Skip(Math.Max(0, Console.Count - lines)))
        {
            sb.AppendLine(l);
        }

        if (!string.IsNullOrWhiteSpace(ServerLog))
        {
            string[] s = ServerLog.Split('\n');
            sb.AppendLine("--- server output, last 20 lines ---");
            foreach (string l in s.Skip(Math.Max(0, s.Length - 20)))
            {
                sb.AppendLine(l);
            }
        }

        return sb.ToString();
    }

    /// <summary>Failing checks of every mount, one per line, for summaries.</summary>
    public string Summary()
    {
        var sb = new StringBuilder();
        foreach (GuestMount m in Boot.Mounts)
        {
            Checks.TryGetValue(m.Label, out var got);
            int pass = got?.Values.Count(c => c.Passed) ?? 0, fail = got?.Values.Count(c => !c.Passed) ?? 0;
            sb.AppendLine(CultureInfo.InvariantCulture, $"{Boot.Name}/{m.Label}: {pass} passed, {fail} failed, {m.Checks.Count() - pass - fail} missing, {MountSeconds(m.Label)?.ToString("F1", CultureInfo.InvariantCulture) ?? "?"}s");
            foreach (CheckOutcome c in got?.Values.Where(c => !c.Passed) ?? [])
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"  FAIL {c.Name}: {c.Detail}");
            }
        }

        return sb.ToString();
    }

    internal static IReadOnlyDictionary<string, IReadOnlyDictionary<string, CheckOutcome>> ParseChecks(IEnumerable<string> console)
    {
        var byLabel = new Dictionary<string, Dictionary<string, CheckOutcome>>(StringComparer.Ordinal);
        foreach (string line in console)
        {
            // Not anchored: a kernel message may share the serial line with our output.
            Match m = CheckRegex().Match(line);
            if (!m.Success)
            {
                continue;
            }

            string label = m.Groups[1].Value, name = m.Groups[2].Value;
            if (!byLabel.TryGetValue(label, out var checks))
            {
                byLabel[label] = checks = new Dictionary<string, CheckOutcome>(StringComparer.Ordinal);
            }

            checks[name] = new CheckOutcome(label, name, m.Groups[3].Value == "PASS", m.Groups[4].Value.Trim());
        }

        return byLabel.ToDictionary(kv => kv.Key, kv => (IReadOnlyDictionary<string, CheckOutcome>)kv.Value, StringComparer.Ordinal);
    }

    [GeneratedRegex(@"CHECK (\S+) (\S+) (PASS|FAIL) ?(.*)$")]
    private static partial Regex CheckRegex();

    [GeneratedRegex(@"RUN-END (\S+) start=([0-9.]+) end=([0-9.]+)")]
    private static partial Regex RunEndRegex();
}

/// <summary>Boots QEMU against a freshly started server and collects the console.</summary>
public static class GuestRunner
{
    /// <summary>
    /// Starts the server on a new temp export, boots the guest, waits for power-off or the boot's
    /// timeout, and kills (by PID) every process it started. Never throws for guest failures:
    /// they are in the result; throws only when the host side cannot start.
    /// </summary>
    public static async Task<GuestRunResult> RunAsync(GuestImage image, GuestBoot boot, GuestServer server)
    {
        string export = Directory.CreateTempSubdirectory($"gofer-guest-{boot.Name}-").FullName;
        var console = new List<string>();
        var serverLog = new StringBuilder();
        Process? qemu = null, serverProc = null;
        int? serverPid = null;
        string pidFile = Path.Combine(export + ".pid");
        var sw = Stopwatch.StartNew();
        bool timedOut = false;
        try
        {
            string aname = GuestServers.AttachName(server, export);
            var append = new StringBuilder("console=ttyS0 quiet loglevel=3 panic=-1");
            if (aname.Length > 0)
            {
                append.Append(" gofer.aname=").Append(aname);
            }

            List<string> qemuArgs =
            [
                "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "1024",
                "-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none", "-serial", "stdio",
                "-kernel", image.Kernel, "-initrd", image.Initramfs,
            ];

            List<string> argv;
            if (boot.Transport == GuestTransport.Tcp)
            {
                int port = GuestServers.FreeLoopbackPort();
                IReadOnlyList<string> cmd = GuestServers.TcpCommand(server, export, port, boot.Name);
                serverProc = Start(cmd, line => { lock (serverLog) { serverLog.AppendLine(line); } }, line => { lock (serverLog) { serverLog.AppendLine(line); } });
                serverPid = serverProc.Id;
                await GuestServers.WaitListeningAsync(port, serverProc, TimeSpan.FromSeconds(60));
                foreach (GuestMount m in boot.Mounts)
                {
                    append.Append(CultureInfo.InvariantCulture, $" gofer.run={m.Label}~tcp:{port}~{m.Options}~{SetOf(m)}");
                }

                // User-mode NAT only: the guest's 10.0.2.2 is the host's loopback.
                qemuArgs.AddRange(["-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0", "-append", append.ToString()]);
                argv = qemuArgs;
            }
            else
            {
                foreach (GuestMount m in boot.Mounts)
                {
                    append.Append(CultureInfo.InvariantCulture, $" gofer.run={m.Label}~fd:gofer.9p~{m.Options}~{SetOf(m)}");
                }

                // fdlaunch makes the socket pair: the server gets its end as fd 3, QEMU gets the
                // other as fd 4 ({fd} below) for a virtio-serial port's socket chardev.
                qemuArgs.AddRange(["-device", "virtio-serial-pci", "-chardev", "socket,id=p9,fd={fd}", "-device", "virtserialport,chardev=p9,name=gofer.9p", "-append", append.ToString()]);
                argv = [image.FdLaunch, pidFile, "3", "4", "--", .. GuestServers.FdCommand(server, export, 3, boot.Name), "--", .. qemuArgs];
            }

            qemu = Start(argv, line => { lock (console) { console.Add(line.TrimEnd('\r')); } }, line => { lock (serverLog) { serverLog.AppendLine(line); } });
            using var cts = new CancellationTokenSource(boot.Timeout);
            try
            {
                await qemu.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
            }

            if (boot.Transport == GuestTransport.Fd && File.Exists(pidFile) &&
                int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int pid))
            {
                serverPid = pid;
            }
        }
        finally
        {
            KillQuietly(qemu);
            if (serverProc is not null)
            {
                KillQuietly(serverProc);
            }
            else if (serverPid is int p)
            {
                KillPid(p);
            }

            // Output events may still be in flight after exit; WaitForExit() drains them.
            qemu?.WaitForExit(5000);
            serverProc?.WaitForExit(5000);
            qemu?.Dispose();
            serverProc?.Dispose();
            TryDelete(export);
            File.Delete(pidFile);
        }

        string[] lines;
        lock (console)
        {
            lines = [.. console];
        }

        string? logFile = null;
        try
        {
            string logs = Path.Combine(image.Directory, "logs");
            Directory.CreateDirectory(logs);
            logFile = Path.Combine(logs, $"{boot.Name}-{server}.log".ToLowerInvariant());
            await File.WriteAllLinesAsync(logFile, lines);
        }
        catch (IOException)
        {
            logFile = null;
        }

        return new GuestRunResult
        {
            Boot = boot,
            Server = server,
            Console = lines,
            Elapsed = sw.Elapsed,
            TimedOut = timedOut,
            ServerLog = serverLog.ToString(),
            LogFile = logFile,
        };
    }

    // Always the explicit list, so the guest runs exactly what the tests expect.
    private static string SetOf(GuestMount m) => string.Join('+', m.Checks);

    private static Process Start(IReadOnlyList<string> argv, Action<string> onOut, Action<string> onErr)
    {
        var psi = new ProcessStartInfo(argv[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in argv.Skip(1))
        {
            psi.ArgumentList.Add(a);
        }

        var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) { onOut(e.Data); } };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) { onErr(e.Data); } };
        if (!p.Start())
        {
            throw new InvalidOperationException("could not start " + argv[0]);
        }

        p.StandardInput.Close();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static void KillQuietly(Process? p)
    {
        try
        {
            if (p is not null && !p.HasExited)
            {
                p.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // Exited in between.
        }
    }

    private static void KillPid(int pid)
    {
        try
        {
            using Process p = Process.GetProcessById(pid);
            if (!p.HasExited)
            {
                p.Kill();
                p.WaitForExit(5000);
            }
        }
        catch (ArgumentException)
        {
            // Already gone.
        }
        catch (InvalidOperationException)
        {
            // Exited in between.
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS temp cleaner; the export content is test data only.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
