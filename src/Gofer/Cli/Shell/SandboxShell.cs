using System.Globalization;
using System.Text;
using Gofer.Sandbox.Vfs;

namespace Gofer.Cli.Shell;

/// <summary>Where a command's standard streams go. Text and binary output share <see cref="Stdout"/>.</summary>
internal sealed class ShellIo
{
    public ShellIo(Stream stdout, TextWriter stderr, Stream stdin, bool stdinIsTerminal)
    {
        Stdout = stdout;
        Out = new StreamWriter(stdout, new UTF8Encoding(false), 4096, leaveOpen: true) { AutoFlush = true, NewLine = "\n" };
        Err = stderr;
        Stdin = stdin;
        StdinIsTerminal = stdinIsTerminal;
    }

    public Stream Stdout { get; }

    public TextWriter Out { get; }

    public TextWriter Err { get; }

    public Stream Stdin { get; }

    public bool StdinIsTerminal { get; }

    /// <summary>The process's own streams; stdin counts as a terminal only when it is not redirected.</summary>
    public static ShellIo FromConsole() =>
        new(Console.OpenStandardOutput(), Console.Error, Console.OpenStandardInput(), !Console.IsInputRedirected);
}

/// <summary>A path operand: a container's namespace and a path in it, or a host path (<c>host:/path</c>).</summary>
internal readonly record struct ShellPath(MountNamespace? Namespace, string Container, string Path, string Display)
{
    public bool IsHost => Namespace is null;
}

/// <summary>
/// The command interpreter of <c>gofer run</c>: coreutils-like commands against the sandbox's mount namespaces
/// (never the host, except for <c>cp</c>'s explicit <c>host:</c> operands). Exit statuses follow Linux tools:
/// 0 success, 1 an operation failed, 2 the command was used wrongly, 127 unknown command.
/// </summary>
internal sealed partial class SandboxShell
{
    /// <summary>The prefix that addresses the host's files (cp only).</summary>
    public const string HostPrefix = "host";

    private readonly IReadOnlyDictionary<string, MountNamespace> _containers;
    private readonly ShellIo _io;
    private bool _inScript;

    /// <param name="containers">Namespaces by container name; a path "NAME:/x" addresses container NAME.</param>
    /// <param name="defaultContainer">The container unprefixed paths refer to (the pod's root container).</param>
    /// <param name="io">Streams.</param>
    public SandboxShell(IReadOnlyDictionary<string, MountNamespace> containers, string defaultContainer, ShellIo io)
    {
        ArgumentNullException.ThrowIfNull(containers);
        if (!containers.ContainsKey(defaultContainer))
        {
            throw new ArgumentException($"no container named \"{defaultContainer}\"", nameof(defaultContainer));
        }

        _containers = containers;
        DefaultContainer = defaultContainer;
        _io = io;
    }

    /// <summary>A shell over one namespace (container name "").</summary>
    public SandboxShell(MountNamespace ns, ShellIo io)
        : this(new Dictionary<string, MountNamespace> { [string.Empty] = ns }, string.Empty, io)
    {
    }

    public string DefaultContainer { get; }

    private TextWriter Out => _io.Out;

    private TextWriter Err => _io.Err;

    private static readonly Dictionary<string, string> Usage = new(StringComparer.Ordinal)
    {
        ["ls"] = "ls [-l] [-a] [-R] [-d] [PATH...]",
        ["cat"] = "cat FILE...",
        ["stat"] = "stat PATH...",
        ["tree"] = "tree [-a] [DIR...]",
        ["write"] = "write FILE [TEXT...|-]   (TEXT joined by spaces plus a newline; stdin when absent or -)",
        ["append"] = "append FILE [TEXT...|-]",
        ["mkdir"] = "mkdir [-p] DIR...",
        ["rm"] = "rm [-r] [-f] PATH...",
        ["rmdir"] = "rmdir DIR...",
        ["mv"] = "mv SOURCE DEST",
        ["ln"] = "ln [-s] TARGET LINK",
        ["readlink"] = "readlink PATH...",
        ["chmod"] = "chmod MODE PATH...   (octal, or [ugoa][+-=][rwxst])",
        ["touch"] = "touch FILE...",
        ["truncate"] = "truncate -s SIZE FILE...",
        ["cp"] = "cp SOURCE DEST   (host:/path for a host file; NAME:/path for a pod container)",
        ["mounts"] = "mounts [CONTAINER]",
        ["df"] = "df [PATH...]",
        ["xattr"] = "xattr get FILE NAME | set FILE NAME VALUE | list FILE | rm FILE NAME",
        ["echo"] = "echo [TEXT...]",
        ["pwd"] = "pwd",
        ["cd"] = "cd [DIR]",
        ["sh"] = "sh   (read commands from stdin; '#' comments, '…' and \"…\" quoting, exit [N])",
        ["help"] = "help",
    };

