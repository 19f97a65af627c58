using System.Globalization;
using Gofer.Server;

namespace Gofer.Tests.Bench;

/// <summary>The --stats-file seam the benchmark reads: counters move and the file holds one parseable line.</summary>
public sealed class ServerStatsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gofer-stats-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dictionary<string, long> Parse(string line) =>
        line.Trim().Split(' ').Select(kv => kv.Split('=')).ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));

    [Fact]
    public void WriteTo_writes_one_line_with_every_counter_and_a_growing_sequence()
    {
        string path = Path.Combine(_dir, "stats");
        ServerStats.WriteTo(path);
        var first = Parse(File.ReadAllText(path));
        ServerStats.CountRequest();
        _ = new byte[10_000]; // something allocated between the two snapshots
        ServerStats.WriteTo(path);
        var second = Parse(File.ReadAllText(path));

        Assert.Equal(["seq", "requests", "alloc_bytes", "gc0", "gc1", "gc2", "spliced_writes"], second.Keys);
        Assert.True(second["seq"] > first["seq"]);
        Assert.True(second["requests"] >= first["requests"] + 1);
        Assert.True(second["alloc_bytes"] >= first["alloc_bytes"] + 10_000);
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void Start_with_a_path_writes_at_start_and_at_dispose()
    {
        string path = Path.Combine(_dir, "s2");
        var reporter = ServerStats.Start(path);
        long seqAtStart = Parse(File.ReadAllText(path))["seq"];
        reporter.Dispose();
        Assert.True(Parse(File.ReadAllText(path))["seq"] > seqAtStart);
    }

    [Fact]
    public void Start_without_a_path_writes_nothing()
    {
        using var reporter = ServerStats.Start(null);
        Assert.Empty(Directory.GetFiles(_dir));
    }
}
