using P9.Protocol.Wire;
using DirListingCache = Gofer.HostFs.DirListingCache;
using HostExport = Gofer.HostFs.HostExport;
using HostExportOptions = Gofer.HostFs.HostExportOptions;
using static Gofer.Tests.Server.P9TestClient;

namespace Gofer.Tests.Server;

/// <summary>
/// The directory listing cache seen through the server on real sockets: every way a 9P client can change a directory
/// shows in the very next Treaddir pass (the gofer's own changes raise inotify events like anyone else's), and a pass
/// over an unchanged directory makes no getdents64 (<see cref="HostExport.GetdentsCalls"/>).
/// </summary>
public sealed class DirCacheServerTests : IDisposable
{
    private readonly DirListingCache _cache = DirListingCache.TryCreate(trimPeriodically: false)
        ?? throw new InvalidOperationException("inotify_init1 failed");

    private readonly ServerFixture _f;

    public DirCacheServerTests()
    {
        _f = new ServerFixture(exportOptions: new HostExportOptions(), dirCache: _cache);
        Assert.True(_f.Export.DirCache == _cache, "the test directory must be on a local filesystem for the cache to be on");
    }

    public void Dispose()
    {
        _f.Dispose();
        _cache.Dispose();
    }

    private static string[] HostNames(string path) =>
        [.. Directory.GetFileSystemEntries(path).Select(p => Path.GetFileName(p)!).Append(".").Append("..").Order(StringComparer.Ordinal)];

    /// <summary>A pass right after the change shows it; the pass after that is identical and served from memory.</summary>
    private void AssertListedAsOnHost(P9TestClient c, uint fid, string hostDir, string after)
    {
        var listed = c.ReadDirAll(fid, count: 1000);
        Assert.True(HostNames(hostDir).SequenceEqual(listed.Select(e => e.Name).Order(StringComparer.Ordinal)), "after " + after);
        long g = _f.Export.GetdentsCalls;
        Assert.Equal(listed, c.ReadDirAll(fid, count: 1000));
        Assert.True(g == _f.Export.GetdentsCalls, "an unchanged pass after " + after + " read the host");
    }

