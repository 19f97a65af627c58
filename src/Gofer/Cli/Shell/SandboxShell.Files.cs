using System.Text;
using Gofer.Sandbox.Vfs;

namespace Gofer.Cli.Shell;

/// <summary>write, append, mkdir, rm, rmdir, mv, ln, readlink, chmod, touch, truncate, cp.</summary>
internal sealed partial class SandboxShell
{
    private const uint DefaultFilePerm = 0x1B6; // 0666, less the namespace's umask

    private async ValueTask<int> WriteAsync(string cmd, List<string> args, bool append, CancellationToken ct)
    {
        if (args.Count == 0)
        {
            throw new ShellUsageException("missing file operand");
        }

        var p = ResolveSandbox(cmd, args[0]);
        byte[] data;
        if (args.Count == 1 || (args.Count == 2 && args[1] == "-"))
        {
            if (_inScript)
            {
                throw new ShellUsageException("no TEXT, and stdin is the script");
            }

            var ms = new MemoryStream();
            await _io.Stdin.CopyToAsync(ms, ct).ConfigureAwait(false);
            data = ms.ToArray();
        }
        else
        {
            data = Encoding.UTF8.GetBytes(string.Join(' ', args.Skip(1)) + "\n");
        }

        var flags = OpenFlags.WriteOnly | OpenFlags.Create | (append ? OpenFlags.Append : OpenFlags.Truncate);
        OpenFile f;
        try
        {
            f = await p.Namespace!.OpenAsync(p.Path, flags, DefaultFilePerm, ct).ConfigureAwait(false);
        }
        catch (VfsException e)
        {
            Err.WriteLine($"{cmd}: cannot {(append ? "open" : "create")} '{args[0]}': {ShellText.StrError(e.Errno)}");
            return 1;
        }

        await using (f.ConfigureAwait(false))
        {
            try
            {
                await WriteFullyAsync(f, data, ct).ConfigureAwait(false);
            }
            catch (VfsException e)
            {
                Err.WriteLine($"{cmd}: error writing '{args[0]}': {ShellText.StrError(e.Errno)}");
                return 1;
            }
        }

        return 0;
    }

    private static async ValueTask WriteFullyAsync(OpenFile f, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        while (!data.IsEmpty)
        {
            int n = await f.WriteAsync(data, ct).ConfigureAwait(false);
            if (n <= 0)
            {
                VfsException.Throw(Errno.EIO);
            }

            data = data[n..];
        }
    }

    private async ValueTask<int> MkdirAsync(List<string> args, CancellationToken ct)
    {
        var (flags, operands) = ParseFlags(args, "p");
        if (operands.Count == 0)
        {
            throw new ShellUsageException("missing operand");
        }

        int status = 0;
        foreach (var op in operands)
        {
            var p = ResolveSandbox("mkdir", op);
            var ns = p.Namespace!;
            if (!flags.Contains('p'))
            {
                status |= await Try("mkdir", op, () => ns.MkdirAsync(p.Path, 0x1FF, ct), "cannot create directory").ConfigureAwait(false);
                continue;
            }

            // -p: make each missing ancestor; an existing directory is fine, anything else existing is not.
            string prefix = p.Path.StartsWith('/') ? "/" : string.Empty;
            foreach (var part in p.Path.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                prefix = prefix.Length == 0 || prefix == "/" ? prefix + part : prefix + "/" + part;
                try
                {
                    await ns.MkdirAsync(prefix, 0x1FF, ct).ConfigureAwait(false);
                }
                catch (VfsException e) when (e.Errno == Errno.EEXIST)
                {
                    InodeAttr a;
                    try
                    {
                        a = await ns.StatAsync(prefix, ct).ConfigureAwait(false);
                    }
                    catch (VfsException e2)
                    {
                        Err.WriteLine($"mkdir: cannot create directory '{op}': {ShellText.StrError(e2.Errno)}");
                        status = 1;
                        break;
                    }

                    if (a.Type != FileType.Directory)
                    {
                        Err.WriteLine($"mkdir: cannot create directory '{op}': {ShellText.StrError(Errno.ENOTDIR)}");
                        status = 1;
                        break;
                    }
                }
                catch (VfsException e)
                {
                    Err.WriteLine($"mkdir: cannot create directory '{op}': {ShellText.StrError(e.Errno)}");
                    status = 1;
                    break;
                }
            }
        }

        return status;
    }

