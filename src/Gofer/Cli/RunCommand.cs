using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using Gofer.Cli.Shell;
using Gofer.Runtime;
using Gofer.Sandbox.Attach;
using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;
using Gofer.Spec;

namespace Gofer.Cli;

/// <summary>
/// <c>gofer run --bundle DIR [--stats] [-- COMMAND ARGS…]</c> and <c>gofer run --pod DIR… | --pod-file FILE</c>:
/// plans the mounts, spawns one gofer per container with one inherited FD per gofer mount, attaches each FD into
/// the container's mount namespace with its cache policy, runs the command (default: <c>sh</c>) against the
/// sandbox's files, then stops the gofers and reports how they ended.
/// </summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var bundle = new Option<string?>("--bundle") { Description = "OCI bundle directory (with config.json)." };
        var pod = new Option<string[]>("--pod")
        {
            Description = "Bundle directories of a pod's containers (the first is the root container; names are the directory names).",
            AllowMultipleArgumentsPerToken = true,
        };
        var podFile = new Option<string?>("--pod-file") { Description = "A file listing the pod's bundles, one per line: DIR or NAME=DIR ('#' comments; relative to the file)." };
        var stats = new Option<bool>("--stats") { Description = "At exit, print RPCs per mount and message type, bytes moved, and RPC latency." };
        var overlay = new Option<string>("--overlay2") { Description = "Overlay: none, root:memory or all:memory.", DefaultValueFactory = _ => "none" };
        var fileAccess = new Option<string>("--file-access") { Description = "Rootfs file access: exclusive (default) or shared.", DefaultValueFactory = _ => "exclusive" };
        fileAccess.AcceptOnlyFromAmong("exclusive", "shared");
        var command = new Argument<string[]>("command") { Description = "The command to run in the sandbox (after --); default: sh.", Arity = ArgumentArity.ZeroOrMore };

        var run = new Command("run", "Plan, spawn the gofer and run a command in the sandbox's file view.")
        {
            bundle, pod, podFile, stats, overlay, fileAccess, command,
        };
        run.SetAction(async (parse, ct) =>
        {
            var settings = new Settings(
                parse.GetValue(bundle), parse.GetValue(pod) ?? [], parse.GetValue(podFile), parse.GetValue(stats),
                parse.GetValue(overlay)!, parse.GetValue(fileAccess)!, parse.GetValue(command) ?? []);
            return await RunAsync(settings, ShellIo.FromConsole(), ct).ConfigureAwait(false);
        });
        return run;
    }

    internal sealed record Settings(string? Bundle, string[] Pod, string? PodFile, bool Stats, string Overlay, string FileAccess, string[] Command);

    private sealed class Container(string name, MountPlan plan)
    {
        public string Name { get; } = name;

        public MountPlan Plan { get; set; } = plan;

        public GoferLaunch? Launch { get; set; }

        public AttachedSandbox? Sandbox { get; set; }
    }

    internal static async Task<int> RunAsync(Settings s, ShellIo io, CancellationToken ct)
    {
        var err = io.Err;
        List<(string Name, string Dir)> bundles;
        try
        {
            bundles = Bundles(s);
        }
        catch (ShellUsageException e)
        {
            await err.WriteLineAsync($"gofer run: {e.Message}").ConfigureAwait(false);
            return 2;
        }

        var containers = new List<Container>();
        IReadOnlyList<PodVolume> volumes = [];
        try
        {
            var options = new PlanOptions
            {
                Overlay = OverlayConfig.Parse(s.Overlay),
                RootFileAccess = s.FileAccess == "shared" ? FileAccessType.Shared : FileAccessType.Exclusive,
            };
            if (s.Bundle is not null)
            {
                containers.Add(new Container(string.Empty, MountPlanner.ResolveDestinations(MountPlanner.Plan(s.Bundle, options))));
            }
            else
            {
                var podPlan = PodPlan.Create([.. bundles.Select(b => (b.Name, OciBundle.Load(b.Dir)))], options);
                volumes = podPlan.Volumes;
                containers.AddRange(podPlan.Containers.Select(p => new Container(p.ContainerName, MountPlanner.ResolveDestinations(p))));
            }
        }
        catch (SpecException e)
        {
            await err.WriteLineAsync($"gofer run: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        foreach (var c in containers)
        {
            foreach (var w in c.Plan.Warnings)
            {
                await err.WriteLineAsync($"gofer run: {Prefix(c)}warning: {w}").ConfigureAwait(false);
            }
        }

        int status;
        try
        {
            // One gofer per container, each with its own connections (as runsc starts one gofer per container).
            // The gofer's stdout goes to our stderr: whatever it prints is log, never the command's output.
            using var goferStdout = new Microsoft.Win32.SafeHandles.SafeFileHandle(2, ownsHandle: false);
            foreach (var c in containers)
            {
                // A gofer that does not start is fatal: the sandbox never sees host files any other way.
                c.Launch = await SandboxLauncher.LaunchAsync(c.Plan, new LaunchOptions { StandardOutput = goferStdout, ExtraServeArguments = ["--log-level", "Warning"] }, ct).ConfigureAwait(false);
                c.Plan = c.Launch.Plan;
            }

            // Pod volumes: one master filesystem per volume, bound into every container that names it.
            var shared = volumes.ToDictionary(v => v.Name, v => (IFileSystem)new TmpfsFileSystem(), StringComparer.Ordinal);
            foreach (var c in containers)
            {
                IReadOnlyList<Socket?>? sockets = c.Launch?.MountSockets;
                c.Sandbox = await SandboxAttacher.AttachAsync(c.Plan, sockets, GoferFileSystems.Default, new AttachOptions { SharedVolumes = shared }, ct).ConfigureAwait(false);
            }

            for (int i = 1; i < containers.Count; i++)
            {
                await SandboxAttacher.MountChildAsync(containers[0].Sandbox!, containers[i].Name, containers[i].Sandbox!, ct).ConfigureAwait(false);
            }

            var namespaces = containers.ToDictionary(c => c.Name, c => c.Sandbox!.Namespace, StringComparer.Ordinal);
            var shell = new SandboxShell(namespaces, containers[0].Name, io);
            var argv = s.Command.Length == 0 ? ["sh"] : s.Command;
            status = await shell.RunAsync(argv, ct).ConfigureAwait(false);

            if (s.Stats)
            {
                await err.WriteAsync(FormatStats(containers.Select(c => (c.Name, c.Sandbox!)).ToList())).ConfigureAwait(false);
            }
        }
        catch (GoferLaunchException e)
        {
            await err.WriteLineAsync($"gofer run: {e.Message}").ConfigureAwait(false);
            status = 1;
        }
        catch (VfsException e)
        {
            await err.WriteLineAsync($"gofer run: attaching the sandbox's mounts failed: {ShellText.StrError(e.Errno)} ({e.Message})").ConfigureAwait(false);
            status = 1;
        }
        finally
        {
            foreach (var c in containers)
            {
                if (c.Sandbox is not null)
                {
                    await c.Sandbox.DisposeAsync().ConfigureAwait(false);
                }
            }

            foreach (var c in containers)
            {
                if (c.Launch is null)
                {
                    continue;
                }

                // Closing our ends ends every session; a gofer serving --io-fds then exits by itself (0). Give it
                // that chance before StopAsync's SIGTERM, so a clean exit is not reported as a signal.
                foreach (var socket in c.Launch.MountSockets)
                {
                    socket.Dispose();
                }

                await Task.WhenAny(c.Launch.Gofer.Exited, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None)).ConfigureAwait(false);
                var exit = await c.Launch.StopAsync().ConfigureAwait(false);
                if (!exit.Success)
                {
                    await err.WriteLineAsync($"gofer run: {Prefix(c)}the gofer (pid {c.Launch.Gofer.Pid}) {exit}").ConfigureAwait(false);
                }
            }
        }

        return status;
    }

    private static string Prefix(Container c) => c.Name.Length == 0 ? string.Empty : $"container {c.Name}: ";

    private static List<(string Name, string Dir)> Bundles(Settings s)
    {
        int modes = (s.Bundle is null ? 0 : 1) + (s.Pod.Length == 0 ? 0 : 1) + (s.PodFile is null ? 0 : 1);
        if (modes != 1)
        {
            throw new ShellUsageException("give exactly one of --bundle DIR, --pod DIR..., --pod-file FILE");
        }

        if (s.Bundle is not null)
        {
            return [(string.Empty, s.Bundle)];
        }

        var list = new List<(string, string)>();
        if (s.Pod.Length != 0)
        {
            list.AddRange(s.Pod.Select(d => (Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(d))), d)));
        }
        else
        {
            string file = s.PodFile!;
            string baseDir = Path.GetDirectoryName(Path.GetFullPath(file))!;
            string[] lines;
            try
            {
                lines = File.ReadAllLines(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ShellUsageException($"cannot read --pod-file {file}: {e.Message}");
            }

            foreach (var raw in lines)
            {
                var line = raw.Trim();
                if (line.Length == 0 || line.StartsWith('#'))
                {
                    continue;
                }

                int eq = line.IndexOf('=', StringComparison.Ordinal);
                string dir = Path.Combine(baseDir, eq < 0 ? line : line[(eq + 1)..].Trim());
                string name = eq < 0 ? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir))) : line[..eq].Trim();
                list.Add((name, dir));
            }
        }

        foreach (var (name, _) in list)
        {
            if (name.Length == 0 || name == SandboxShell.HostPrefix || name.Contains('/', StringComparison.Ordinal) || name.Contains(':', StringComparison.Ordinal))
            {
                throw new ShellUsageException($"bad container name \"{name}\" (not empty, not \"host\", no '/' or ':')");
            }
        }

        if (list.Count == 0)
        {
            throw new ShellUsageException("the pod has no containers");
        }

        return list;
    }

    /// <summary>
    /// --stats: per gofer mount, the RPCs per message type with bytes out/in (from the gofer filesystem's
    /// <see cref="IGoferMountStats"/>), and its client-side RPC latency histogram (request sent → reply received).
    /// </summary>
    internal static string FormatStats(IReadOnlyList<(string Name, AttachedSandbox Sandbox)> sandboxes)
    {
        var ic = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.Append("--- gofer run stats ---\n");
        foreach (var (name, sandbox) in sandboxes)
        {
            foreach (var (m, fs) in sandbox.GoferFileSystems)
            {
                string label = string.Create(ic, $"{(name.Length == 0 ? string.Empty : name + ":")}{m.Destination} (fd {m.GoferIndex ?? 0}, {SandboxAttacher.CacheName(m.Cache ?? Spec.CachePolicy.Exclusive)})");
                IReadOnlyList<P9.Protocol.Client.P9MessageStats> rows;
                if (fs is Sandbox.Gofer.IRpcStatsSource src)
                {
                    rows = src.RpcSnapshot();
                }
                else if (fs is IGoferMountStats st)
                {
                    rows = st.RpcStats.Snapshot();
                }
                else
                {
                    sb.Append(label).Append(": no RPC statistics (").Append(fs.TypeName).Append(" stand-in, not a gofer filesystem)\n");
                    continue;
                }

                long req = rows.Sum(r => r.Requests), outB = rows.Sum(r => r.BytesSent), inB = rows.Sum(r => r.BytesReceived);
                sb.Append(string.Create(ic, $"{label}: {req} RPCs, {outB} B out, {inB} B in\n"));
                foreach (var r in rows)
                {
                    sb.Append(string.Create(ic, $"  {r.Type,-14} {r.Requests,8} req {r.BytesSent,10} B out {r.BytesReceived,10} B in {r.Errors,6} err\n"));
                }

                var latency = (fs as Sandbox.Gofer.IRpcStatsSource)?.RpcLatency ?? (fs as IGoferMountStats)?.RpcLatency;
                sb.Append("  client-side RPC latency (request queued → reply decoded): ").Append(latency?.Format().Replace("\n", "\n  ", StringComparison.Ordinal) ?? "not measured").Append('\n');
            }
        }

        return sb.ToString();
    }
}
