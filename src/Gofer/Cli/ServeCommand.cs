using System.CommandLine;

namespace Gofer.Cli;

internal static class ServeCommand
{
    public static Command Create()
    {
        var command = new Command("serve", "Serve a host directory over 9P2000.L.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("gofer serve: not implemented yet");
            return 2;
        });
        return command;
    }
}
