using System.Buffers.Binary;
using System.Text;
using Gofer.HostFs;
using Gofer.HostFs.Native;
using Xunit.Abstractions;

namespace Gofer.Tests.HostFs;

public sealed class DirTests : HostFsTestBase
{
    private readonly ITestOutputHelper _output;

    public DirTests(ITestOutputHelper output) => _output = output;

    internal sealed record Entry(string Name, byte Type, ulong Offset, Qid Qid);

    /// <summary>Parses Rreaddir data back (qid[13] offset[8] type[1] name[s]).</summary>
    internal static List<Entry> Parse(ReadOnlySpan<byte> data)
    {
        var list = new List<Entry>();
        while (!data.IsEmpty)
        {
            var qid = new Qid(data[0], BinaryPrimitives.ReadUInt32LittleEndian(data[1..]), BinaryPrimitives.ReadUInt64LittleEndian(data[5..]));
            ulong off = BinaryPrimitives.ReadUInt64LittleEndian(data[13..]);
            byte type = data[21];
            int len = BinaryPrimitives.ReadUInt16LittleEndian(data[22..]);
            list.Add(new Entry(Encoding.UTF8.GetString(data.Slice(24, len)), type, off, qid));
            data = data[(24 + len)..];
        }

        return list;
    }

    internal static List<Entry> ReadChunk(HostNode dir, ulong cookie, int count)
    {
        byte[] buf = new byte[count];
        var w = new RreaddirWriter(buf);
        Assert.Equal(Errno.None, dir.ReadDir(cookie, ref w));
        return Parse(buf.AsSpan(0, w.Written));
    }

    internal static List<Entry> ReadAll(HostNode dir, int count)
    {
        var all = new List<Entry>();
        ulong cookie = 0;
        while (true)
        {
            List<Entry> chunk = ReadChunk(dir, cookie, count);
            if (chunk.Count == 0)
            {
                return all;
            }

            all.AddRange(chunk);
            cookie = chunk[^1].Offset;
        }
    }

    [Fact]
    public void Readdir_lists_types_and_qids_without_stat()
    {
        Directory.CreateDirectory(InExport("d"));
        File.WriteAllText(InExport("f"), "x");
        File.CreateSymbolicLink(InExport("l"), "f");
        using HostNode root = OpenOk(Root, P9L.ORdOnly);
        var e = ReadAll(root, 8192).ToDictionary(x => x.Name);
        Assert.Equal(new[] { ".", "..", "d", "f", "l" }, e.Keys.Order().ToArray());
        Assert.Equal((P9L.DtDir, P9L.QtDir), (e["d"].Type, e["d"].Qid.Type));
        Assert.Equal((8, P9L.QtFile), (e["f"].Type, e["f"].Qid.Type));
        Assert.Equal((P9L.DtLnk, P9L.QtSymlink), (e["l"].Type, e["l"].Qid.Type));
        using HostNode f = WalkOk(Root, "f");
        Assert.Equal(f.Qid.Path, e["f"].Qid.Path);
    }

    [Fact]
    public void Readdir_needs_an_opened_directory_and_room_for_one_entry()
    {
        using HostNode notOpen = Root.Clone();
        var w = new RreaddirWriter(new byte[4096]);
        Assert.Equal(Errno.EBADF, notOpen.ReadDir(0, ref w));
        using HostNode root = OpenOk(Root, P9L.ORdOnly);
        var tiny = new RreaddirWriter(new byte[10]);
        Assert.Equal(Errno.EINVAL, root.ReadDir(0, ref tiny));
        Assert.Equal(Errno.EINVAL, root.ReadDir(ulong.MaxValue, ref w));
        File.WriteAllText(InExport("f"), "x");
        using HostNode f = OpenOk(Root, P9L.ORdOnly, "f");
        Assert.Equal(Errno.ENOTDIR, f.ReadDir(0, ref w));
    }

    [Fact]
    public void A_fresh_fid_that_first_replays_the_end_cookie_still_lists_everything_from_zero()
    {
        // ext4 answers "end of directory" from offset 0 on a description whose first getdents64 was at the end
        // cookie (HostNode.PrimeAtZero). This export has no listing cache, so every read goes to the host.
        Assert.Equal(Errno.None, HostExport.TryOpen(ExportDir, new HostExportOptions { DirCache = false }, out HostExport? export));
        using HostExport plain = export!;
        using HostNode attach = plain.Attach();
        for (int i = 0; i < 10; i++)
        {
            File.WriteAllText(InExport("f" + i), "");
        }

        List<Entry> all;
        using (HostNode first = OpenOk(attach, P9L.ORdOnly))
        {
            all = ReadAll(first, 8192);
        }

        Assert.Equal(12, all.Count);
        using HostNode fresh = OpenOk(attach, P9L.ORdOnly);
        Assert.Empty(ReadChunk(fresh, all[^1].Offset, 8192));
        Assert.Equal(all.Select(e => e.Name), ReadAll(fresh, 8192).Select(e => e.Name));
    }

    [Fact]
    public void Readdir_of_100000_entries_is_complete_and_cookies_replay_after_seek()
    {
        const int N = 100_000;
        string big = InExport("big");
        Directory.CreateDirectory(big);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using (HostNode bigDir = WalkOk(Root, "big"))
        {
            // mknodat(S_IFREG) on the host: far cheaper than 100 000 FileStreams.
            for (int i = 0; i < N; i++)
            {
                Assert.Equal(Errno.None, bigDir.Mknod(U("file-" + i.ToString("D6")), Libc.S_IFREG | 0x1A4, 0, 0, uint.MaxValue, uint.MaxValue, out _));
            }
        }

        _output.WriteLine($"created {N} files in {clock.ElapsedMilliseconds} ms");
        using HostNode dir = OpenOk(Root, P9L.ORdOnly, "big");
        clock.Restart();
        // The Linux client asks for msize − 24; use a typical 64 KiB msize and a small odd size too.
        List<Entry> all = ReadAll(dir, 65536 - 24);
        _output.WriteLine($"listed {all.Count} entries in {clock.ElapsedMilliseconds} ms (64 KiB replies, incl. parsing)");
        Assert.Equal(N + 2, all.Count);
        Assert.Equal(N + 2, all.Select(e => e.Name).Distinct().Count());
        Assert.Equal(N, all.Count(e => e.Name.StartsWith("file-", StringComparison.Ordinal)));

        // Cookies are replayable: resume after entry k (as seekdir would) and get exactly what followed it.
        foreach (int k in new[] { 0, 1, 4999, 51234, N })
        {
            List<Entry> next = ReadChunk(dir, all[k].Offset, 700);
            Assert.NotEmpty(next);
            Assert.Equal(all.Skip(k + 1).Take(next.Count).Select(e => e.Name), next.Select(e => e.Name));
        }

        // Reading from 0 again restarts; a small buffer gets the same sequence.
        List<Entry> again = ReadAll(dir, 333);
        Assert.Equal(all.Select(e => e.Name), again.Select(e => e.Name));
        Assert.Empty(ReadChunk(dir, all[^1].Offset, 8192));
    }
}