    private async ValueTask<int> RmAsync(List<string> args, CancellationToken ct)
    {
        var (flags, operands) = ParseFlags(args, "rRf");
        bool recursive = flags.Contains('r') || flags.Contains('R'), force = flags.Contains('f');
        if (operands.Count == 0 && !force)
        {
            throw new ShellUsageException("missing operand");
        }

        int status = 0;
        foreach (var op in operands)
        {
            var p = ResolveSandbox("rm", op);
            if (ShellText.BaseName(p.Path) is "." or ".." || p.Path.Trim('/').Length == 0)
            {
                Err.WriteLine($"rm: refusing to remove '.' or '..' or '/' directory: skipping '{op}'");
                status = 1;
                continue;
            }

            status |= await RemoveAsync(p.Namespace!, op, p.Path, recursive, force, ct).ConfigureAwait(false);
        }

        return status;
    }

    private async ValueTask<int> RemoveAsync(MountNamespace ns, string display, string path, bool recursive, bool force, CancellationToken ct)
    {
        InodeAttr a;
        try
        {
            a = await ns.LstatAsync(path, ct).ConfigureAwait(false);
        }
        catch (VfsException e)
        {
            if (force && e.Errno == Errno.ENOENT)
            {
                return 0;
            }

            Err.WriteLine($"rm: cannot remove '{display}': {ShellText.StrError(e.Errno)}");
            return 1;
        }

        if (a.Type != FileType.Directory)
        {
            return await Try("rm", display, () => ns.UnlinkAsync(path, ct), "cannot remove").ConfigureAwait(false);
        }

        if (!recursive)
        {
            Err.WriteLine($"rm: cannot remove '{display}': {ShellText.StrError(Errno.EISDIR)}");
            return 1;
        }

        int status = 0;
        IReadOnlyList<DirEntry> entries;
        try
        {
            entries = await ns.ReadDirAsync(path, ct).ConfigureAwait(false);
        }
        catch (VfsException e)
        {
            Err.WriteLine($"rm: cannot remove '{display}': {ShellText.StrError(e.Errno)}");
            return 1;
        }

        foreach (var e in entries)
        {
            status |= await RemoveAsync(ns, ShellText.Join(display, e.Name), ShellText.Join(path, e.Name), recursive, force, ct).ConfigureAwait(false);
        }

        return status | await Try("rm", display, () => ns.RmdirAsync(path, ct), "cannot remove").ConfigureAwait(false);
    }

    private async ValueTask<int> RmdirAsync(List<string> args, CancellationToken ct)
    {
        var (_, operands) = ParseFlags(args, string.Empty);
        if (operands.Count == 0)
        {
            throw new ShellUsageException("missing operand");
        }

        int status = 0;
        foreach (var op in operands)
        {
            var p = ResolveSandbox("rmdir", op);
            status |= await Try("rmdir", op, () => p.Namespace!.RmdirAsync(p.Path, ct), "failed to remove").ConfigureAwait(false);
        }

        return status;
    }

