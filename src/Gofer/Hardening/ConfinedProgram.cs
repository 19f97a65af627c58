using System.Collections;
using System.Runtime.InteropServices;

namespace Gofer.Hardening;

/// <summary>
/// A program to run inside the private root, with what it needs there: the host paths bound
/// read-only at their own paths, and its environment.
/// </summary>
/// <param name="Executable">Host path passed to posix_spawn (bound at its real path).</param>
/// <param name="LeadingArguments">argv up to the subcommand: [apphost] or [dotnet, app.dll].</param>
internal sealed record ConfinedProgram(
    string Executable,
    IReadOnlyList<string> LeadingArguments,
    IReadOnlyList<string> ExecSupport,
    IReadOnlyDictionary<string, string> Environment)
{
    /// <summary>
    /// Where the ELF interpreter and shared libraries live. Entries that are symlinks (/lib →
    /// usr/lib on merged-/usr systems) are recreated; the rest bound read-only. These hold
    /// libraries, not secrets; /etc, /home, /root, /var, /tmp and /run stay out.
    /// </summary>
    public static IReadOnlyList<string> SystemLibraryPaths() => [.. LibraryDirectories.Where(Directory.Exists)];

    private static readonly string[] LibraryDirectories =
        ["/lib", "/lib64", "/lib32", "/libx32", "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32"];

    /// <summary>The running gofer, re-executed: apphost, or `dotnet gofer.dll`, or a native-AOT binary.</summary>
    public static ConfinedProgram CurrentGofer()
    {
        string processPath = System.Environment.ProcessPath
            ?? throw new HardeningException("hardened mode: cannot tell which executable is running");
        string appDirectory = AppContext.BaseDirectory;
        string? dotnetRoot = DotnetRootOf(RuntimeEnvironment.GetRuntimeDirectory());
        bool viaDotnetHost = Path.GetFileNameWithoutExtension(processPath).Equals("dotnet", StringComparison.Ordinal);
        List<string> leading = [processPath];
        if (viaDotnetHost)
        {
            // `dotnet gofer.dll …`: argv[0] of the managed program is the dll's path.
            leading.Add(System.Environment.GetCommandLineArgs()[0]);
        }

        return Build(processPath, leading, appDirectory, dotnetRoot);
    }

    /// <summary>`dotnet app.dll` with the shared runtime under <paramref name="dotnetRoot"/>.</summary>
    public static ConfinedProgram Dotnet(string dotnetHost, string appDll, string dotnetRoot) =>
        Build(dotnetHost, [dotnetHost, appDll], Path.GetDirectoryName(Path.GetFullPath(appDll))!, dotnetRoot);

    private static ConfinedProgram Build(string executable, List<string> leading, string appDirectory, string? dotnetRoot)
    {
        List<string> support = [.. SystemLibraryPaths(), appDirectory];
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in System.Environment.GetEnvironmentVariables())
        {
            string key = (string)entry.Key;
            if (key.StartsWith("DOTNET_", StringComparison.Ordinal) || key.StartsWith("GOFER_", StringComparison.Ordinal))
            {
                environment[key] = (string?)entry.Value ?? string.Empty;
            }
        }

        if (dotnetRoot is not null)
        {
            support.Add(dotnetRoot);
            environment["DOTNET_ROOT"] = dotnetRoot;
        }

        // The root is read-only and has no /tmp: no diagnostics IPC socket or debugger pipes.
        environment["DOTNET_EnableDiagnostics"] = "0";
        environment["PATH"] = "/usr/bin:/bin";
        environment["GOFER_CONFINED"] = "1";
        return new ConfinedProgram(executable, leading, support, environment);
    }

    /// <summary>.../dotnet from .../dotnet/shared/Microsoft.NETCore.App/10.0.x/; null when self-contained.</summary>
    internal static string? DotnetRootOf(string runtimeDirectory)
    {
        string trimmed = Path.TrimEndingDirectorySeparator(runtimeDirectory);
        DirectoryInfo? version = new(trimmed);
        DirectoryInfo? framework = version.Parent;
        DirectoryInfo? shared = framework?.Parent;
        return framework?.Name == "Microsoft.NETCore.App" && shared?.Name == "shared" ? shared.Parent?.FullName : null;
    }
}
