using System.Collections;
using System.Runtime.InteropServices;
using System.Text;
using Gofer.Runtime.Native;

namespace Gofer.Runtime;

/// <summary>What to start and which descriptors it inherits.</summary>
public sealed record SpawnOptions
{
    /// <summary>Absolute path of the executable (no PATH search).</summary>
    public required string FileName { get; init; }

    /// <summary>argv[1..].</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>argv[0]; defaults to <see cref="FileName"/>.</summary>
    public string? Argv0 { get; init; }

    /// <summary>Descriptors the child gets at 3, 4, 5, ... in this order. Nothing else above 2 is inherited.</summary>
    public IReadOnlyList<SafeHandle> InheritedFds { get; init; } = [];

    /// <summary>Replacements for the child's 0, 1, 2; null inherits the parent's.</summary>
    public SafeHandle? StandardInput { get; init; }

    public SafeHandle? StandardOutput { get; init; }

    public SafeHandle? StandardError { get; init; }

    /// <summary>Environment; null inherits the parent's.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>Working directory; null keeps the parent's.</summary>
    public string? WorkingDirectory { get; init; }
}

/// <summary>
/// Starts a child with posix_spawn and an exact descriptor table: 0-2 (inherited or replaced), then
/// the given descriptors at 3, 4, ..., and nothing else: everything from 3+N up is closed in the child
/// (closefrom), whatever its close-on-exec flag. Process.Start cannot place descriptors like this.
/// </summary>
public static class ProcessSpawner
{
    /// <summary>First descriptor the child gets from <see cref="SpawnOptions.InheritedFds"/>.</summary>
    public const int FirstInheritedFd = 3;

    /// <summary>Starts the child. Throws <see cref="IOException"/> with the errno when posix_spawn fails.</summary>
    public static unsafe ChildProcess Spawn(SpawnOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Path.IsPathRooted(options.FileName))
        {
            throw new ArgumentException($"the executable must be an absolute path: {options.FileName}", nameof(options));
        }

        if (options.Arguments.Append(options.FileName).Append(options.Argv0 ?? string.Empty).Any(a => a.Contains('\0', StringComparison.Ordinal)))
        {
            throw new ArgumentException("arguments must not contain NUL characters", nameof(options));
        }

        var inherited = options.InheritedFds;
        var firstFree = FirstInheritedFd + inherited.Count;

        // Sources -> targets. Each source is first duplicated (close-on-exec) to a number at or above
        // firstFree, so no dup2 in the child can overwrite a source still to be moved, and no dup2 is
        // from a number onto itself (which would leave FD_CLOEXEC set and lose the descriptor at exec).
        var moves = new List<(SafeHandle Source, int Target)>();
        if (options.StandardInput is { } stdin)
        {
            moves.Add((stdin, 0));
        }

        if (options.StandardOutput is { } stdout)
        {
            moves.Add((stdout, 1));
        }

        if (options.StandardError is { } stderr)
        {
            moves.Add((stderr, 2));
        }

        for (var i = 0; i < inherited.Count; i++)
        {
            moves.Add((inherited[i], FirstInheritedFd + i));
        }