    private async ValueTask<int> MvAsync(List<string> args, CancellationToken ct)
    {
        var (_, operands) = ParseFlags(args, string.Empty);
        if (operands.Count != 2)
        {
            throw new ShellUsageException(operands.Count < 2 ? "missing file operand" : "extra operand");
        }

        var src = ResolveSandbox("mv", operands[0]);
        var dst = ResolveSandbox("mv", operands[1]);
        if (!ReferenceEquals(src.Namespace, dst.Namespace))
        {
            Err.WriteLine($"mv: cannot move '{operands[0]}' to '{operands[1]}': {ShellText.StrError(Errno.EXDEV)}");
            return 1;
        }

        var ns = src.Namespace!;
        try
        {
            await ns.LstatAsync(src.Path, ct).ConfigureAwait(false);
        }
        catch (VfsException e)
        {
            Err.WriteLine($"mv: cannot stat '{operands[0]}': {ShellText.StrError(e.Errno)}");
            return 1;
        }

        string target = dst.Path;
        if (await IsDirectoryAsync(ns, target, ct).ConfigureAwait(false))
        {
            target = ShellText.Join(target, ShellText.BaseName(src.Path));
        }

        try
        {
            await ns.RenameAsync(src.Path, target, RenameFlags.None, ct).ConfigureAwait(false);
            return 0;
        }
        catch (VfsException e)
        {
            Err.WriteLine($"mv: cannot move '{operands[0]}' to '{(target == dst.Path ? operands[1] : target)}': {ShellText.StrError(e.Errno)}");
            return 1;
        }
    }

    private static async ValueTask<bool> IsDirectoryAsync(MountNamespace ns, string path, CancellationToken ct)
    {
        try
        {
            return (await ns.StatAsync(path, ct).ConfigureAwait(false)).Type == FileType.Directory;
        }
        catch (VfsException)
        {
            return false;
        }
    }

    private async ValueTask<int> LnAsync(List<string> args, CancellationToken ct)
    {
        var (flags, operands) = ParseFlags(args, "s");
        if (operands.Count != 2)
        {
            throw new ShellUsageException(operands.Count < 2 ? "missing file operand" : "extra operand");
        }

        var link = ResolveSandbox("ln", operands[1]);
        var ns = link.Namespace!;
        if (flags.Contains('s'))
        {
            // The target is stored as written (it is resolved later, inside the sandbox).
            return await Try("ln", operands[1], () => ns.SymlinkAsync(operands[0], link.Path, ct), "failed to create symbolic link").ConfigureAwait(false);
        }

        var target = ResolveSandbox("ln", operands[0]);
        if (!ReferenceEquals(target.Namespace, ns))
        {
            Err.WriteLine($"ln: failed to create hard link '{operands[1]}' => '{operands[0]}': {ShellText.StrError(Errno.EXDEV)}");
            return 1;
        }

        try
        {
            await ns.LinkAsync(target.Path, link.Path, ct).ConfigureAwait(false);
            return 0;
        }
        catch (VfsException e)
        {
            Err.WriteLine($"ln: failed to create hard link '{operands[1]}' => '{operands[0]}': {ShellText.StrError(e.Errno)}");
            return 1;
        }
    }

    private async ValueTask<int> ReadlinkAsync(List<string> args, CancellationToken ct)
    {
        var (_, operands) = ParseFlags(args, string.Empty);
        if (operands.Count == 0)
        {
            throw new ShellUsageException("missing operand");
        }

        int status = 0;
        foreach (var op in operands)
        {
            var p = ResolveSandbox("readlink", op);
            try
            {
                Out.WriteLine(await p.Namespace!.ReadLinkAsync(p.Path, ct).ConfigureAwait(false));
            }
            catch (VfsException e)
            {
                Err.WriteLine($"readlink: {op}: {ShellText.StrError(e.Errno)}");
                status = 1;
            }
        }

        return status;
    }

    private async ValueTask<int> ChmodAsync(List<string> args, CancellationToken ct)
    {
        // Not ParseFlags: "-x" is a mode here, not an option.
        if (args.Count < 2)
        {
            throw new ShellUsageException(args.Count == 0 ? "missing operand" : $"missing operand after '{args[0]}'");
        }

        string modeText = args[0];
        int status = 0;
        foreach (var op in args.Skip(1))
        {
            var p = ResolveSandbox("chmod", op);
            InodeAttr a;
            try
            {
                a = await p.Namespace!.StatAsync(p.Path, ct).ConfigureAwait(false);
            }
            catch (VfsException e)
            {
                Err.WriteLine($"chmod: cannot access '{op}': {ShellText.StrError(e.Errno)}");
                status = 1;
                continue;
            }

            uint perm = ApplyMode(modeText, a.Perm, a.Type == FileType.Directory);
            status |= await Try("chmod", op, () => p.Namespace!.ChmodAsync(p.Path, perm, ct), "changing permissions of").ConfigureAwait(false);
        }

        return status;
    }

