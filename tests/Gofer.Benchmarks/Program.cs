using BenchmarkDotNet.Running;

namespace Gofer.Benchmarks;

internal static class Program
{
    // `e2e …` runs the end-to-end comparison (E2e/E2eCommand.cs); anything else goes to BenchmarkDotNet.
    private static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "e2e")
            return E2e.E2eCommand.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
