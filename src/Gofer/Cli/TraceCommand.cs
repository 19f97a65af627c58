using System.CommandLine;

namespace Gofer.Cli;

internal static class TraceCommand
{
    public static Command Create()
    {
        var command = new Command("trace", "Print a recording of 9P traffic, one message per line.");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("gofer trace: not implemented yet");
            return 2;
        });
        return command;
    }
}