    /// <summary>An octal mode, or comma-separated symbolic clauses [ugoa]*[+-=][rwxXst]* (no umask, like chmod a+x).</summary>
    internal static uint ApplyMode(string text, uint current, bool isDir)
    {
        if (text.Length is > 0 and <= 4 && text.All(c => c is >= '0' and <= '7'))
        {
            return Convert.ToUInt32(text, 8);
        }

        uint perm = current & Mode.PermMask;
        foreach (var clause in text.Split(','))
        {
            int i = 0;
            uint who = 0;
            for (; i < clause.Length && clause[i] is 'u' or 'g' or 'o' or 'a'; i++)
            {
                who |= clause[i] switch { 'u' => 0x9C0u /* u rwx + setuid */, 'g' => 0x438u /* g rwx + setgid */, 'o' => 0x207u /* o rwx + sticky */, _ => 0xFFFu };
            }

            if (who == 0)
            {
                who = 0xFFF;
            }

            if (i >= clause.Length || clause[i] is not ('+' or '-' or '='))
            {
                throw new ShellUsageException($"invalid mode: '{text}'");
            }

            char op = clause[i++];
            uint bits = 0;
            for (; i < clause.Length; i++)
            {
                bits |= clause[i] switch
                {
                    'r' => 0x124u,
                    'w' => 0x92u,
                    'x' => 0x49u,
                    'X' => isDir || (perm & 0x49) != 0 ? 0x49u : 0u,
                    's' => Mode.SetUid | Mode.SetGid,
                    't' => Mode.Sticky,
                    _ => throw new ShellUsageException($"invalid mode: '{text}'"),
                };
            }

            bits &= who;
            perm = op switch { '+' => perm | bits, '-' => perm & ~bits, _ => (perm & ~who) | bits };
        }

        return perm;
    }

    private async ValueTask<int> TouchAsync(List<string> args, CancellationToken ct)
    {
        var (_, operands) = ParseFlags(args, string.Empty);
        if (operands.Count == 0)
        {
            throw new ShellUsageException("missing file operand");
        }

        int status = 0;
        foreach (var op in operands)
        {
            var p = ResolveSandbox("touch", op);
            var ns = p.Namespace!;
            status |= await Try("touch", op, async () =>
            {
                try
                {
                    var now = Timespec.Now();
                    await ns.UtimesAsync(p.Path, now, now, follow: true, ct).ConfigureAwait(false);
                }
                catch (VfsException e) when (e.Errno == Errno.ENOENT)
                {
                    await using var f = await ns.OpenAsync(p.Path, OpenFlags.WriteOnly | OpenFlags.Create, DefaultFilePerm, ct).ConfigureAwait(false);
                }
            }, "cannot touch").ConfigureAwait(false);
        }

        return status;
    }

