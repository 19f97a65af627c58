using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Gofer.Benchmarks.E2e;

/// <summary>
/// <c>Gofer.Benchmarks e2e</c>: gofer against diod against p9ideal with p9load, in one run, same export, servers
/// alternating per row; then gofer's start time, idle RSS and allocations per request. Prints one markdown report.
/// See tests/Gofer.Benchmarks/README.md (scripts/bench.sh builds the tools and calls this).
/// </summary>
internal static class E2eCommand
{
    private sealed class Options
    {
        public string Gofer = "artifacts/aot/gofer";
        public string P9load = "artifacts/bench/tools/p9load";
        public string P9ideal = "artifacts/bench/tools/p9ideal";
        public string Diod = "/usr/sbin/diod";
        public double Secs = 5, Warm = 1;
        public int Spawns = 20;
        public string Out = "artifacts/bench/latest.md";
        public string? Only;
        public bool NoStart;
        public string? ExportRoot;
    }

    private sealed record Row(string Workload, string Path, int Conns, int Depth, string Msize, Target Target)
    {
        public bool IsIo => Workload is "read" or "write";

        public string Label => $"{Workload} c{Conns}d{Depth}" + (IsIo ? (Msize == "65536" ? " m64K" : " m1M") : "");

        public string Unit => IsIo ? "MB/s" : Workload == "readdir" ? "entries/s" : "ops/s";
    }

    /// <summary>What a row must reach: Gofer/diod ≥ MinDiod and Gofer/ideal ≥ MinIdeal (0 = not a target).</summary>
    private sealed record Target(double MinDiod, double MinIdeal)
    {
        public override string ToString()
        {
            var parts = new List<string>();
            if (MinDiod > 0)
                parts.Add($"≥{MinDiod:0.0#}× diod");
            if (MinIdeal > 0)
                parts.Add($"≥{MinIdeal:P0} ideal");
            return string.Join(", ", parts);
        }
    }

    private sealed record Cell(double Value, double OtherCpu, double ServerCpu, double ClientCpu, double P50, long Errors, string? Failure, double? BytesPerReq);

