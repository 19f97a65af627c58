using SharpFuzz;

namespace Gofer.Fuzz;

internal static class Program
{
    private const string Usage = """
        usage:
          Gofer.Fuzz <target> afl                   run under afl-fuzz (SharpFuzz persistent mode, input on stdin/shm)
          Gofer.Fuzz <target> afl-oop               same, target in a child process (survives stack overflows)
          Gofer.Fuzz <target> replay <file|dir>...  run every file once without an engine; exit 1 on any finding
          Gofer.Fuzz seeds <target> <dir>           write the hand-made seeds of a target
          Gofer.Fuzz derive <recorded.c2s> <out>    whole frames only, Tattach aname -> "" (corpus form)
          Gofer.Fuzz split <capture> <out-dir> <prefix-end> <NAME=FROM..TO>... [--max-bytes N] [--max-write N]
                                                    cut one recorded connection (gofer serve --record) into
                                                    self-contained corpus inputs and their replies (CaptureSplitter)
          Gofer.Fuzz tree <root>                    create the export tree recordings and the session target use
          Gofer.Fuzz proxy <port-file> <upstream-host:port> <out-dir>
                                                    loopback recording proxy: writes each connection's
                                                    client->server bytes to out-dir/conn-N.c2s (and .s2c)
        targets: codec, session, client
        """;

    private static int Main(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        switch (args[0])
        {
            case "seeds":
                if (args.Length != 3)
                    break;
                Console.WriteLine($"{Seeds.Write(args[1], args[2])} seeds written to {args[2]}");
                return 0;
            case "derive":
                if (args.Length != 3)
                    break;
                File.WriteAllBytes(args[2], CorpusTools.Derive(File.ReadAllBytes(args[1])));
                return 0;
            case "split":
                int split = CaptureSplitter.Command(args[1..]);
                if (split == 2)
                    break;
                return split;
            case "tree":
                Console.WriteLine(ExportTree.Create(args[1]));
                return 0;
            case "proxy":
                if (args.Length != 4)
                    break;
                return RecordingProxy.Run(args[1], args[2], args[3]);
        }

        if (!Targets.TryGet(args[0], out var target))
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        switch (args[1])
        {
            case "afl":
                Fuzzer.Run(stream => target(ReadAll(stream)));
                return 0;
            case "afl-oop":
                Fuzzer.OutOfProcess.Run(stream => target(ReadAll(stream)));
                return 0;
            case "replay":
                return Replay(args[0], target, args.Skip(2));
        }
        Console.Error.WriteLine(Usage);
        return 2;
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        return ms.ToArray();
    }

    private static int Replay(string name, FuzzTarget target, IEnumerable<string> paths)
    {
        int files = 0, failed = 0;
        foreach (string file in Targets.ExpandInputs(paths))
        {
            files++;
            var error = Targets.RunOne(target, File.ReadAllBytes(file));
            if (error is null)
                continue;
            failed++;
            Console.WriteLine($"FAIL {file}: {error}");
        }
        Console.WriteLine($"{name}: {files} inputs replayed, {failed} failed");
        return failed == 0 && files > 0 ? 0 : 1;
    }
}
