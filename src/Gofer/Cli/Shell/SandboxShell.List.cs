using System.Globalization;
using System.Text;
using Gofer.Sandbox.Vfs;

namespace Gofer.Cli.Shell;

/// <summary>ls, tree, stat, cat.</summary>
internal sealed partial class SandboxShell
{
    private sealed record LsEntry(string Name, string Path, InodeAttr Attr, string? LinkTarget);

    private async ValueTask<int> LsAsync(List<string> args, CancellationToken ct)
    {
        var (flags, operands) = ParseFlags(args, "laRd1");
        bool longFormat = flags.Contains('l'), all = flags.Contains('a'), recursive = flags.Contains('R'), dirAsFile = flags.Contains('d');
        if (operands.Count == 0)
        {
            operands.Add(".");
        }

        int status = 0;
        var files = new List<(ShellPath Where, LsEntry Entry)>();
        var dirs = new List<ShellPath>();
        foreach (var op in operands)
        {
            var p = ResolveSandbox("ls", op);
            try
            {
                // Like GNU ls: a command-line symlink is followed unless -l or -d asks for the link itself.
                InodeAttr attr;
                if (longFormat || dirAsFile)
                {
                    attr = await p.Namespace!.LstatAsync(p.Path, ct).ConfigureAwait(false);
                }
                else
                {
                    try
                    {
                        attr = await p.Namespace!.StatAsync(p.Path, ct).ConfigureAwait(false);
                    }
                    catch (VfsException e) when (e.Errno is Errno.ENOENT or Errno.ELOOP)
                    {
                        attr = await p.Namespace!.LstatAsync(p.Path, ct).ConfigureAwait(false);
                    }
                }

                if (attr.Type == FileType.Directory && !dirAsFile)
                {
                    dirs.Add(p);
                }
                else
                {
                    files.Add((p, await EntryAsync(p.Namespace!, op, p.Path, attr, ct).ConfigureAwait(false)));
                }
            }
            catch (VfsException e)
            {
                Err.WriteLine($"ls: cannot access '{op}': {ShellText.StrError(e.Errno)}");
                status = 1;
            }
        }

        files.Sort((a, b) => string.CompareOrdinal(a.Entry.Name, b.Entry.Name));
        dirs.Sort((a, b) => string.CompareOrdinal(a.Display, b.Display));
        if (files.Count > 0)
        {
            await PrintEntriesAsync(files[0].Where.Namespace!, files.Select(f => f.Entry).ToList(), longFormat, total: false, ct).ConfigureAwait(false);
        }

        bool headers = operands.Count > 1 || recursive;
        bool first = files.Count == 0;
        foreach (var d in dirs)
        {
            status |= await ListDirAsync(d.Namespace!, d.Display, d.Path, longFormat, all, recursive, headers, first, ct).ConfigureAwait(false);
            first = false;
        }

        return status;
    }

    private async ValueTask<int> ListDirAsync(MountNamespace ns, string display, string path, bool longFormat, bool all, bool recursive, bool header, bool first, CancellationToken ct)
    {
        if (!first)
        {
            Out.WriteLine();
        }

        if (header)
        {
            Out.WriteLine(display + ":");
        }

        IReadOnlyList<DirEntry> raw;
        try
        {
            raw = await ns.ReadDirAsync(path, ct).ConfigureAwait(false);
        }
        catch (VfsException e)
        {
            Err.WriteLine($"ls: cannot open directory '{display}': {ShellText.StrError(e.Errno)}");
            return 1;
        }

        int status = 0;
        var names = raw.Select(e => e.Name).Where(n => all || !n.StartsWith('.')).ToList();
        if (all)
        {
            names.Add(".");
            names.Add("..");
        }

        names.Sort(string.CompareOrdinal);
        var entries = new List<LsEntry>();
        foreach (var n in names)
        {
            string full = ShellText.Join(path, n);
            try
            {
                var attr = await ns.LstatAsync(full, ct).ConfigureAwait(false);
                entries.Add(await EntryAsync(ns, n, full, attr, ct).ConfigureAwait(false));
            }
            catch (VfsException e)
            {
                // Gone between readdir and stat, or a mount that cannot answer: say so and go on.
                Err.WriteLine($"ls: cannot access '{ShellText.Join(display, n)}': {ShellText.StrError(e.Errno)}");
                status = 1;
            }
        }

        await PrintEntriesAsync(ns, entries, longFormat, total: true, ct).ConfigureAwait(false);
        if (recursive)
        {
            foreach (var e in entries)
            {
                if (e.Attr.Type == FileType.Directory && e.Name is not ("." or ".."))
                {
                    status |= await ListDirAsync(ns, ShellText.Join(display, e.Name), e.Path, longFormat, all, recursive, header: true, first: false, ct).ConfigureAwait(false);
                }
            }
        }

        return status;
    }