    /// <summary>Runs one command; returns its exit status.</summary>
    public async ValueTask<int> RunAsync(IReadOnlyList<string> argv, CancellationToken ct = default)
    {
        if (argv.Count == 0)
        {
            return 0;
        }

        string name = argv[0];
        var args = argv.Skip(1).ToList();
        try
        {
            return name switch
            {
                "ls" => await LsAsync(args, ct).ConfigureAwait(false),
                "cat" => await CatAsync(args, ct).ConfigureAwait(false),
                "stat" => await StatAsync(args, ct).ConfigureAwait(false),
                "tree" => await TreeAsync(args, ct).ConfigureAwait(false),
                "write" => await WriteAsync(name, args, append: false, ct).ConfigureAwait(false),
                "append" => await WriteAsync(name, args, append: true, ct).ConfigureAwait(false),
                "mkdir" => await MkdirAsync(args, ct).ConfigureAwait(false),
                "rm" => await RmAsync(args, ct).ConfigureAwait(false),
                "rmdir" => await RmdirAsync(args, ct).ConfigureAwait(false),
                "mv" => await MvAsync(args, ct).ConfigureAwait(false),
                "ln" => await LnAsync(args, ct).ConfigureAwait(false),
                "readlink" => await ReadlinkAsync(args, ct).ConfigureAwait(false),
                "chmod" => await ChmodAsync(args, ct).ConfigureAwait(false),
                "touch" => await TouchAsync(args, ct).ConfigureAwait(false),
                "truncate" => await TruncateAsync(args, ct).ConfigureAwait(false),
                "cp" => await CpAsync(args, ct).ConfigureAwait(false),
                "mounts" => Mounts(args),
                "df" => await DfAsync(args, ct).ConfigureAwait(false),
                "xattr" => await XattrAsync(args, ct).ConfigureAwait(false),
                "echo" => Echo(args),
                "pwd" => Pwd(args),
                "cd" => await CdAsync(args, ct).ConfigureAwait(false),
                "sh" => await ShAsync(args, ct).ConfigureAwait(false),
                "help" => Help(),
                _ => NotFound(name),
            };
        }
        catch (ShellUsageException e)
        {
            Err.WriteLine($"{name}: {e.Message}");
            if (Usage.TryGetValue(name, out var u))
            {
                Err.WriteLine($"usage: {u}");
            }

            return 2;
        }
    }

    private int NotFound(string name)
    {
        Err.WriteLine($"gofer: {name}: command not found (try 'help')");
        return 127;
    }

    private int Help()
    {
        Out.WriteLine("Commands run against the sandbox's files (NAME:/path addresses pod container NAME; host:/path is a host file, for cp):");
        foreach (var u in Usage.Values)
        {
            Out.WriteLine("  " + u);
        }

        return 0;
    }

    private int Echo(List<string> args)
    {
        Out.WriteLine(string.Join(' ', args));
        return 0;
    }

    private int Pwd(List<string> args)
    {
        if (args.Count != 0)
        {
            throw new ShellUsageException("too many arguments");
        }

        Out.WriteLine(_containers[DefaultContainer].Getcwd());
        return 0;
    }

