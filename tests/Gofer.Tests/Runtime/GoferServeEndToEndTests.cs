using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Gofer.Runtime;
using Gofer.Runtime.Native;
using Gofer.Spec;
using Gofer.Tests.Spec;

namespace Gofer.Tests.Runtime;

/// <summary>
/// The whole chain with the real <c>gofer serve --io-fds</c>: three gofer mounts (rootfs, read-only bind,
/// read-write bind), each reachable through its own inherited FD with the right root and flags.
/// Frames are written by hand from the 9P2000.L grammar so this test depends on nothing but the server.
/// </summary>
public sealed class GoferServeEndToEndTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private const byte Rlerror = 7, Tlcreate = 14, Rlcreate = 15, Tversion = 100, Rversion = 101, Tattach = 104, Rattach = 105, Twalk = 110, Rwalk = 111;
    private const int ENOENT = 2, EROFS = 30;

    [Fact]
    public async Task Three_gofer_mounts_each_reachable_through_its_own_fd_with_the_right_root_and_flags()
    {
        var bundle = CopyExample();
        try
        {
            var plan = MountPlanner.Plan(bundle);
            await using var launch = await SandboxLauncher.LaunchAsync(plan, new LaunchOptions { ReportTimeout = Patience });
            Assert.Equal(new[] { "/", "/work", "/data" }, launch.Plan.GoferMounts.Select(m => m.Destination).ToArray());
            var (root, work, data) = (launch.MountSockets[0], launch.MountSockets[1], launch.MountSockets[2]);

            await AssertThreeMounts(bundle, root, work, data);

            var status = await launch.StopAsync();
            Assert.NotNull(status.ToString());
        }
        finally
        {
            Directory.Delete(bundle, recursive: true);
        }
    }

    /// <summary>
    /// The same three mounts served by <c>serve --bundle … --hardened</c>: the confined child gets one root per FD
    /// (--fd-root), with the same roots and flags as the unconfined server. Root only.
    /// </summary>
    [Gofer.Tests.Hardening.RootFact]
    public async Task Hardened_bundle_serve_gives_each_fd_its_own_root_and_flags()
    {
        var bundle = CopyExample();
        try
        {
            var plan = MountPlanner.ResolveDestinations(MountPlanner.Plan(bundle));
            Assert.Equal(3, plan.GoferFdCount);
            var command = GoferCommand.Current();
            var ours = new List<Socket>();
            var theirs = new List<SafeFdHandle>();
            for (var i = 0; i < plan.GoferFdCount; i++)
            {
                var (a, b) = Descriptors.CreateSocketPair();
                ours.Add(a.ToSocket());
                theirs.Add(b);
            }

            ChildProcess gofer;
            try
            {
                gofer = ProcessSpawner.Spawn(new SpawnOptions
                {
                    FileName = command.FileName,
                    Arguments = [.. command.PrefixArguments, .. GoferCommand.ServeArguments(plan, ProcessSpawner.FirstInheritedFd, null), "--hardened"],
                    InheritedFds = theirs,
                });
            }
            finally
            {
                foreach (var h in theirs)
                {
                    h.Dispose();
                }
            }

            await using (gofer)
            {
                await AssertThreeMounts(bundle, ours[0], ours[1], ours[2]);
                foreach (var s in ours)
                {
                    s.Dispose();
                }

                var status = await gofer.Exited.WaitAsync(Patience);
                Assert.True(status.Success, "gofer serve --bundle --hardened: " + status);
            }
        }
        finally
        {
            Directory.Delete(bundle, recursive: true);
        }
    }

    private static async Task AssertThreeMounts(string bundle, Socket root, Socket work, Socket data)
    {
        foreach (var s in new[] { root, work, data })
        {
            await Attach(s);
        }

        // Each FD is rooted at its own source.
        Assert.Equal(Rwalk, (await Walk(root, 1, "etc")).Type);
        Assert.Equal(ENOENT, (await Walk(root, 2, "readme.txt")).Errno); // fid 1 is taken: a fresh newfid
        Assert.Equal(Rwalk, (await Walk(data, 1, "readme.txt")).Type);
        Assert.Equal(Rwalk, (await Walk(work, 1, "notes.txt")).Type);
        Assert.Equal(ENOENT, (await Walk(work, 2, "readme.txt")).Errno);

        // /data is read-only: creation is refused with EROFS. /work is read-write and reaches the host.
        Assert.Equal(EROFS, (await Create(data, "new.txt")).Errno);
        Assert.Equal(Rlcreate, (await Create(work, "new.txt")).Type);
        Assert.True(File.Exists(Path.Combine(bundle, "work", "new.txt")));
        Assert.False(File.Exists(Path.Combine(bundle, "data-ro", "new.txt")));
    }

    private static string CopyExample()
    {
        var source = Path.Combine(ResolverAndPodTests.RepoRoot(), "examples", "bundle");
        var target = Path.Combine(Path.GetTempPath(), "gofer-e2e-" + Guid.NewGuid().ToString("N"));
        foreach (var dir in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, dir)));
        }

        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }

        return target;
    }

    // size[4] Tversion tag[2]=NOTAG msize[4] version[s]; then size[4] Tattach tag[2] fid[4]=0 afid[4]=NOFID uname[s] aname[s] n_uname[4].
    private static async Task Attach(Socket s)
    {
        var version = await Call(s, Tversion, 0xFFFF, w => { w.U32(65536); w.Str("9P2000.L"); });
        Assert.Equal(Rversion, version.Type);
        var attach = await Call(s, Tattach, 1, w => { w.U32(0); w.U32(uint.MaxValue); w.Str("root"); w.Str(string.Empty); w.U32(0); });
        Assert.Equal(Rattach, attach.Type);
        Assert.Equal(0x80, attach.Body[0]); // qid.type QTDIR
    }

    // Twalk tag[2] fid[4] newfid[4] nwname[2] wname[s]
    private static Task<Reply> Walk(Socket s, uint newFid, string name) =>
        Call(s, Twalk, 2, w => { w.U32(0); w.U32(newFid); w.U16(1); w.Str(name); });

    // Clone fid 0 into 9, then Tlcreate tag[2] fid[4] name[s] flags[4] mode[4] gid[4] (flags O_WRONLY|O_CREAT).
    private static async Task<Reply> Create(Socket s, string name)
    {
        Assert.Equal(Rwalk, (await Call(s, Twalk, 3, w => { w.U32(0); w.U32(9); w.U16(0); })).Type);
        return await Call(s, Tlcreate, 4, w => { w.U32(9); w.Str(name); w.U32(0x41); w.U32(0x1a4); w.U32(0); });
    }

    private static async Task<Reply> Call(Socket s, byte type, ushort tag, Action<FrameWriter> body)
    {
        var w = new FrameWriter();
        body(w);
        var frame = new byte[7 + w.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)frame.Length);
        frame[4] = type;
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(5), tag);
        w.CopyTo(frame.AsSpan(7));
        await s.SendAsync(frame);

        var header = new byte[7];
        await ReadExactly(s, header);
        var size = BinaryPrimitives.ReadUInt32LittleEndian(header);
        Assert.InRange(size, 7u, 1u << 20);
        var rest = new byte[size - 7];
        await ReadExactly(s, rest);
        Assert.Equal(tag, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(5)));
        return new Reply(header[4], rest);
    }

    private static async Task ReadExactly(Socket s, byte[] buffer)
    {
        var done = 0;
        while (done < buffer.Length)
        {
            var n = await s.ReceiveAsync(buffer.AsMemory(done)).AsTask().WaitAsync(Patience);
            Assert.True(n > 0, "the gofer closed the connection");
            done += n;
        }
    }

    private sealed record Reply(byte Type, byte[] Body)
    {
        public int Errno => Type == Rlerror ? (int)BinaryPrimitives.ReadUInt32LittleEndian(Body) : 0;
    }

    private sealed class FrameWriter
    {
        private readonly List<byte> _bytes = [];

        public int Length => _bytes.Count;

        public void U16(ushort v)
        {
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(b, v);
            _bytes.AddRange(b);
        }

        public void U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            _bytes.AddRange(b);
        }

        // string: n[2] then n UTF-8 bytes
        public void Str(string v)
        {
            var bytes = Encoding.UTF8.GetBytes(v);
            U16((ushort)bytes.Length);
            _bytes.AddRange(bytes);
        }

        public void CopyTo(Span<byte> target) => _bytes.ToArray().CopyTo(target);
    }
}
