using System.Globalization;
using System.Text;
using Gofer.Sandbox.Vfs;

namespace Gofer.Cli.Shell;

/// <summary>mounts, df, xattr.</summary>
internal sealed partial class SandboxShell
{
    private static readonly string[] MountsHeader = ["DESTINATION", "TYPE", "SOURCE", "FD", "CACHE", "OPTIONS"];
    private static readonly string[] DfHeader = ["Filesystem", "1K-blocks", "Used", "Available", "Use%", "Mounted on"];
    private static readonly int[] MountsRight = [3];
    private static readonly int[] DfRight = [1, 2, 3, 4];
    /// <summary>
    /// The mount table: destination, filesystem type, source, gofer FD index, cache policy, and the remaining
    /// options (rw/ro and flags first, as /proc/mounts shows them).
    /// </summary>
    private int Mounts(List<string> args)
    {
        if (args.Count > 1)
        {
            throw new ShellUsageException("extra operand");
        }

        string name = args.Count == 0 ? DefaultContainer : args[0].TrimEnd(':');
        if (!_containers.TryGetValue(name, out var ns))
        {
            Err.WriteLine($"mounts: no container named '{name}' (containers: {string.Join(", ", _containers.Keys)})");
            return 1;
        }

        var rows = new List<string[]> { MountsHeader };
        foreach (var m in ns.GetMounts())
        {
            string fd = "-", cache = "-";
            var rest = new List<string>();
            foreach (var o in m.OptionsString.Split(','))
            {
                if (o.StartsWith("rfdno=", StringComparison.Ordinal))
                {
                    fd = o["rfdno=".Length..];
                }
                else if (o.StartsWith("cache=", StringComparison.Ordinal))
                {
                    cache = o["cache=".Length..];
                }
                else if (o is not "trans=fd" && !o.StartsWith("wfdno=", StringComparison.Ordinal))
                {
                    rest.Add(o);
                }
            }

            rows.Add([m.Destination, m.Type, m.Source, fd, cache, string.Join(',', rest)]);
        }

        WriteTable(rows, MountsRight);
        return 0;
    }

    private void WriteTable(List<string[]> rows, IReadOnlyCollection<int> rightAligned)
    {
        int cols = rows[0].Length;
        var widths = Enumerable.Range(0, cols).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var r in rows)
        {
            var sb = new StringBuilder();
            for (int c = 0; c < cols; c++)
            {
                bool lastCol = c == cols - 1;
                string cell = rightAligned.Contains(c) ? r[c].PadLeft(widths[c]) : lastCol ? r[c] : r[c].PadRight(widths[c]);
                sb.Append(cell);
                if (!lastCol)
                {
                    sb.Append("  ");
                }
            }

            Out.WriteLine(sb.ToString().TrimEnd());
        }
    }

    /// <summary>df: 1K blocks per mount (filesystems with no blocks, like proc, only when named).</summary>
    private async ValueTask<int> DfAsync(List<string> args, CancellationToken ct)
    {
        var (_, operands) = ParseFlags(args, string.Empty);
        var ns = _containers[DefaultContainer];
        var targets = new List<(MountNamespace Ns, string Path, string Display, bool Named)>();
        if (operands.Count == 0)
        {
            targets.AddRange(ns.GetMounts().Select(m => (ns, m.Destination, m.Destination, false)));
        }
        else
        {
            foreach (var op in operands)
            {
                var p = ResolveSandbox("df", op);
                targets.Add((p.Namespace!, p.Path, op, true));
            }
        }

        int status = 0;
        var rows = new List<string[]> { DfHeader };
        var ic = CultureInfo.InvariantCulture;
        foreach (var (tns, path, display, named) in targets)
        {
            StatFs s;
            try
            {
                s = await tns.StatFsAsync(path, ct).ConfigureAwait(false);
            }
            catch (VfsException e)
            {
                Err.WriteLine($"df: {display}: {ShellText.StrError(e.Errno)}");
                status = 1;
                continue;
            }

            if (s.Blocks == 0 && !named)
            {
                continue;
            }

            var mount = MountOf(tns, path);
            ulong k = s.BlockSize / 1024UL;
            ulong scale(ulong blocks) => k > 0 ? blocks * k : blocks * s.BlockSize / 1024UL;
            ulong total = scale(s.Blocks), used = scale(s.Blocks - Math.Min(s.Blocks, s.BlocksFree)), avail = scale(s.BlocksAvailable);
            string pct = used + avail == 0 ? "-" : ((used * 100 + used + avail - 1) / (used + avail)).ToString(ic) + "%";
            rows.Add([mount?.Source ?? "?", total.ToString(ic), used.ToString(ic), avail.ToString(ic), pct, mount?.Destination ?? display]);
        }

        WriteTable(rows, DfRight);
        return status;
    }

    private static MountInfo? MountOf(MountNamespace ns, string path)
    {
        string abs = path.StartsWith('/') ? path : ShellText.Join(ns.Getcwd(), path);
        abs = "/" + string.Join('/', abs.Split('/', StringSplitOptions.RemoveEmptyEntries));
        return ns.GetMounts()
            .Where(m => m.Destination == "/" || abs == m.Destination || abs.StartsWith(m.Destination + "/", StringComparison.Ordinal))
            .OrderBy(m => m.Destination.Length)
            .ThenBy(m => m.Id)
            .LastOrDefault();
    }

    private async ValueTask<int> XattrAsync(List<string> args, CancellationToken ct)
    {
        if (args.Count < 2)
        {
            throw new ShellUsageException("missing operand");
        }

        string sub = args[0];
        var p = ResolveSandbox("xattr", args[1]);
        var ns = p.Namespace!;
        int want = sub switch { "get" => 3, "set" => 4, "list" => 2, "rm" => 3, _ => throw new ShellUsageException($"unknown subcommand '{sub}'") };
        if (args.Count != want)
        {
            throw new ShellUsageException(args.Count < want ? "missing operand" : "extra operand");
        }

        try
        {
            switch (sub)
            {
                case "get":
                    var value = await ns.GetXattrAsync(p.Path, args[2], ct: ct).ConfigureAwait(false);
                    Out.WriteLine(Encoding.UTF8.GetString(value));
                    break;
                case "set":
                    await ns.SetXattrAsync(p.Path, args[2], Encoding.UTF8.GetBytes(args[3]), ct: ct).ConfigureAwait(false);
                    break;
                case "list":
                    foreach (var n in (await ns.ListXattrAsync(p.Path, ct: ct).ConfigureAwait(false)).OrderBy(n => n, StringComparer.Ordinal))
                    {
                        Out.WriteLine(n);
                    }

                    break;
                default:
                    await ns.RemoveXattrAsync(p.Path, args[2], ct: ct).ConfigureAwait(false);
                    break;
            }

            return 0;
        }
        catch (VfsException e)
        {
            Err.WriteLine($"xattr: {args[1]}{(args.Count > 2 ? ": " + args[2] : string.Empty)}: {ShellText.StrError(e.Errno)}");
            return 1;
        }
    }
}
