namespace Gofer.Runtime;

/// <summary>How a child process ended: an exit code, or the signal that killed it.</summary>
public readonly record struct ChildExitStatus(int? ExitCode, int? Signal, bool CoreDumped)
{
    /// <summary>Decodes a wait(2) status word.</summary>
    public static ChildExitStatus FromWaitStatus(int status)
    {
        var low = status & 0x7f;
        if (low == 0)
        {
            return new ChildExitStatus((status >> 8) & 0xff, null, false);
        }

        return new ChildExitStatus(null, low, (status & 0x80) != 0);
    }

    /// <summary>True for exit status 0.</summary>
    public bool Success => ExitCode == 0;

    public override string ToString() => ExitCode is { } code
        ? $"exited with status {code}"
        : $"killed by signal {Signal} ({SignalName(Signal ?? 0)}){(CoreDumped ? ", core dumped" : string.Empty)}";

    private static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => "signal " + signal.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
