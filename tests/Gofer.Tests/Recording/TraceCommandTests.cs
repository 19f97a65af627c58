using Gofer.Cli;
using Gofer.Recording;

namespace Gofer.Tests.Recording;

public class TraceCommandTests
{
    [Fact]
    public void Prints_one_line_per_message_with_stream_direction_and_relative_time()
    {
        var output = new StringWriter();
        var errors = new StringWriter();

        int rc = TraceCommand.Run(CaptureReaderTests.Fixture("diod-cat-lo.pcapng"), new P9CaptureReaderOptions(), ascii: false, output, errors);

        Assert.Equal(0, rc);
        Assert.Equal(string.Empty, errors.ToString());
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("# stream 0: 127.0.0.1:45532 → 127.0.0.1:45311", lines[0]);
        Assert.Equal(19, lines.Length);
        // The Tversion was the capture's 4th packet, 389 µs after the first.
        Assert.StartsWith("0 → 0.000389 Tversion", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("0 ← 0.000590 Rversion", lines[2], StringComparison.Ordinal);
        Assert.Matches(@"^0 [→←] \d+\.\d{6} [TR][a-z]+ ", lines[^1]);
        // The message text is the codec's (P9Trace.Format), not the terse fallback.
        Assert.Contains("0 → 0.002386 Twalk tag 0 fid 0 newfid 1 nwname 1 'hello.txt'", lines);
    }

    [Fact]
    public void Ascii_directions_are_C_and_S()
    {
        var output = new StringWriter();
        TraceCommand.Run(CaptureReaderTests.Fixture("diod-cat-lo.pcapng"), new P9CaptureReaderOptions(), ascii: true, output, new StringWriter());
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("0 C 0.000389 Tversion", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("0 S ", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_a_capture_is_reported_with_exit_code_1()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "not-a-capture");
        File.WriteAllText(path, "hello");
        var errors = new StringWriter();

        Assert.Equal(1, TraceCommand.Run(path, new P9CaptureReaderOptions(), false, new StringWriter(), errors));
        Assert.Contains("not a pcap or pcapng file", errors.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, TraceCommand.Run(Path.Combine(dir.Path, "missing"), new P9CaptureReaderOptions(), false, new StringWriter(), new StringWriter()));
    }

    [Fact]
    public void Relative_seconds_have_exactly_six_decimals()
    {
        Assert.Equal("0.000000", P9TraceWriter.RelativeSeconds(0));
        Assert.Equal("1.234567", P9TraceWriter.RelativeSeconds(1_234_567_890));
        Assert.Equal("-0.000002", P9TraceWriter.RelativeSeconds(-2_500));
    }
}

public class TraceExtractTests
{
    [Fact]
    public void Extract_writes_each_message_as_a_whole_frame()
    {
        using var dir = new TempDir();
        string into = Path.Combine(dir.Path, "corpus");

        int rc = TraceCommand.Run(CaptureReaderTests.Fixture("diod-cat-lo.pcapng"), new P9CaptureReaderOptions(), false, new StringWriter(), new StringWriter(), into);

        Assert.Equal(0, rc);
        string[] files = Directory.GetFiles(into).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(18, files.Length);
        Assert.EndsWith("s0-000000-Tversion.bin", files[0], StringComparison.Ordinal);
        byte[] tversion = File.ReadAllBytes(files[0]);
        Assert.Equal(tversion.Length, BitConverter.ToInt32(tversion, 0));
        Assert.Equal(100, tversion[4]);
    }
}
