using System.Globalization;
using Gofer.Spec;

namespace Gofer.Runtime;

/// <summary>How to start the gofer executable: a file name and the arguments that come before "serve".</summary>
public sealed record GoferCommand(string FileName, IReadOnlyList<string> PrefixArguments)
{
    /// <summary>
    /// This very program: the executable itself when it is the <c>gofer</c> apphost or a native build,
    /// otherwise <c>dotnet gofer.dll</c> from the application directory (as under <c>dotnet test</c>).
    /// </summary>
    public static GoferCommand Current()
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("the process path is unknown");
        var name = typeof(GoferCommand).Assembly.GetName().Name!;
        if (Path.GetFileName(process) == name)
        {
            return new GoferCommand(process, []);
        }

        // Not Assembly.Location: it is empty in single-file/AOT builds (which take the branch above).
        var assembly = Path.Combine(AppContext.BaseDirectory, name + ".dll");
        if (File.Exists(assembly))
        {
            var host = Path.GetFileNameWithoutExtension(process) == "dotnet"
                ? process
                : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? FindOnPath("dotnet") ?? process;
            return new GoferCommand(host, [assembly]);
        }

        return new GoferCommand(process, []);
    }

    private static string? FindOnPath(string file)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, file);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>
    /// The arguments of <c>gofer serve</c> for a plan: <c>serve --bundle DIR --io-fds 3,4,.. --mounts-fd N</c>,
    /// plus <c>--overlay2</c>/<c>--file-access</c> when not the defaults, so the gofer plans the bundle the
    /// same way (an overlaid mount is served read-only).
    /// </summary>
    public static IReadOnlyList<string> ServeArguments(MountPlan plan, int firstFd, int? mountsFd)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var args = new List<string>
        {
            "serve",
            "--bundle",
            plan.BundleDirectory,
            "--io-fds",
            string.Join(',', Enumerable.Range(firstFd, plan.GoferFdCount).Select(i => i.ToString(CultureInfo.InvariantCulture))),
        };
        if (mountsFd is { } m)
        {
            args.Add("--mounts-fd");
            args.Add(m.ToString(CultureInfo.InvariantCulture));
        }

        if (plan.Overlay.Scope != OverlayScope.None)
        {
            args.Add("--overlay2");
            args.Add(plan.Overlay.ToString());
        }

        if (plan.RootFileAccess == FileAccessType.Shared)
        {
            args.Add("--file-access");
            args.Add("shared");
        }

        return args;
    }
}
