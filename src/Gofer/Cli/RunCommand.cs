using System.CommandLine;

namespace Gofer.Cli;

internal static class RunCommand
{
    public static Command Create()
    {
        var command = new Command("run", "Plan, spawn the gofer and run a command in the sandbox's file view.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("gofer run: not implemented yet");
            return 2;
        });
        return command;
    }
}