    private async ValueTask<int> CdAsync(List<string> args, CancellationToken ct)
    {
        if (args.Count > 1)
        {
            throw new ShellUsageException("too many arguments");
        }

        var p = Resolve(args.Count == 0 ? "/" : args[0]);
        if (p.IsHost)
        {
            throw new ShellUsageException("cannot cd to a host path");
        }

        return await Try("cd", p.Display, async () => await p.Namespace!.ChdirAsync(p.Path, ct).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads commands from stdin, one per line, and runs them; returns the last status (or exit's). Prompts
    /// ("gofer$ " on stderr, like a shell) only when stdin is a terminal.
    /// </summary>
    private async ValueTask<int> ShAsync(List<string> args, CancellationToken ct)
    {
        if (args.Count != 0)
        {
            throw new ShellUsageException("takes no arguments (commands come from stdin)");
        }

        if (_inScript)
        {
            throw new ShellUsageException("already reading commands from stdin");
        }

        _inScript = true;
        try
        {
            using var reader = new StreamReader(_io.Stdin, new UTF8Encoding(false), false, 4096, leaveOpen: true);
            int status = 0;
            while (true)
            {
                if (_io.StdinIsTerminal)
                {
                    Err.Write("gofer$ ");
                    Err.Flush();
                }

                string? line = await reader.ReadLineAsync(ct).ConfigureAwait(false);
                if (line is null)
                {
                    return status;
                }

                var words = ShellText.SplitWords(line, out string? error);
                if (words is null)
                {
                    Err.WriteLine($"sh: {error}");
                    status = 2;
                    continue;
                }

                if (words.Count == 0)
                {
                    continue;
                }

                if (words[0] == "exit")
                {
                    if (words.Count > 2 || (words.Count == 2 && !int.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out status)))
                    {
                        Err.WriteLine("sh: exit: usage: exit [N]");
                        return 2;
                    }

                    return status & 0xFF;
                }

                status = await RunAsync(words, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _inScript = false;
        }
    }

    /// <summary>
    /// Splits "NAME:/path" into a container (or the host for "host:") and a path; anything else is a path in the
    /// default container. A prefix that names no container is part of the path (a file may be called "a:b").
    /// </summary>
    internal ShellPath Resolve(string operand)
    {
        int colon = operand.IndexOf(':', StringComparison.Ordinal);
        int slash = operand.IndexOf('/', StringComparison.Ordinal);
        if (colon > 0 && (slash < 0 || colon < slash))
        {
            string prefix = operand[..colon];
            string rest = operand[(colon + 1)..];
            if (rest.Length == 0)
            {
                rest = "/";
            }

            if (prefix == HostPrefix && !_containers.ContainsKey(HostPrefix))
            {
                return new ShellPath(null, HostPrefix, rest, operand);
            }

            if (_containers.TryGetValue(prefix, out var ns) && prefix.Length != 0)
            {
                return new ShellPath(ns, prefix, rest, operand);
            }
        }

        return new ShellPath(_containers[DefaultContainer], DefaultContainer, operand, operand);
    }

    private ShellPath ResolveSandbox(string cmd, string operand)
    {
        var p = Resolve(operand);
        if (p.IsHost)
        {
            throw new ShellUsageException($"'{operand}': host paths are only for cp");
        }

        return p;
    }

    /// <summary>Runs an operation; a VFS error prints "cmd: 'what': strerror" and gives status 1.</summary>
    private async ValueTask<int> Try(string cmd, string quoted, Func<ValueTask> op, string verb = "cannot access")
    {
        try
        {
            await op().ConfigureAwait(false);
            return 0;
        }
        catch (VfsException e)
        {
            Err.WriteLine($"{cmd}: {verb} '{quoted}': {ShellText.StrError(e.Errno)}");
            return 1;
        }
    }

    private void Fail(string cmd, string message) => Err.WriteLine($"{cmd}: {message}");

    /// <summary>Splits leading "-xyz" options (letters from <paramref name="allowed"/>) from operands; "--" ends them.</summary>
    private static (HashSet<char> Flags, List<string> Operands) ParseFlags(List<string> args, string allowed)
    {
        var flags = new HashSet<char>();
        var operands = new List<string>();
        bool options = true;
        foreach (var a in args)
        {
            if (options && a == "--")
            {
                options = false;
                continue;
            }

            if (options && a.Length > 1 && a[0] == '-')
            {
                foreach (char c in a.AsSpan(1))
                {
                    if (!allowed.Contains(c, StringComparison.Ordinal))
                    {
                        throw new ShellUsageException($"invalid option -- '{c}'");
                    }

                    flags.Add(c);
                }

                continue;
            }

            operands.Add(a);
        }

        return (flags, operands);
    }

    /// <summary>uid → name and gid → name from the container's /etc/passwd and /etc/group (numbers when absent).</summary>
    private static async ValueTask<(Dictionary<uint, string> Users, Dictionary<uint, string> Groups)> NamesAsync(MountNamespace ns, CancellationToken ct)
    {
        return (await ReadIdFileAsync(ns, "/etc/passwd", ct).ConfigureAwait(false), await ReadIdFileAsync(ns, "/etc/group", ct).ConfigureAwait(false));
    }

    private static async ValueTask<Dictionary<uint, string>> ReadIdFileAsync(MountNamespace ns, string path, CancellationToken ct)
    {
        var map = new Dictionary<uint, string>();
        byte[] bytes;
        try
        {
            bytes = await ReadAllAsync(ns, path, 1 << 20, ct).ConfigureAwait(false);
        }
        catch (VfsException)
        {
            return map;
        }

        foreach (var line in Encoding.UTF8.GetString(bytes).Split('\n'))
        {
            // name:password:id:... (passwd: uid in field 3; group: gid in field 3)
            var f = line.Split(':');
            if (f.Length >= 3 && f[0].Length != 0 && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out uint id))
            {
                map.TryAdd(id, f[0]);
            }
        }

        return map;
    }

    /// <summary>Reads a whole sandbox file (at most <paramref name="limit"/> bytes).</summary>
    internal static async ValueTask<byte[]> ReadAllAsync(MountNamespace ns, string path, int limit, CancellationToken ct)
    {
        await using var f = await ns.OpenAsync(path, OpenFlags.ReadOnly, ct: ct).ConfigureAwait(false);
        var ms = new MemoryStream();
        var buf = new byte[64 * 1024];
        while (ms.Length < limit)
        {
            int n = await f.ReadAsync(buf, ct).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            ms.Write(buf, 0, n);
        }

        return ms.ToArray();
    }
}
