namespace Gofer.Fuzz;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("usage: Gofer.Fuzz <target> [replay DIR...]  (targets arrive with the fuzzing issue)");
        return args.Length == 0 ? 2 : 0;
    }
}