    private static async ValueTask<LsEntry> EntryAsync(MountNamespace ns, string name, string path, InodeAttr attr, CancellationToken ct)
    {
        string? target = null;
        if (attr.Type == FileType.Symlink)
        {
            try
            {
                target = await ns.ReadLinkAsync(path, ct).ConfigureAwait(false);
            }
            catch (VfsException)
            {
                target = "?";
            }
        }

        return new LsEntry(name, path, attr, target);
    }

    private async ValueTask PrintEntriesAsync(MountNamespace ns, List<LsEntry> entries, bool longFormat, bool total, CancellationToken ct)
    {
        if (!longFormat)
        {
            foreach (var e in entries)
            {
                Out.WriteLine(e.Name);
            }

            return;
        }

        var (users, groups) = await NamesAsync(ns, ct).ConfigureAwait(false);
        var rows = entries.Select(e => new
        {
            e,
            Links = e.Attr.Nlink.ToString(CultureInfo.InvariantCulture),
            Owner = users.TryGetValue(e.Attr.Uid, out var u) ? u : e.Attr.Uid.ToString(CultureInfo.InvariantCulture),
            Group = groups.TryGetValue(e.Attr.Gid, out var g) ? g : e.Attr.Gid.ToString(CultureInfo.InvariantCulture),
            Size = e.Attr.Type is FileType.CharDevice or FileType.BlockDevice
                ? string.Create(CultureInfo.InvariantCulture, $"{ShellText.DevNumbers(e.Attr.Rdev).Major}, {ShellText.DevNumbers(e.Attr.Rdev).Minor}")
                : e.Attr.Size.ToString(CultureInfo.InvariantCulture),
        }).ToList();
        if (total)
        {
            // GNU ls: the sum of each file's allocation in 1 KiB units (st_blocks counts 512-byte blocks).
            long sum = entries.Sum(e => (e.Attr.Blocks + 1) / 2);
            Out.WriteLine("total " + sum.ToString(CultureInfo.InvariantCulture));
        }

        if (rows.Count == 0)
        {
            return;
        }

        int wl = rows.Max(r => r.Links.Length), wo = rows.Max(r => r.Owner.Length), wg = rows.Max(r => r.Group.Length), ws = rows.Max(r => r.Size.Length);
        var now = DateTimeOffset.Now;
        foreach (var r in rows)
        {
            var line = new StringBuilder()
                .Append(ShellText.ModeString(r.e.Attr.Mode)).Append(' ')
                .Append(r.Links.PadLeft(wl)).Append(' ')
                .Append(r.Owner.PadRight(wo)).Append(' ')
                .Append(r.Group.PadRight(wg)).Append(' ')
                .Append(r.Size.PadLeft(ws)).Append(' ')
                .Append(ShellText.LsDate(r.e.Attr.Mtime, now)).Append(' ')
                .Append(r.e.Name);
            if (r.e.LinkTarget is { } t)
            {
                line.Append(" -> ").Append(t);
            }

            Out.WriteLine(line.ToString());
        }
    }

