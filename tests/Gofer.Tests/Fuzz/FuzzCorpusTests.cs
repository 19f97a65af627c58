using Gofer.Fuzz;
using P9.Protocol.Framing;
using P9.Protocol.Wire;

namespace Gofer.Tests.Fuzz;

/// <summary>
/// The fuzzers' regression run: every corpus file (fuzz/corpus/&lt;target&gt;) and every saved crash reproducer
/// (fuzz/regressions/&lt;target&gt;) goes through its target without an engine, exactly as
/// <c>Gofer.Fuzz &lt;target&gt; replay</c> does. A reproducer fails here until its bug is fixed.
/// </summary>
public class FuzzCorpusTests
{
    private static readonly string RepoRoot = FindRepoRoot();

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Gofer.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Gofer.sln not found above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string target in Targets.Names)
        {
            foreach (string kind in new[] { "corpus", "regressions" })
            {
                string dir = Path.Combine(RepoRoot, "fuzz", kind, target);
                if (!Directory.Exists(dir))
                    continue;
                foreach (string file in Targets.ExpandInputs([dir]))
                    data.Add(target, Path.GetRelativePath(RepoRoot, file));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Input_passes_its_target(string target, string file)
    {
        Assert.True(Targets.TryGet(target, out var run));
        string? finding = Targets.RunOne(run, File.ReadAllBytes(Path.Combine(RepoRoot, file)));
        Assert.Null(finding);
    }

    [Fact]
    public void Every_target_has_a_corpus()
    {
        foreach (string target in Targets.Names)
            Assert.NotEmpty(Targets.ExpandInputs([Path.Combine(RepoRoot, "fuzz", "corpus", target)]));
    }

    [Fact]
    public void Codec_corpus_holds_every_message_type_and_session_corpus_every_request()
    {
        var codecTypes = TypesIn("codec");
        var sessionTypes = TypesIn("session");
        foreach (var type in Enum.GetValues<P9MessageType>())
        {
            var cls = P9MessageTypes.Classify((byte)type);
            if (cls is P9TypeClass.Request or P9TypeClass.Reply)
                Assert.Contains(type, codecTypes);
            if (cls is P9TypeClass.Request)
                Assert.Contains(type, sessionTypes);
        }
    }

    private static HashSet<P9MessageType> TypesIn(string target)
    {
        var types = new HashSet<P9MessageType>();
        foreach (string file in Targets.ExpandInputs([Path.Combine(RepoRoot, "fuzz", "corpus", target)]))
        {
            ReadOnlySpan<byte> rest = File.ReadAllBytes(file);
            while (P9FrameScanner.Scan(rest, int.MaxValue, out int length, out _) == FrameScanStatus.Frame)
            {
                types.Add((P9MessageType)rest[4]);
                rest = rest[length..];
            }
        }
        return types;
    }

    [Fact]
    public void Session_target_accepts_the_server_closing_on_an_R_message()
    {
        // The harness expects the close after a fatal frame and ignores what follows it.
        var w = new System.Buffers.ArrayBufferWriter<byte>();
        Tversion.Encode(w, P9Constants.NoTag, 8192, "9P2000.L");
        Rversion.Encode(w, 1, 8192, "9P2000.L"); // an R-type from a client: fatal, the server closes
        Tattach.Encode(w, 2, 0, P9Constants.NoFid, "root", "", 0);
        Assert.Null(Targets.RunOne(SessionTarget.Run, w.WrittenSpan.ToArray()));
    }

    [Fact]
    public void Codec_target_passes_random_streams_with_plausible_sizes()
    {
        var random = new Random(1234);
        for (int i = 0; i < 200; i++)
        {
            var bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            if (bytes.Length >= 4)
                BitConverter.TryWriteBytes(bytes.AsSpan(0, 4), (uint)random.Next(0, bytes.Length + 8));
            Assert.Null(Targets.RunOne(CodecTarget.Run, bytes));
        }
    }

    [Fact]
    public void Replay_reports_what_a_target_throws()
    {
        string? finding = Targets.RunOne(static _ => throw new FuzzFindingException("broken"), [1, 2, 3]);
        Assert.NotNull(finding);
        Assert.Contains("broken", finding);
    }
}