    private async ValueTask<int> TruncateAsync(List<string> args, CancellationToken ct)
    {
        long? size = null;
        var files = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "-s" && i + 1 < args.Count)
            {
                size = ShellText.TryParseSize(args[++i], out long s) ? s : throw new ShellUsageException($"invalid number: '{args[i]}'");
            }
            else if (args[i].StartsWith("-s", StringComparison.Ordinal) && args[i].Length > 2)
            {
                size = ShellText.TryParseSize(args[i][2..], out long s) ? s : throw new ShellUsageException($"invalid number: '{args[i][2..]}'");
            }
            else if (args[i].StartsWith('-') && args[i].Length > 1)
            {
                throw new ShellUsageException($"invalid option -- '{args[i].TrimStart('-')}'");
            }
            else
            {
                files.Add(args[i]);
            }
        }

        if (size is null)
        {
            throw new ShellUsageException("you must specify '-s SIZE'");
        }

        if (files.Count == 0)
        {
            throw new ShellUsageException("missing file operand");
        }

        int status = 0;
        foreach (var op in files)
        {
            var p = ResolveSandbox("truncate", op);
            var ns = p.Namespace!;
            status |= await Try("truncate", op, async () =>
            {
                // Like GNU truncate: open for writing (creating), then ftruncate.
                await using var f = await ns.OpenAsync(p.Path, OpenFlags.WriteOnly | OpenFlags.Create, DefaultFilePerm, ct).ConfigureAwait(false);
                await f.TruncateAsync(size.Value, ct).ConfigureAwait(false);
            }, "cannot open").ConfigureAwait(false) == 0 ? 0 : 1;
        }

        return status;
    }

    /// <summary>
    /// cp SOURCE DEST between any two of: a sandbox path (optionally NAME:), a host path (host:/path). Regular
    /// files only; DEST may be a directory (the source's name is kept).
    /// </summary>
    private async ValueTask<int> CpAsync(List<string> args, CancellationToken ct)
    {
        var (_, operands) = ParseFlags(args, string.Empty);
        if (operands.Count != 2)
        {
            throw new ShellUsageException(operands.Count < 2 ? "missing file operand" : "extra operand (one SOURCE, one DEST)");
        }

        var src = Resolve(operands[0]);
        var dst = Resolve(operands[1]);
        byte[] data;
        uint perm;
        try
        {
            if (src.IsHost)
            {
                if (Directory.Exists(src.Path))
                {
                    Err.WriteLine($"cp: -r not specified; omitting directory '{operands[0]}'");
                    return 1;
                }

                data = await File.ReadAllBytesAsync(src.Path, ct).ConfigureAwait(false);
                perm = OperatingSystem.IsWindows() ? 0x1A4u /* 0644 */ : (uint)File.GetUnixFileMode(src.Path) & 0x1FF;
            }
            else
            {
                var a = await src.Namespace!.StatAsync(src.Path, ct).ConfigureAwait(false);
                if (a.Type == FileType.Directory)
                {
                    Err.WriteLine($"cp: -r not specified; omitting directory '{operands[0]}'");
                    return 1;
                }

                data = await ReadAllAsync(src.Namespace!, src.Path, int.MaxValue, ct).ConfigureAwait(false);
                perm = a.Perm & 0x1FF;
            }
        }
        catch (VfsException e)
        {
            Err.WriteLine($"cp: cannot stat '{operands[0]}': {ShellText.StrError(e.Errno)}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Err.WriteLine($"cp: cannot open '{operands[0]}' for reading: {HostError(e)}");
            return 1;
        }

        string name = ShellText.BaseName(src.Path);
        if (dst.IsHost)
        {
            string path = Directory.Exists(dst.Path) ? Path.Combine(dst.Path, name) : dst.Path;
            try
            {
                await File.WriteAllBytesAsync(path, data, ct).ConfigureAwait(false);
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Err.WriteLine($"cp: cannot create regular file '{operands[1]}': {HostError(e)}");
                return 1;
            }
        }

        var ns = dst.Namespace!;
        string target = await IsDirectoryAsync(ns, dst.Path, ct).ConfigureAwait(false) ? ShellText.Join(dst.Path, name) : dst.Path;
        OpenFile f;
        try
        {
            f = await ns.OpenAsync(target, OpenFlags.WriteOnly | OpenFlags.Create | OpenFlags.Truncate, perm, ct).ConfigureAwait(false);
        }
        catch (VfsException e)
        {
            Err.WriteLine($"cp: cannot create regular file '{(target == dst.Path ? operands[1] : target)}': {ShellText.StrError(e.Errno)}");
            return 1;
        }

        await using (f.ConfigureAwait(false))
        {
            try
            {
                await WriteFullyAsync(f, data, ct).ConfigureAwait(false);
                return 0;
            }
            catch (VfsException e)
            {
                Err.WriteLine($"cp: error writing '{operands[1]}': {ShellText.StrError(e.Errno)}");
                return 1;
            }
        }
    }

    private static string HostError(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => ShellText.StrError(Errno.ENOENT),
        UnauthorizedAccessException => ShellText.StrError(Errno.EACCES),
        _ => e.Message,
    };
}
