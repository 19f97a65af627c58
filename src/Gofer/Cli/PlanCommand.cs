using System.CommandLine;

namespace Gofer.Cli;

internal static class PlanCommand
{
    public static Command Create()
    {
        var command = new Command("plan", "Print the mount plan of an OCI bundle.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("gofer plan: not implemented yet");
            return 2;
        });
        return command;
    }
}