        var highCopies = new List<SafeFdHandle>(moves.Count);
        var actions = NativeMemory.AllocZeroed(LibC.SpawnFileActionsSize);
        var attr = NativeMemory.AllocZeroed(LibC.SpawnAttrSize);
        var sigset = NativeMemory.AllocZeroed(LibC.SigSetSize);
        var strings = new List<nint>();
        var actionsReady = false;
        var attrReady = false;
        try
        {
            foreach (var (source, _) in moves)
            {
                highCopies.Add(DuplicateAbove(source, firstFree));
            }

            Check(LibC.posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
            actionsReady = true;
            for (var i = 0; i < moves.Count; i++)
            {
                Check(LibC.posix_spawn_file_actions_adddup2(actions, highCopies[i].Fd, moves[i].Target), "posix_spawn_file_actions_adddup2");
            }

            AddCloseFrom(actions, firstFree);
            if (options.WorkingDirectory is { } cwd)
            {
                Check(LibC.posix_spawn_file_actions_addchdir_np(actions, cwd), "posix_spawn_file_actions_addchdir_np");
            }

            // The runtime ignores SIGPIPE and threads may block signals; ignored dispositions and the
            // mask survive exec, so reset both: the child starts with default handling and nothing blocked.
            Check(LibC.posix_spawnattr_init(attr), "posix_spawnattr_init");
            attrReady = true;
            if (LibC.sigemptyset(sigset) != 0)
            {
                throw Descriptors.Fail("sigemptyset");
            }

            Check(LibC.posix_spawnattr_setsigmask(attr, sigset), "posix_spawnattr_setsigmask");
            if (LibC.sigfillset(sigset) != 0)
            {
                throw Descriptors.Fail("sigfillset");
            }

            Check(LibC.posix_spawnattr_setsigdefault(attr, sigset), "posix_spawnattr_setsigdefault");
            Check(LibC.posix_spawnattr_setflags(attr, LibC.POSIX_SPAWN_SETSIGMASK | LibC.POSIX_SPAWN_SETSIGDEF), "posix_spawnattr_setflags");

            var argv = new List<string> { options.Argv0 ?? options.FileName };
            argv.AddRange(options.Arguments);
            var env = new List<string>();
            if (options.Environment is { } e)
            {
                env.AddRange(e.Select(kv => $"{kv.Key}={kv.Value}"));
            }
            else
            {
                foreach (DictionaryEntry kv in System.Environment.GetEnvironmentVariables())
                {
                    env.Add($"{kv.Key}={kv.Value}");
                }
            }

            var path = Utf8(options.FileName, strings);
            var argvArray = NullTerminated(argv, strings);
            var envArray = NullTerminated(env, strings);

            int pid;
            var rc = LibC.posix_spawn(&pid, (byte*)path, actions, attr, (byte**)argvArray, (byte**)envArray);
            if (rc != 0)
            {
                throw new IOException($"posix_spawn {options.FileName} failed: {Marshal.GetPInvokeErrorMessage(rc)} (errno {rc})", rc);
            }

            return new ChildProcess(pid, $"{options.FileName} {string.Join(' ', options.Arguments)}".TrimEnd());
        }
        finally
        {
            if (actionsReady)
            {
                _ = LibC.posix_spawn_file_actions_destroy(actions);
            }

            if (attrReady)
            {
                _ = LibC.posix_spawnattr_destroy(attr);
            }

            NativeMemory.Free(actions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
            foreach (var s in strings)
            {
                NativeMemory.Free((void*)s);
            }

            foreach (var h in highCopies)
            {
                h.Dispose();
            }
        }
    }

    private static SafeFdHandle DuplicateAbove(SafeHandle source, int minimum)
    {
        var added = false;
        source.DangerousAddRef(ref added);
        try
        {
            var fd = LibC.fcntl((int)source.DangerousGetHandle(), LibC.F_DUPFD_CLOEXEC, minimum);
            if (fd < 0)
            {
                throw Descriptors.Fail("fcntl(F_DUPFD_CLOEXEC)");
            }

            return new SafeFdHandle(fd, ownsHandle: true);
        }
        finally
        {
            if (added)
            {
                source.DangerousRelease();
            }
        }
    }

    private static unsafe void AddCloseFrom(void* actions, int firstFree)
    {
        try
        {
            Check(LibC.posix_spawn_file_actions_addclosefrom_np(actions, firstFree), "posix_spawn_file_actions_addclosefrom_np");
            return;
        }
        catch (EntryPointNotFoundException)
        {
            // glibc < 2.34: close what is open now, one by one.
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), System.Globalization.CultureInfo.InvariantCulture, out var fd) && fd >= firstFree)
            {
                Check(LibC.posix_spawn_file_actions_addclose(actions, fd), "posix_spawn_file_actions_addclose");
            }
        }
    }

    private static void Check(int rc, string call)
    {
        if (rc != 0)
        {
            throw new IOException($"{call} failed: {Marshal.GetPInvokeErrorMessage(rc)} (errno {rc})", rc);
        }
    }

    private static unsafe nint Utf8(string s, List<nint> owned)
    {
        var count = Encoding.UTF8.GetByteCount(s);
        var p = (byte*)NativeMemory.Alloc((nuint)count + 1);
        owned.Add((nint)p);
        Encoding.UTF8.GetBytes(s, new Span<byte>(p, count));
        p[count] = 0;
        return (nint)p;
    }

    private static unsafe nint NullTerminated(List<string> items, List<nint> owned)
    {
        var array = (nint*)NativeMemory.Alloc((nuint)(items.Count + 1), (nuint)sizeof(nint));
        owned.Add((nint)array);
        for (var i = 0; i < items.Count; i++)
        {
            array[i] = Utf8(items[i], owned);
        }

        array[items.Count] = 0;
        return (nint)array;
    }
}