    [Fact]
    public void Every_change_made_through_9P_shows_in_the_next_pass()
    {
        string d = _f.Path_("d");
        Directory.CreateDirectory(d);
        for (int i = 0; i < 40; i++)
            File.WriteAllText(Path.Combine(d, $"f{i:D3}"), "");
        File.WriteAllText(_f.Path_("src"), "link source");
        File.WriteAllText(_f.Path_("outside"), "moved in later");

        using var reader = _f.Connect().Start();
        using var writer = _f.Connect().Start();
        reader.WalkOk(0, 1, "d");
        reader.LopenOk(1, LopenFlags.ReadOnly | LopenFlags.Directory);
        AssertListedAsOnHost(reader, 1, d, "start");
        long fills = _cache.Fills;

        const uint Dir = 10, Src = 11, Tmp = 12;
        writer.WalkOk(0, Dir, "d");
        writer.WalkOk(0, Src, "src");

        writer.WalkOk(Dir, Tmp);
        AssertType(P9MessageType.Rlcreate, writer.Lcreate(Tmp, "created", LopenFlags.ReadWrite));
        writer.Clunk(Tmp);
        AssertListedAsOnHost(reader, 1, d, "Tlcreate");

        AssertType(P9MessageType.Rmkdir, writer.Rpc((w, t) => Tmkdir.Encode(w, t, Dir, "subdir", 0x1ED, 0)));
        AssertListedAsOnHost(reader, 1, d, "Tmkdir");

        AssertType(P9MessageType.Rsymlink, writer.Rpc((w, t) => Tsymlink.Encode(w, t, Dir, "sl", "target", 0)));
        AssertListedAsOnHost(reader, 1, d, "Tsymlink");

        AssertType(P9MessageType.Rlink, writer.Rpc((w, t) => Tlink.Encode(w, t, Dir, Src, "hard")));
        AssertListedAsOnHost(reader, 1, d, "Tlink");

        AssertType(P9MessageType.Rmknod, writer.Rpc((w, t) => Tmknod.Encode(w, t, Dir, "node", 0x8000 | 0x1A4, 0, 0, 0)));
        AssertListedAsOnHost(reader, 1, d, "Tmknod");

        AssertType(P9MessageType.Rrenameat, writer.Rpc((w, t) => Trenameat.Encode(w, t, Dir, "created", Dir, "renamed")));
        AssertListedAsOnHost(reader, 1, d, "Trenameat within");

        AssertType(P9MessageType.Rrenameat, writer.Rpc((w, t) => Trenameat.Encode(w, t, 0, "outside", Dir, "moved-in")));
        AssertListedAsOnHost(reader, 1, d, "Trenameat in");

        AssertType(P9MessageType.Rrenameat, writer.Rpc((w, t) => Trenameat.Encode(w, t, Dir, "renamed", 0, "moved-out")));
        AssertListedAsOnHost(reader, 1, d, "Trenameat out");

        writer.WalkOk(Dir, Tmp, "hard");
        AssertType(P9MessageType.Rrename, writer.Rpc((w, t) => Trename.Encode(w, t, Tmp, Dir, "hard-renamed")));
        writer.Clunk(Tmp);
        AssertListedAsOnHost(reader, 1, d, "Trename");

        AssertType(P9MessageType.Runlinkat, writer.Rpc((w, t) => Tunlinkat.Encode(w, t, Dir, "node", 0)));
        AssertListedAsOnHost(reader, 1, d, "Tunlinkat");

        AssertType(P9MessageType.Runlinkat, writer.Rpc((w, t) => Tunlinkat.Encode(w, t, Dir, "subdir", 0x200)));
        AssertListedAsOnHost(reader, 1, d, "Tunlinkat AT_REMOVEDIR");

        writer.WalkOk(Dir, Tmp, "sl");
        AssertType(P9MessageType.Rremove, writer.Rpc((w, t) => Tremove.Encode(w, t, Tmp)));
        AssertListedAsOnHost(reader, 1, d, "Tremove");

        // The reader's own connection changing the directory it reads, between two replies of one pass.
        reader.WalkOk(0, 2, "d");
        var firstReply = reader.Rpc((w, t) => Treaddir.Encode(w, t, 1, 0, 600));
        AssertType(P9MessageType.Rreaddir, firstReply);
        reader.WalkOk(2, 3);
        AssertType(P9MessageType.Rlcreate, reader.Lcreate(3, "mid-pass", LopenFlags.WriteOnly));
        reader.Clunk(3);
        AssertListedAsOnHost(reader, 1, d, "Tlcreate from the reading connection");

        Assert.True(_cache.Fills > fills + 10, "every change was followed by a refill");
    }

    [Fact]
    public void Many_fids_on_several_connections_share_one_listing()
    {
        string d = _f.Path_("d");
        Directory.CreateDirectory(d);
        for (int i = 0; i < 500; i++)
            File.WriteAllText(Path.Combine(d, $"entry-{i:D4}"), "");
        var clients = Enumerable.Range(0, 3).Select(_ => _f.Connect().Start()).ToList();
        try
        {
            List<(string Name, ulong Offset, Qid Qid)>? first = null;
            foreach (var c in clients)
            {
                for (uint fid = 1; fid <= 4; fid++)
                {
                    c.WalkOk(0, fid, "d");
                    c.LopenOk(fid, LopenFlags.ReadOnly | LopenFlags.Directory);
                    var listed = c.ReadDirAll(fid, count: 4096 + (fid * 1000));
                    first ??= listed;
                    Assert.Equal(first, listed);
                }
            }

            Assert.Equal(1, _cache.Fills);
            Assert.Equal(502, first!.Count);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }
}
