using System.Diagnostics;
using System.Globalization;
using Gofer.Cli;
using Gofer.Recording;

namespace Gofer.Tests.Recording;

/// <summary>Runs tshark (Wireshark's 9P dissector) over a capture, as the independent decoder to agree with.</summary>
public static class Tshark
{
    private static readonly Lazy<string?> Path = new(Find);

    public static bool Available => Path.Value is not null;

    /// <summary>
    /// The 9P messages tshark sees, in order: (tcp.stream, 9p.msgtype, 9p.tag). Several 9P messages in one packet
    /// come out as comma-separated occurrences of one line.
    /// </summary>
    public static List<(int Stream, int Type, int Tag)> Decode(string capture, params int[] ports)
    {
        var psi = new ProcessStartInfo(Path.Value ?? throw new InvalidOperationException("tshark not installed"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-r");
        psi.ArgumentList.Add(capture);
        foreach (int port in ports.Length == 0 ? [564] : ports)
        {
            psi.ArgumentList.Add("-d");
            psi.ArgumentList.Add(string.Create(CultureInfo.InvariantCulture, $"tcp.port=={port},9p"));
        }

        foreach (string arg in new[] { "-T", "fields", "-e", "tcp.stream", "-e", "9p.msgtype", "-e", "9p.tag", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=/t" })
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        // Generous: CI machines are slow and shared; this bounds a hang, it does not measure anything.
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill();
            throw new TimeoutException("tshark did not finish");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"tshark exited {process.ExitCode}: {stderr.Result}");
        }

        var result = new List<(int, int, int)>();
        foreach (string line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] fields = line.Split('\t');
            if (fields.Length < 3 || fields[1].Length == 0)
            {
                continue;
            }

            int stream = int.Parse(fields[0], CultureInfo.InvariantCulture);
            string[] types = fields[1].Split(',');
            string[] tags = fields[2].Split(',');
            Assert.Equal(types.Length, tags.Length);
            for (int i = 0; i < types.Length; i++)
            {
                result.Add((stream, int.Parse(types[i], CultureInfo.InvariantCulture), int.Parse(tags[i], CultureInfo.InvariantCulture)));
            }
        }

        return result;
    }

    private static string? Find()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            string candidate = System.IO.Path.Combine(dir, "tshark");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

/// <summary>A fact that is skipped, saying why, when tshark is not installed (scripts/deps.sh installs it in CI).</summary>
public sealed class TsharkFactAttribute : FactAttribute
{
    public TsharkFactAttribute()
    {
        if (!Tshark.Available)
        {
            Skip = "tshark is not installed (scripts/deps.sh installs it)";
        }
    }
}

/// <summary>
/// The end-to-end check of the issue "Recorded 9P traffic": a capture decoded by our reader, by
/// <c>gofer trace</c>, and by tshark gives the same messages. The server's tests call
/// <see cref="AssertSameDecode"/> on a file written by <c>gofer serve --record</c>.
/// </summary>
public static class TsharkAgreement
{
    /// <summary>
    /// Asserts that our reader and tshark see the same (stream, type, tag) sequence, that it is not empty, that
    /// <c>gofer trace</c> prints one line per message naming the same type, and (unless
    /// <paramref name="allowBadFrames"/>) that the codec decoded every message. Returns the number of messages.
    /// </summary>
    /// <param name="capture">A pcap or pcapng file.</param>
    /// <param name="ports">Ports to decode as 9P (default 564), for both decoders.</param>
    /// <param name="allowBadFrames">True for captures that carry malformed messages on purpose.</param>
    public static int AssertSameDecode(string capture, int[]? ports = null, bool allowBadFrames = false)
    {
        ports ??= [];
        var options = new P9CaptureReaderOptions
        {
            Ports = (ports.Length == 0 ? [564] : ports).ToHashSet(),
            Heuristic = false, // tshark decodes only the ports it is told; compare like with like
        };
        var ours = P9CaptureReader.Read(capture, options);
        Assert.Empty(ours.Warnings);
        var mine = ours.Frames.Select(f => (f.Stream, (int)f.Type, (int)f.Tag)).ToList();
        Assert.NotEmpty(mine);

        var theirs = Tshark.Decode(capture, ports);
        Assert.Equal(theirs, mine);

        var output = new StringWriter();
        var errors = new StringWriter();
        Assert.Equal(0, TraceCommand.Run(capture, options, ascii: false, output, errors));
        Assert.Equal(string.Empty, errors.ToString());
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')).ToList();
        Assert.Equal(mine.Count, lines.Count);
        for (int i = 0; i < lines.Count; i++)
        {
            // "STREAM DIR SECONDS MESSAGE": the stream and the direction must match the reader's frame.
            string[] parts = lines[i].Split(' ', 4);
            Assert.Equal(ours.Frames[i].Stream.ToString(CultureInfo.InvariantCulture), parts[0]);
            Assert.Equal(ours.Frames[i].Type % 2 == 0 ? "→" : "←", parts[1]);
            if (!allowBadFrames)
            {
                Assert.DoesNotContain("<bad frame", parts[3], StringComparison.Ordinal);
                Assert.StartsWith(P9.Protocol.Wire.P9MessageTypes.Name(ours.Frames[i].Type) + " ", parts[3], StringComparison.Ordinal);
            }
        }

        return mine.Count;
    }
}