    private async ValueTask<int> TreeAsync(List<string> args, CancellationToken ct)
    {
        var (flags, operands) = ParseFlags(args, "a");
        if (operands.Count == 0)
        {
            operands.Add(".");
        }

        int status = 0, dirs = 0, files = 0;
        foreach (var op in operands)
        {
            var p = ResolveSandbox("tree", op);
            try
            {
                var attr = await p.Namespace!.StatAsync(p.Path, ct).ConfigureAwait(false);
                if (attr.Type != FileType.Directory)
                {
                    Out.WriteLine($"{op}  [error opening dir]");
                    status = 1;
                    continue;
                }
            }
            catch (VfsException e)
            {
                Out.WriteLine($"{op}  [error opening dir]");
                Err.WriteLine($"tree: '{op}': {ShellText.StrError(e.Errno)}");
                status = 1;
                continue;
            }

            Out.WriteLine(op);
            (int d, int f, int s) = await TreeDirAsync(p.Namespace!, p.Path, string.Empty, flags.Contains('a'), ct).ConfigureAwait(false);
            dirs += d;
            files += f;
            status |= s;
        }

        Out.WriteLine();
        Out.WriteLine($"{dirs} director{(dirs == 1 ? "y" : "ies")}, {files} file{(files == 1 ? string.Empty : "s")}");
        return status;
    }

    private async ValueTask<(int Dirs, int Files, int Status)> TreeDirAsync(MountNamespace ns, string path, string indent, bool all, CancellationToken ct)
    {
        IReadOnlyList<DirEntry> raw;
        try
        {
            raw = await ns.ReadDirAsync(path, ct).ConfigureAwait(false);
        }
        catch (VfsException e)
        {
            Err.WriteLine($"tree: '{path}': {ShellText.StrError(e.Errno)}");
            return (0, 0, 1);
        }

        var names = raw.Select(e => e.Name).Where(n => all || !n.StartsWith('.')).OrderBy(n => n, StringComparer.Ordinal).ToList();
        int dirs = 0, files = 0, status = 0;
        for (int i = 0; i < names.Count; i++)
        {
            bool last = i == names.Count - 1;
            string full = ShellText.Join(path, names[i]);
            string line = indent + (last ? "└── " : "├── ") + names[i];
            InodeAttr attr;
            try
            {
                attr = await ns.LstatAsync(full, ct).ConfigureAwait(false);
            }
            catch (VfsException e)
            {
                Out.WriteLine(line + $"  [{ShellText.StrError(e.Errno)}]");
                status = 1;
                continue;
            }

            if (attr.Type == FileType.Symlink)
            {
                string target = await ReadLinkOrQuestionAsync(ns, full, ct).ConfigureAwait(false);
                Out.WriteLine(line + " -> " + target);
                files++;
            }
            else if (attr.Type == FileType.Directory)
            {
                Out.WriteLine(line);
                dirs++;
                var (d, f, s) = await TreeDirAsync(ns, full, indent + (last ? "    " : "│   "), all, ct).ConfigureAwait(false);
                dirs += d;
                files += f;
                status |= s;
            }
            else
            {
                Out.WriteLine(line);
                files++;
            }
        }

        return (dirs, files, status);
    }

    private static async ValueTask<string> ReadLinkOrQuestionAsync(MountNamespace ns, string path, CancellationToken ct)
    {
        try
        {
            return await ns.ReadLinkAsync(path, ct).ConfigureAwait(false);
        }
        catch (VfsException)
        {
            return "?";
        }
    }

