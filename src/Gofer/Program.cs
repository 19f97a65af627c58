using System.CommandLine;
using Gofer.Cli;

namespace Gofer;

internal static class Program
{
    private static int Main(string[] args)
    {
        // Each subcommand lives in its own file under Cli/ so the roles stay apart:
        // serve (host side), plan and run (runtime), trace (recordings).
        var root = new RootCommand("Gofer: a 9P2000.L file server for sandboxes, and the attach side that mounts it.")
        {
            ServeCommand.Create(),
            PlanCommand.Create(),
            RunCommand.Create(),
            TraceCommand.Create(),
        };
        return root.Parse(args).Invoke();
    }
}
