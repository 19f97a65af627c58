using System.CommandLine;
using Gofer.Recording;
using P9.Protocol.Wire;

namespace Gofer.Cli;

/// <summary>
/// <c>gofer trace FILE</c>: prints a pcap/pcapng recording (from <c>gofer serve --record</c> or any capture of
/// 9P traffic) one message per line. See <see cref="P9TraceWriter"/> for the line format.
/// </summary>
internal static class TraceCommand
{
    /// <summary>The renderer of one frame: the codec's formatter, in the style of the Linux 9p debug output.</summary>
    internal static P9FrameFormatter Formatter { get; } = P9Trace.Format;

    public static Command Create()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "A pcap or pcapng capture (e.g. from gofer serve --record)." };
        var ports = new Option<int[]>("--port")
        {
            Description = "A TCP port to decode as 9P (repeatable; default 564). Streams starting with a Tversion are decoded on any port unless --no-heuristic.",
            AllowMultipleArgumentsPerToken = true,
        };
        var noHeuristic = new Option<bool>("--no-heuristic") { Description = "Decode only the --port streams, not every stream that starts with a Tversion." };
        var ascii = new Option<bool>("--ascii") { Description = "Write directions as C (client→server) and S (server→client)." };
        var extract = new Option<DirectoryInfo>("--extract")
        {
            Description = "Also write each message to DIR/sSTREAM-NNNNNN-NAME.bin (whole frames, e.g. as a fuzzing corpus).",
        };
        var command = new Command("trace", "Print a recording of 9P traffic, one message per line: STREAM DIR SECONDS MESSAGE.")
        {
            file,
            ports,
            noHeuristic,
            ascii,
            extract,
        };
        command.SetAction(parseResult =>
        {
            var selected = parseResult.GetValue(ports);
            var options = new P9CaptureReaderOptions
            {
                Ports = selected is { Length: > 0 } ? selected.ToHashSet() : new HashSet<int> { SyntheticTcp.NinePPort },
                Heuristic = !parseResult.GetValue(noHeuristic),
            };
            return Run(parseResult.GetValue(file)!.FullName, options, parseResult.GetValue(ascii), Console.Out, Console.Error,
                parseResult.GetValue(extract)?.FullName);
        });
        return command;
    }

    /// <summary>The command's work, apart from argument parsing so tests can run it in-process.</summary>
    /// <returns>0 on success (warnings included), 1 when the file cannot be read as a capture.</returns>
    internal static int Run(string path, P9CaptureReaderOptions options, bool ascii, TextWriter output, TextWriter error, string? extractTo = null)
    {
        P9Capture capture;
        try
        {
            capture = P9CaptureReader.Read(path, options);
        }
        catch (Exception ex) when (ex is CaptureFormatException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"gofer trace: {path}: {ex.Message}");
            return 1;
        }

        new P9TraceWriter(output, Formatter, ascii).Write(capture);
        if (extractTo is not null)
        {
            try
            {
                Extract(capture, extractTo);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"gofer trace: --extract {extractTo}: {ex.Message}");
                return 1;
            }
        }
        foreach (string warning in capture.Warnings)
        {
            error.WriteLine($"gofer trace: warning: {warning}");
        }

        if (capture.Frames.Count == 0)
        {
            error.WriteLine($"gofer trace: no 9P messages in {capture.PacketCount} packets (try --port)");
        }

        return 0;
    }

    /// <summary>One file per message, named so a directory listing reads like the trace.</summary>
    private static void Extract(P9Capture capture, string directory)
    {
        Directory.CreateDirectory(directory);
        for (int i = 0; i < capture.Frames.Count; i++)
        {
            var frame = capture.Frames[i];
            string name = P9MessageTypes.Name(frame.Type) ?? $"type{frame.Type}";
            File.WriteAllBytes(Path.Combine(directory, FormattableString.Invariant($"s{frame.Stream}-{i:D6}-{name}.bin")), frame.Bytes);
        }
    }
}
