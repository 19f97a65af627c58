using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Gofer.Hardening;
using Gofer.HostFs;
using Gofer.Recording;
using Gofer.Runtime;
using Gofer.Server;
using Gofer.Spec;
using Microsoft.Extensions.Logging;

namespace Gofer.Cli;

/// <summary>
/// <c>gofer serve --root DIR [--readonly] (--io-fds 3,4,… | --listen unix:PATH | --listen tcp:127.0.0.1:PORT)</c>.
/// io-fds mode exits 0 once every inherited connection has closed; listen mode runs until SIGTERM/SIGINT.
/// On listen, one line "listening ENDPOINT" per listener goes to stdout (the real port when PORT is 0), so a
/// parent or a test can find the server without fixed ports.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var root = new Option<string>("--root") { Description = "Host directory to export (every fid stays inside it)." };
        var readOnly = new Option<bool>("--readonly") { Description = "Refuse every mutation with EROFS." };
        var ioFds = new Option<string?>("--io-fds") { Description = "Comma-separated inherited, connected socket FDs, one session each (e.g. 3,4)." };
        var listen = new Option<string[]>("--listen") { Description = "unix:PATH or tcp:HOST:PORT (loopback only unless --allow-remote); repeatable.", AllowMultipleArgumentsPerToken = false };
        var allowRemote = new Option<bool>("--allow-remote") { Description = "Allow --listen on a non-loopback TCP address." };
        var logLevel = new Option<LogLevel>("--log-level") { Description = "Trace, Debug, Information, Warning, Error, Critical, None.", DefaultValueFactory = _ => LogLevel.Information };
        var trace = new Option<bool>("--trace") { Description = "Log every request and reply (one line each, Debug level on stderr)." };
        var msize = new Option<uint>("--msize") { Description = "Largest msize offered (default 1 MiB + 24).", DefaultValueFactory = _ => (1024 * 1024) + 24 };
        var bundle = new Option<string?>("--bundle") { Description = "OCI bundle: FD i of --io-fds serves gofer mount i of its plan (rootfs first), with that mount's source and read-only flag." };
        var mountsFd = new Option<int?>("--mounts-fd") { Description = "With --bundle: write the resolved mounts report to this inherited FD, then close it." };
        var overlay2 = new Option<string?>("--overlay2") { Description = "With --bundle: overlay configuration, as for `gofer plan`." };
        var fileAccess = new Option<string?>("--file-access") { Description = "With --bundle: exclusive (default) or shared, as for `gofer plan`." };
        var record = new Option<string?>("--record") { Description = "Record each connection as a pcapng file in DIR (read it with `gofer trace` or Wireshark)." };
        var hardened = new Option<bool>("--hardened") { Description = "Serve from a confined child: private namespaces, pivot_root into the exports, reduced capabilities, seccomp (root only; see src/Gofer/Hardening/README.md)." };
        var metadataOnWorkers = new Option<bool>("--metadata-on-workers") { Description = "Run creates, renames and removes on worker threads (for exports on NFS/FUSE, where they may block); by default they run inline." };
        var noWalkCache = new Option<bool>("--no-walk-cache") { Description = "Open every walked name afresh instead of reusing the descriptor kept from its last walk (each reuse is revalidated by statx; on by default)." };
        var noDirCache = new Option<bool>("--no-dir-cache") { Description = "Call getdents64 for every readdir instead of serving unchanged directories from memory (the listing cache, invalidated by inotify, is on by default for exports on local filesystems)." };
        var statsFile = new Option<string?>("--stats-file") { Description = "Write 'seq= requests= alloc_bytes= gc0= gc1= gc2=' to PATH at start, on SIGUSR1 and at exit (benchmarks)." };
        var fdRoot = new Option<string[]>("--fd-root")
        {
            Description = "FD=[ro:]PATH, repeatable: serve inherited FD on PATH (read-only with ro:). What --hardened passes to its confined child.",
            Hidden = true,
            AllowMultipleArgumentsPerToken = false,
        };

        var command = new Command("serve", "Serve a host directory over 9P2000.L.")
        {
            root, readOnly, ioFds, listen, allowRemote, logLevel, trace, msize, bundle, mountsFd, overlay2, fileAccess, record, hardened, fdRoot, statsFile, metadataOnWorkers, noDirCache, noWalkCache,
        };
        command.SetAction(async (parse, ct) =>
        {
            var settings = new Settings(
                parse.GetValue(root), parse.GetValue(readOnly), parse.GetValue(ioFds), parse.GetValue(listen) ?? [],
                parse.GetValue(allowRemote), parse.GetValue(logLevel), parse.GetValue(trace), parse.GetValue(msize),
                parse.GetValue(bundle), parse.GetValue(mountsFd), parse.GetValue(overlay2), parse.GetValue(fileAccess),
                parse.GetValue(record), parse.GetValue(hardened), parse.GetValue(fdRoot) ?? [], parse.GetValue(statsFile),
                parse.GetValue(metadataOnWorkers), parse.GetValue(noDirCache), parse.GetValue(noWalkCache));
            return await RunAsync(settings).ConfigureAwait(false);
        });
        return command;
    }

    internal sealed record Settings(string? Root, bool ReadOnly, string? IoFds, string[] Listen, bool AllowRemote,
        LogLevel LogLevel, bool Trace, uint Msize, string? Bundle, int? MountsFd, string? Overlay2, string? FileAccess,
        string? Record, bool Hardened, string[] FdRoots, string? StatsFile = null, bool MetadataOnWorkers = false, bool NoDirCache = false, bool NoWalkCache = false)
    {
        /// <summary>The options of an export served with these settings.</summary>
        public HostExportOptions ExportOptions(bool readOnly) => new() { ReadOnly = readOnly, DirCache = !NoDirCache, WalkCache = !NoWalkCache };
    }

    /// <summary>One inherited FD and what it serves: --root gives every FD the same export, --bundle one each.</summary>
    private sealed record FdExport(int Fd, string Root, bool ReadOnly, string Label);

    private static async Task<int> RunAsync(Settings s)
    {
        if (s.Msize < 4096)
            return await Usage("--msize must be at least 4096").ConfigureAwait(false);
        if (s.Hardened)
        {
            if (s.Listen.Length > 0)
                return await Usage("--hardened serves inherited --io-fds only: the confined child has its own network namespace and cannot see --listen paths").ConfigureAwait(false);
            if (s.Record is not null)
                return await Usage("--hardened cannot --record: the confined child sees only its exports, read-only elsewhere").ConfigureAwait(false);
        }
        if (s.Record is not null)
        {
            // A bad --record directory is a configuration error: say so now, before any connection is taken.
            try
            {
                Directory.CreateDirectory(s.Record);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                await Console.Error.WriteLineAsync($"gofer serve: --record '{s.Record}': {e.Message}").ConfigureAwait(false);
                return 1;
            }
        }
        if (s.FdRoots.Length > 0)
            return await RunFdRootsAsync(s).ConfigureAwait(false);
        if (s.Bundle is not null)
            return await RunBundleAsync(s).ConfigureAwait(false);
        if (s.MountsFd is not null || s.Overlay2 is not null || s.FileAccess is not null)
            return await Usage("--mounts-fd, --overlay2 and --file-access only go with --bundle").ConfigureAwait(false);
        if (string.IsNullOrEmpty(s.Root))
            return await Usage("--root DIR (or --bundle DIR) is required").ConfigureAwait(false);
        if ((s.IoFds is null) == (s.Listen.Length == 0))
            return await Usage("give exactly one of --io-fds or --listen").ConfigureAwait(false);

        var endpoints = new List<System.Net.EndPoint>();
        foreach (var spec in s.Listen)
        {
            if (!Transport.TryParseListen(spec, s.AllowRemote, out var ep, out var error))
                return await Usage(error!).ConfigureAwait(false);
            endpoints.Add(ep!);
        }
        var fds = new List<int>();
        if (s.IoFds is not null)
        {
            foreach (var part in s.IoFds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(part, out int fd) || fd < 3)
                    return await Usage($"--io-fds: '{part}' is not an inherited FD (3 or more)").ConfigureAwait(false);
                fds.Add(fd);
            }
            if (fds.Count == 0)
                return await Usage("--io-fds: no FD given").ConfigureAwait(false);
        }

        if (s.Hardened)
            return RunHardened(s, [new FdExport(0, s.Root, s.ReadOnly, "root")], fds);

        using var loggerFactory = CreateLoggerFactory(s);
        var log = loggerFactory.CreateLogger("Gofer.Serve");

        var openError = HostExport.TryOpen(s.Root, s.ExportOptions(s.ReadOnly), out var export);
        if (openError != HostFs.Native.Errno.None)
        {
            await Console.Error.WriteLineAsync($"gofer serve: cannot open --root '{s.Root}': {openError}").ConfigureAwait(false);
            return 1;
        }

        // Declared before the server: disposed (capture files flushed and closed) after every session has ended.
        await using var recorder = StartRecorder(s, loggerFactory.CreateLogger("Gofer.Recording"));
        using (export)
        using (ServerStats.Start(s.StatsFile))
        using (var server = new GoferServer(new ServerOptions { MaxMsize = s.Msize, Trace = s.Trace, MetadataOnWorkers = s.MetadataOnWorkers }, loggerFactory) { Recorder = recorder })
        {
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; server.Shutdown("SIGTERM"); });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; server.Shutdown("SIGINT"); });
            string ro = s.ReadOnly ? " (read-only)" : "";

            if (fds.Count > 0)
            {
                foreach (int fd in fds)
                {
                    Socket socket;
                    try
                    {
                        socket = Transport.FromInheritedFd(fd);
                    }
                    catch (Exception e) when (e is SocketException or ArgumentException)
                    {
                        await Console.Error.WriteLineAsync($"gofer serve: fd {fd} is not a socket: {e.Message}").ConfigureAwait(false);
                        server.Shutdown("bad --io-fds");
                        await server.WhenAllSessionsEnded().ConfigureAwait(false);
                        return 1;
                    }
                    string fdName = "fd:" + fd.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    ServerLog.Listening(log, s.Root, fdName, ro);
                    server.Track(server.ServeSocketAsync(socket, export!, fdName));
                }
                // Exit 0 once every inherited connection has closed (or a signal ended them).
                await server.WhenAllSessionsEnded().ConfigureAwait(false);
                return 0;
            }

            var listeners = new List<Socket>();
            try
            {
                foreach (var ep in endpoints)
                {
                    var l = GoferServer.Bind(ep);
                    listeners.Add(l);
                    string name = Transport.Describe(l.LocalEndPoint!);
                    ServerLog.Listening(log, s.Root, name, ro);
                    Console.Out.WriteLine("listening " + name);
                }
            }
            catch (SocketException e)
            {
                await Console.Error.WriteLineAsync($"gofer serve: cannot listen: {e.Message}").ConfigureAwait(false);
                foreach (var l in listeners)
                    l.Dispose();
                return 1;
            }
            await Console.Out.FlushAsync().ConfigureAwait(false);

            var loops = listeners.Select(l => server.AcceptLoopAsync(l, export!)).ToArray();
            await Task.WhenAll(loops).ConfigureAwait(false);
            await server.WhenAllSessionsEnded().ConfigureAwait(false);
            foreach (var ep in endpoints.OfType<System.Net.Sockets.UnixDomainSocketEndPoint>())
                File.Delete(ep.ToString()!);
            return 0;
        }
    }

    /// <summary>
    /// The console logger, built on the first message that passes <see cref="IsEnabled"/> (see
    /// <see cref="DeferredLoggerFactory"/>): a start that logs nothing never pays for it.
    /// </summary>
    internal static DeferredLoggerFactory CreateLoggerFactory(LogLevel logLevel, bool trace) => new(
        (category, level) => IsEnabled(logLevel, trace, category, level),
        () => LoggerFactory.Create(b =>
        {
            b.SetMinimumLevel(LogLevel.Trace);
            b.AddFilter((category, level) => IsEnabled(logLevel, trace, category ?? "", level));
            b.AddSimpleConsole(o => o.SingleLine = true);
            b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        }));

    private static DeferredLoggerFactory CreateLoggerFactory(Settings s) => CreateLoggerFactory(s.LogLevel, s.Trace);

    /// <summary>
    /// What gets logged: everything at --log-level and above; with --trace, requests and replies
    /// (Gofer.Server.Trace) at Debug as well, whatever the level of the rest.
    /// </summary>
    internal static bool IsEnabled(LogLevel logLevel, bool trace, string category, LogLevel level)
    {
        if (level == LogLevel.None)
            return false;
        if (trace && logLevel > LogLevel.Debug && category == "Gofer.Server.Trace")
            return level >= LogLevel.Debug;
        return level >= logLevel;
    }

    /// <summary>
    /// <c>--bundle DIR --io-fds 3,4,… [--mounts-fd N]</c>: the runtime's mode. The bundle is planned exactly as the
    /// runtime planned it, FD i serves gofer mount i (its source, read-only when the plan says so), and the report
    /// on --mounts-fd lets the runtime check that both sides agree before the sandbox starts. Each FD is its own
    /// session: a mount whose source cannot be opened, or an FD that is not a socket, is logged and closed (the
    /// sandbox sees EOF on that mount) while the others are served. Exits 0 once every connection has closed.
    /// </summary>
    private static async Task<int> RunBundleAsync(Settings s)
    {
        if (s.Root is not null || s.ReadOnly)
            return await Usage("--bundle takes the roots and flags from the bundle: drop --root/--readonly").ConfigureAwait(false);
        if (s.Listen.Length > 0 || s.IoFds is null)
            return await Usage("--bundle serves inherited FDs: give --io-fds (one per gofer mount), not --listen").ConfigureAwait(false);

        GoferBundle bundle;
        try
        {
            bundle = GoferBundle.PrepareServe(s.Bundle!, s.IoFds, s.MountsFd, s.Overlay2, s.FileAccess);
        }
        catch (SpecException e)
        {
            await Console.Error.WriteLineAsync("gofer serve: " + e.Message).ConfigureAwait(false);
            return 2;
        }
        catch (IOException e)
        {
            // Writing the --mounts-fd report failed: the runtime is gone or gave a bad FD.
            await Console.Error.WriteLineAsync("gofer serve: --mounts-fd: " + e.Message).ConfigureAwait(false);
            return 1;
        }

        var entries = bundle.Mounts
            .Select(m => new FdExport(m.Fd, m.Root, m.ReadOnly, m.Destination))
            .ToList();
        if (s.Hardened)
            return RunHardened(s, entries, [.. entries.Select(e => e.Fd)]);
        return await ServeFdsAsync(s, entries).ConfigureAwait(false);
    }

    /// <summary>Serves each inherited FD on its own export until all have closed; one failing never stops the others.</summary>
    private static async Task<int> ServeFdsAsync(Settings s, IReadOnlyList<FdExport> entries)
    {
        using var loggerFactory = CreateLoggerFactory(s);
        var log = loggerFactory.CreateLogger("Gofer.Serve");
        await using var recorder = StartRecorder(s, loggerFactory.CreateLogger("Gofer.Recording"));
        using var stats = ServerStats.Start(s.StatsFile);
        var exports = new List<HostExport>();
        try
        {
            using var server = new GoferServer(new ServerOptions { MaxMsize = s.Msize, Trace = s.Trace, MetadataOnWorkers = s.MetadataOnWorkers }, loggerFactory) { Recorder = recorder };
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; server.Shutdown("SIGTERM"); });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; server.Shutdown("SIGINT"); });
            int failed = 0;
            foreach (var entry in entries)
            {
                Socket socket;
                try
                {
                    socket = Transport.FromInheritedFd(entry.Fd);
                }
                catch (Exception e) when (e is SocketException or ArgumentException)
                {
                    await Console.Error.WriteLineAsync($"gofer serve: fd {entry.Fd} ({entry.Label}) is not a socket: {e.Message}").ConfigureAwait(false);
                    failed++;
                    continue;
                }

                var openError = HostExport.TryOpen(entry.Root, s.ExportOptions(entry.ReadOnly), out var export);
                if (openError != HostFs.Native.Errno.None)
                {
                    await Console.Error.WriteLineAsync($"gofer serve: fd {entry.Fd} ({entry.Label}): cannot open '{entry.Root}': {openError}").ConfigureAwait(false);
                    socket.Dispose(); // the sandbox sees EOF on this mount only
                    failed++;
                    continue;
                }

                exports.Add(export!);
                string fdName = "fd:" + entry.Fd.ToString(System.Globalization.CultureInfo.InvariantCulture);
                ServerLog.Listening(log, entry.Root, fdName + " " + entry.Label, entry.ReadOnly ? " (read-only)" : "");
                server.Track(server.ServeSocketAsync(socket, export!, fdName));
            }

            // Exit 0 once every inherited connection has closed (or a signal ended them); 1 if none could be served.
            await server.WhenAllSessionsEnded().ConfigureAwait(false);
            return failed == entries.Count ? 1 : 0;
        }
        finally
        {
            foreach (var export in exports)
                export.Dispose();
        }
    }

    /// <summary>
    /// --hardened: this process becomes the supervisor. Each export (one for --root, one per mount for --bundle) is
    /// bound at /exports/i inside a confined child (ServeHardening, see src/Gofer/Hardening/README.md), which is
    /// re-executed as <c>serve --fd-root FD=[ro:]/exports/i …</c> with the io-fds at the same numbers, and whose exit
    /// code becomes ours. Refuses to start (never serves unconfined) when confinement is impossible.
    /// </summary>
    /// <param name="exports">For --root a single entry whose Fd is unused: every io-fd serves it.</param>
    private static int RunHardened(Settings s, IReadOnlyList<FdExport> exports, List<int> ioFds)
    {
        var hardenedExports = exports.Select(e => new HardenedExport(e.Root, e.ReadOnly)).ToList();
        IReadOnlyList<string> ChildArguments(IReadOnlyList<string> paths)
        {
            var args = new List<string> { "serve" };
            for (int i = 0; i < ioFds.Count; i++)
            {
                // --root: every FD on export 0; --bundle: FD i on export i.
                int e = exports.Count == 1 ? 0 : i;
                args.Add("--fd-root");
                args.Add(ioFds[i].ToString(System.Globalization.CultureInfo.InvariantCulture) + "=" + (exports[e].ReadOnly ? "ro:" : "") + paths[e]);
            }
            args.AddRange(["--msize", s.Msize.ToString(System.Globalization.CultureInfo.InvariantCulture), "--log-level", s.LogLevel.ToString()]);
            if (s.Trace)
                args.Add("--trace");
            if (s.MetadataOnWorkers)
                args.Add("--metadata-on-workers");
            if (s.NoDirCache)
                args.Add("--no-dir-cache");
            if (s.NoWalkCache)
                args.Add("--no-walk-cache");
            return args;
        }

        try
        {
            return ServeHardening.Run(hardenedExports, ioFds, ChildArguments);
        }
        catch (HardeningException e)
        {
            Console.Error.WriteLine("gofer serve --hardened: " + e.Message);
            return 1;
        }
    }

    /// <summary>
    /// <c>--fd-root FD=[ro:]PATH</c> (repeatable): each inherited FD on its own root. The confined child of --hardened
    /// runs this, since inside it the exports are plain directories at /exports/i.
    /// </summary>
    private static async Task<int> RunFdRootsAsync(Settings s)
    {
        if (s.Root is not null || s.ReadOnly || s.Bundle is not null || s.IoFds is not null || s.Listen.Length > 0 || s.Hardened)
            return await Usage("--fd-root stands alone: no --root, --readonly, --bundle, --io-fds, --listen or --hardened").ConfigureAwait(false);
        var entries = new List<FdExport>();
        foreach (var spec in s.FdRoots)
        {
            int eq = spec.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !int.TryParse(spec.AsSpan(0, eq), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int fd) || fd < 3)
                return await Usage($"--fd-root '{spec}': expected FD=[ro:]PATH with FD 3 or more").ConfigureAwait(false);
            string path = spec[(eq + 1)..];
            bool ro = path.StartsWith("ro:", StringComparison.Ordinal);
            if (ro)
                path = path[3..];
            if (path.Length == 0)
                return await Usage($"--fd-root '{spec}': no path").ConfigureAwait(false);
            if (entries.Any(e => e.Fd == fd))
                return await Usage($"--fd-root: FD {fd} is given twice").ConfigureAwait(false);
            entries.Add(new FdExport(fd, path, ro, path));
        }
        return await ServeFdsAsync(s, entries).ConfigureAwait(false);
    }

    /// <summary>One recorder per process for --record (one capture file per connection); null when off.</summary>
    private static TrafficRecorder? StartRecorder(Settings s, ILogger log) =>
        s.Record is null ? null : TrafficRecorder.Create(s.Record, log);

    private static async Task<int> Usage(string message)
    {
        await Console.Error.WriteLineAsync("gofer serve: " + message).ConfigureAwait(false);
        return 2;
    }
}