    public static int Run(string[] args)
    {
        var o = new Options();
        bool quick = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException("missing value after " + args[i]);
            switch (args[i])
            {
                case "--quick": quick = true; break;
                case "-t": o.Secs = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "-w": o.Warm = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--gofer": o.Gofer = Next(); break;
                case "--p9load": o.P9load = Next(); break;
                case "--p9ideal": o.P9ideal = Next(); break;
                case "--diod": o.Diod = Next(); break;
                case "--spawns": o.Spawns = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--out": o.Out = Next(); break;
                case "--only": o.Only = Next(); break;
                case "--no-start": o.NoStart = true; break;
                case "--export-root": o.ExportRoot = Next(); break;
                default:
                    Console.Error.WriteLine($"e2e: unknown argument '{args[i]}'\n" +
                        "usage: e2e [--quick] [-t SECS] [-w SECS] [--only SUBSTR] [--spawns N] [--no-start] [--out FILE]\n" +
                        "           [--gofer PATH] [--p9load PATH] [--p9ideal PATH] [--diod PATH] [--export-root DIR]");
                    return 2;
            }
        }
        if (quick)
        {
            o.Secs = Math.Min(o.Secs, 1);
            o.Warm = Math.Min(o.Warm, 0.5);
            o.Spawns = Math.Min(o.Spawns, 5);
        }
        foreach (var (what, path) in new[] { ("gofer", o.Gofer), ("p9load", o.P9load), ("p9ideal", o.P9ideal), ("diod", o.Diod) })
        {
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"e2e: {what} not found at {path}");
                return 2;
            }
        }
        o.Gofer = Path.GetFullPath(o.Gofer);

        Children.InstallHandlers();
        string work = Directory.CreateTempSubdirectory("gofer-bench-").FullName;
        try
        {
            return RunAll(o, work);
        }
        finally
        {
            Children.KillAll();
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"e2e: could not remove {work}: {e.Message}");
            }
        }
    }

    private static List<Row> Rows()
    {
        var rows = new List<Row>();
        foreach (var (c, d) in new[] { (4, 16), (1, 1) })
        {
            bool wide = c == 4;
            rows.Add(new Row("getattr", "a/b/c", c, d, "65536", new Target(wide ? 3 : 1, wide ? 0.5 : 0)));
            rows.Add(new Row("walkclunk", "a/b/c", c, d, "65536", new Target(wide ? 3 : 1, 0)));
            rows.Add(new Row("create", "scratch", c, d, "65536", new Target(wide ? 3 : 1, 0)));
            rows.Add(new Row("readdir", "d1000", c, d, "65536", new Target(wide ? 3 : 1, 0)));
        }
        foreach (var wl in new[] { "read", "write" })
        {
            foreach (var (c, d) in new[] { (4, 16), (1, 1) })
            {
                rows.Add(new Row(wl, wl == "read" ? "big" : "scratch", c, d, "65536", new Target(1.2, 0)));
                rows.Add(new Row(wl, wl == "read" ? "big" : "scratch", c, d, "1048600", new Target(0, 0.7)));
            }
        }
        return rows;
    }

    /// <summary>
    /// Where the export lives: <c>--export-root</c>, else a tmpfs (/dev/shm) when there is one with room, else the work
    /// directory. Why tmpfs by default: on ext4, a create row leaves tens of thousands of inodes deleted in the last
    /// ~35 s, which ext4's allocator skips one by one (<c>recently_deleted</c>), so the next create cell runs several
    /// times slower whatever the server — back-to-back runs of one server measured 40k, 12.8k, 2.6k, 1.4k ops/s — and
    /// the row order, not the servers, decides the ratio. tmpfs keeps no such state between cells.
    /// </summary>
    private static string ExportParent(Options o, string work)
    {
        if (o.ExportRoot is not null)
            return o.ExportRoot;
        try
        {
            var shm = new DriveInfo("/dev/shm");
            if (shm.DriveFormat == "tmpfs" && shm.AvailableFreeSpace > 512L * 1024 * 1024)
                return "/dev/shm";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
        }
        return work;
    }

    private static string FileSystemOf(string path)
    {
        string full = Path.GetFullPath(path);
        var best = DriveInfo.GetDrives()
            .Where(d => full == d.Name.TrimEnd('/') || full.StartsWith(d.Name.EndsWith('/') ? d.Name : d.Name + "/", StringComparison.Ordinal))
            .OrderByDescending(d => d.Name.Length).FirstOrDefault();
        return best is null ? "?" : $"{best.DriveFormat} at {best.Name}";
    }

    private static int RunAll(Options o, string work)
    {
        string export = Path.Combine(Path.GetFullPath(ExportParent(o, work)), "gofer-bench-exp-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            return RunAll(o, work, export);
        }
        finally
        {
            try
            {
                Directory.Delete(export, recursive: true);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"e2e: could not remove {export}: {e.Message}");
            }
        }
    }

    private static int RunAll(Options o, string work, string export)
    {
        Console.Error.WriteLine($"e2e: preparing export {export} ({FileSystemOf(export)})");
        PrepareExport(export);

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} CPUs, " +
            $"load average {LoadAverage()}; p9load -t {o.Secs} -w {o.Warm} per cell; export on {FileSystemOf(export)}; gofer = {o.Gofer}");
        report.AppendLine();

        var rows = Rows().Where(r => o.Only is null || r.Label.Contains(o.Only, StringComparison.Ordinal)).ToList();
        var results = new Dictionary<(Row, string), Cell>();
        using (var gofer = ServerUnderTest.StartGofer(o.Gofer, export, work))
        using (var diod = ServerUnderTest.StartDiod(o.Diod, export, work))
        using (var ideal = ServerUnderTest.StartIdeal(o.P9ideal))
        {
            var servers = new[] { gofer, diod, ideal };
            for (int i = 0; i < rows.Count; i++)
            {
                var row = rows[i];
                for (int k = 0; k < servers.Length; k++)
                {
                    // Rotate who goes first so slow drift in machine load does not always favour the same server.
                    var s = servers[(i + k) % servers.Length];
                    if (s == diod && row.Msize != "65536")
                        continue; // diod caps msize at 65536: a 1 MiB row would just repeat its 64K row
                    if (s == ideal && row.Workload == "readdir")
                        continue; // p9ideal answers every Treaddir empty: no entries to count
                    var cell = RunCell(o, s, row);
                    results[(row, s.Name)] = cell;
                    Console.Error.WriteLine($"e2e: {row.Label,-20} {s.Name,-8} {Fmt(cell.Value),12} {row.Unit,-9} other_cpu={cell.OtherCpu:0.00} server_cpu={cell.ServerCpu:0.00}" +
                        (cell.BytesPerReq is { } b ? $" alloc={b:0.###} B/req" : "") + (cell.Failure is null ? "" : " FAILED: " + cell.Failure));
                }
            }
        }

        AppendTable(report, rows, results);

        if (!o.NoStart)
        {
            report.AppendLine();
            AppendStart(report, o, export, work);
        }

        string text = report.ToString();
        Console.Out.Write(text);
        string? dir = Path.GetDirectoryName(Path.GetFullPath(o.Out));
        if (dir is not null)
            Directory.CreateDirectory(dir);
        File.WriteAllText(o.Out, text);
        Console.Error.WriteLine($"e2e: report written to {o.Out}");
        return 0;
    }

    private static void PrepareExport(string export)
    {
        Directory.CreateDirectory(export);
        var rng = new Random(9);
        var chunk = new byte[1 << 20];
        using (var big = File.Create(Path.Combine(export, "big")))
        {
            for (int i = 0; i < 64; i++)
            {
                rng.NextBytes(chunk);
                big.Write(chunk);
            }
        }
        string d1000 = Path.Combine(export, "d1000");
        Directory.CreateDirectory(d1000);
        for (int i = 0; i < 1000; i++)
            File.WriteAllText(Path.Combine(d1000, $"f{i:D4}"), "x");
        Directory.CreateDirectory(Path.Combine(export, "a", "b"));
        File.WriteAllText(Path.Combine(export, "a", "b", "c"), "small file\n");
        Directory.CreateDirectory(Path.Combine(export, "scratch"));
    }

    private static Cell RunCell(Options o, ServerUnderTest s, Row row)
    {
        if (s.HasExited)
            return new Cell(0, 0, 0, 0, 0, 0, $"{s.Name} has exited: {s.Tail}", null);
        var psi = ServerUnderTest.Psi(o.P9load,
            "-s", $"tcp:127.0.0.1:{s.Port}", "-a", s.Aname, "-W", row.Workload, "-p", row.Path,
            "-c", row.Conns.ToString(CultureInfo.InvariantCulture), "-d", row.Depth.ToString(CultureInfo.InvariantCulture),
            "-m", row.Msize, "-t", o.Secs.ToString(CultureInfo.InvariantCulture), "-w", o.Warm.ToString(CultureInfo.InvariantCulture),
            "-T", "30", "-x", s.Pid.ToString(CultureInfo.InvariantCulture));
        // Same RPC sequence for everyone: diod has no Tunlinkat, so remove with Tremove everywhere.
        if (row.Workload is "create" or "write")
            psi.ArgumentList.Add("-R");
        // Allocation is counted over the steady state only: from just after p9load's warm-up (connections made,
        // fids walked, pools and buffers at their working sizes) to just before its measured window ends (before the
        // teardown clunks). Stats are null for servers without --stats-file.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var p = Children.Start(psi);
        var errTask = p.StandardError.ReadToEndAsync();
        var outTask = p.StandardOutput.ReadToEndAsync();
        (long Requests, long AllocBytes)? before = null, after = null;
        if (s.HasStats)
        {
            SleepUntil(clock, o.Warm + 0.25);
            before = s.Stats();
            SleepUntil(clock, o.Warm + o.Secs - 0.25);
            after = s.Stats();
        }
        p.WaitForExit();
        string stdout = outTask.Result;
        string stderr = errTask.Result;
        Children.Forget(p);

        var kv = ParseResult(stdout);
        if (p.ExitCode != 0 || kv is null)
        {
            string why = $"p9load exit {p.ExitCode}: {FirstLine(stderr)}";
            return new Cell(0, 0, 0, 0, 0, 0, why, null);
        }
        string key = row.IsIo ? "mb_per_s" : row.Workload == "readdir" ? "entries_per_s" : "ops_per_s";
        double? perReq = null;
        if (before is { } b && after is { } a && a.Requests > b.Requests)
            perReq = (double)(a.AllocBytes - b.AllocBytes) / (a.Requests - b.Requests);
        return new Cell(Get(kv, key), Get(kv, "other_cpu"), Get(kv, "server_cpu"), Get(kv, "client_cpu"), Get(kv, "p50_us"),
            (long)Get(kv, "errors"), null, perReq);
    }

    private static void SleepUntil(System.Diagnostics.Stopwatch clock, double seconds)
    {
        var wait = TimeSpan.FromSeconds(seconds) - clock.Elapsed;
        if (wait > TimeSpan.Zero)
            Thread.Sleep(wait);
    }

    private static Dictionary<string, string>? ParseResult(string stdout)
    {
        foreach (var line in stdout.Split('\n'))
        {
            if (!line.StartsWith("RESULT ", StringComparison.Ordinal))
                continue;
            var kv = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var part in line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
            {
                int eq = part.IndexOf('=');
                if (eq > 0)
                    kv[part[..eq]] = part[(eq + 1)..];
            }
            return kv;
        }
        return null;
    }

    private static double Get(Dictionary<string, string> kv, string key) =>
        kv.TryGetValue(key, out var v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : 0;

    private static string FirstLine(string s)
    {
        s = s.Trim();
        int nl = s.IndexOf('\n');
        return nl < 0 ? s : s[..nl];
    }

    private static void AppendTable(StringBuilder sb, List<Row> rows, Dictionary<(Row, string), Cell> results)
    {
        sb.AppendLine("| row | unit | Gofer | diod | p9ideal | Gofer/diod | Gofer/ideal | target | met? | Gofer B/req | max other_cpu | Gofer cpu | diod cpu |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|");
        int met = 0, targets = 0;
        foreach (var row in rows)
        {
            results.TryGetValue((row, "gofer"), out var g);
            results.TryGetValue((row, "diod"), out var d);
            results.TryGetValue((row, "p9ideal"), out var i);
            double? rd = g is not null && d is not null && d.Value > 0 && g.Failure is null ? g.Value / d.Value : null;
            double? ri = g is not null && i is not null && i.Value > 0 && g.Failure is null ? g.Value / i.Value : null;
            bool ok = true;
            bool any = false;
            if (row.Target.MinDiod > 0)
            {
                any = true;
                ok &= rd is { } x && x >= row.Target.MinDiod;
            }
            if (row.Target.MinIdeal > 0)
            {
                any = true;
                ok &= ri is { } y && y >= row.Target.MinIdeal;
            }
            if (any)
            {
                targets++;
                if (ok)
                    met++;
            }
            double other = new[] { g, d, i }.Where(c => c is not null).Select(c => c!.OtherCpu).DefaultIfEmpty(0).Max();
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Label} | {row.Unit} | {Show(g)} | {Show(d)} | {Show(i)} | {Ratio(rd)} | {Ratio(ri)} | {row.Target} | {(any ? (ok ? "yes" : "**no**") : "")} | " +
                $"{(g?.BytesPerReq is { } b ? b.ToString("0.###", CultureInfo.InvariantCulture) : "–")} | {other:0.00} | {g?.ServerCpu ?? 0:0.00} | {d?.ServerCpu ?? 0:0.00} |");
        }
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Throughput targets met: {met} of {targets}.");
        var allocRows = rows.Select(r => results.TryGetValue((r, "gofer"), out var c) ? (r, c) : (r, null))
            .Where(t => t.Item2?.BytesPerReq is not null).ToList();
        if (allocRows.Count > 0)
        {
            var worst = allocRows.MaxBy(t => t.Item2!.BytesPerReq!.Value);
            bool allocOk = allocRows.All(t => t.Item2!.BytesPerReq < 1);
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"Allocation target (< 1 byte allocated per request in every row): {(allocOk ? "met" : "**not met**")}; worst {worst.r.Label} at {worst.Item2!.BytesPerReq:0.###} B/req.");
        }
    }

    private static string Show(Cell? c) => c is null ? "–" : c.Failure is not null ? "FAIL" : Fmt(c.Value) + (c.Errors > 0 ? $" ({c.Errors} err)" : "");

    private static string Fmt(double v) => v >= 1000 ? v.ToString("#,0", CultureInfo.InvariantCulture) : v.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Ratio(double? r) => r is { } x ? x.ToString("0.00", CultureInfo.InvariantCulture) + "×" : "–";

    /// <summary>
    /// Start time: from Process.Start to the Rversion on a fresh connection (the child is told to listen on a unix
    /// socket and prints "listening …" when bound; the probe connects as soon as it reads that line). Then Tattach
    /// and VmRSS. Median of N spawns.
    /// </summary>
    private static void AppendStart(StringBuilder sb, Options o, string export, string work)
    {
        var times = new List<double>();
        var rss = new List<long>();
        string? failure = null;
        for (int n = 0; n < o.Spawns; n++)
        {
            string sock = Path.Combine(work, $"start{n}.sock");
            var psi = ServerUnderTest.Psi(o.Gofer, "serve", "--root", export, "--listen", "unix:" + sock, "--log-level", "Warning");
            var sw = Stopwatch.StartNew();
            var p = Children.Start(psi);
            try
            {
                string? line;
                while ((line = p.StandardOutput.ReadLine()) is not null && !line.StartsWith("listening unix:", StringComparison.Ordinal))
                {
                }
                if (line is null)
                {
                    failure = "gofer exited before listening: " + FirstLine(p.StandardError.ReadToEnd());
                    break;
                }
                using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                s.Connect(new UnixDomainSocketEndPoint(sock));
                MiniClient.Version(s);
                times.Add(sw.Elapsed.TotalMilliseconds);
                MiniClient.Attach(s, "");
                Thread.Sleep(200); // let the attach settle (tiered JIT, thread pool) before reading RSS
                rss.Add(Native.RssKiB(p.Id));
            }
            finally
            {
                Children.Stop(p);
            }
        }
        sb.AppendLine(CultureInfo.InvariantCulture, $"Start ({o.Spawns} spawns of `{Path.GetFileName(o.Gofer)} serve --listen unix:… --log-level Warning`):");
        if (failure is not null || times.Count == 0)
        {
            sb.AppendLine("- FAILED: " + (failure ?? "no spawn completed"));
            return;
        }
        times.Sort();
        rss.Sort();
        double median = times[times.Count / 2];
        double rssMb = rss[rss.Count / 2] / 1024.0;
        sb.AppendLine(CultureInfo.InvariantCulture, $"- spawn → Rversion: median {median:0.0} ms (min {times[0]:0.0}, max {times[^1]:0.0}); target ≤ 20 ms: {(median <= 20 ? "met" : "**not met**")}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- RSS after attach (VmRSS): median {rssMb:0.0} MB (min {rss[0] / 1024.0:0.0}, max {rss[^1] / 1024.0:0.0}); target < 20 MB: {(rssMb < 20 ? "met" : "**not met**")}");
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