    /// <summary>GNU stat's default block (lstat: a symlink is described, not followed).</summary>
    private async ValueTask<int> StatAsync(List<string> args, CancellationToken ct)
    {
        var (_, operands) = ParseFlags(args, string.Empty);
        if (operands.Count == 0)
        {
            throw new ShellUsageException("missing operand");
        }

        int status = 0;
        foreach (var op in operands)
        {
            var p = ResolveSandbox("stat", op);
            InodeAttr a;
            try
            {
                a = await p.Namespace!.LstatAsync(p.Path, ct).ConfigureAwait(false);
            }
            catch (VfsException e)
            {
                Err.WriteLine($"stat: cannot statx '{op}': {ShellText.StrError(e.Errno)}");
                status = 1;
                continue;
            }

            var (users, groups) = await NamesAsync(p.Namespace!, ct).ConfigureAwait(false);
            string name = $"{op}";
            if (a.Type == FileType.Symlink)
            {
                name += " -> " + await ReadLinkOrQuestionAsync(p.Namespace!, p.Path, ct).ConfigureAwait(false);
            }

            int mountId = MountIdOf(p.Namespace!, p.Path);
            string user = users.TryGetValue(a.Uid, out var u) ? u : "UNKNOWN";
            string group = groups.TryGetValue(a.Gid, out var g) ? g : "UNKNOWN";
            var ic = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.Append("  File: ").Append(name).Append('\n');
            sb.Append(string.Create(ic, $"  Size: {a.Size,-10}\tBlocks: {a.Blocks,-10} IO Block: {4096,-6} {ShellText.FileTypeName(a)}\n"));
            sb.Append(string.Create(ic, $"Device: 0,{mountId}\tInode: {a.Ino,-11} Links: {a.Nlink}"));
            if (a.Type is FileType.CharDevice or FileType.BlockDevice)
            {
                var (maj, min) = ShellText.DevNumbers(a.Rdev);
                sb.Append(string.Create(ic, $"\tDevice type: {maj},{min}"));
            }

            sb.Append('\n');
            string octal = Convert.ToString(a.Perm, 8).PadLeft(4, '0');
            sb.Append(string.Create(ic, $"Access: ({octal}/{ShellText.ModeString(a.Mode)})  Uid: ({a.Uid,5}/{user,8})   Gid: ({a.Gid,5}/{group,8})\n"));
            sb.Append("Access: ").Append(ShellText.StatDate(a.Atime)).Append('\n');
            sb.Append("Modify: ").Append(ShellText.StatDate(a.Mtime)).Append('\n');
            sb.Append("Change: ").Append(ShellText.StatDate(a.Ctime)).Append('\n');
            sb.Append(" Birth: -");
            Out.WriteLine(sb.ToString());
        }

        return status;
    }

    /// <summary>The id of the mount a path is on (stat's "Device" minor: each mount is its own device, as in runsc).</summary>
    private static int MountIdOf(MountNamespace ns, string path)
    {
        // The longest mount destination that is a prefix of the path; symlinks in the path are not resolved
        // here, so this is the mount of the path as written.
        string abs = path.StartsWith('/') ? path : ShellText.Join(ns.Getcwd(), path);
        return ns.GetMounts()
            .Where(m => m.Destination == "/" || abs == m.Destination || abs.StartsWith(m.Destination + "/", StringComparison.Ordinal))
            .OrderBy(m => m.Destination.Length)
            .ThenBy(m => m.Id)
            .LastOrDefault()?.Id ?? 0;
    }

    private async ValueTask<int> CatAsync(List<string> args, CancellationToken ct)
    {
        var (_, operands) = ParseFlags(args, string.Empty);
        if (operands.Count == 0)
        {
            throw new ShellUsageException("missing operand (reading stdin is not supported)");
        }

        int status = 0;
        var buf = new byte[64 * 1024];
        foreach (var op in operands)
        {
            var p = ResolveSandbox("cat", op);
            try
            {
                await using var f = await p.Namespace!.OpenAsync(p.Path, OpenFlags.ReadOnly, ct: ct).ConfigureAwait(false);
                if (f.Node.Type == FileType.Directory)
                {
                    VfsException.Throw(Errno.EISDIR);
                }

                await Out.FlushAsync(ct).ConfigureAwait(false);
                int n;
                while ((n = await f.ReadAsync(buf, ct).ConfigureAwait(false)) > 0)
                {
                    await _io.Stdout.WriteAsync(buf.AsMemory(0, n), ct).ConfigureAwait(false);
                }

                await _io.Stdout.FlushAsync(ct).ConfigureAwait(false);
            }
            catch (VfsException e)
            {
                Err.WriteLine($"cat: {op}: {ShellText.StrError(e.Errno)}");
                status = 1;
            }
        }

        return status;
    }
}
