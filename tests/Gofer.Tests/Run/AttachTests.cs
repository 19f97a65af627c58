using System.Text;
using Gofer.Cli;
using Gofer.Cli.Shell;
using Gofer.Sandbox.Attach;
using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;
using Gofer.Spec;
using P9.Protocol.Client;

namespace Gofer.Tests.Run;

/// <summary>MountPlan → MountNamespace: the seam, /tmp rule, overlays, pods with shared volumes, stats.</summary>
public class AttachTests
{
    [Fact]
    public async Task Factory_IsCalledOncePerGoferMount_InFdOrder_WithTheCachePolicy()
    {
        var dir = ShellHarness.WriteBundle(Directory.CreateTempSubdirectory("gofer-run-").FullName);
        try
        {
            var plan = MountPlanner.ResolveDestinations(MountPlanner.Plan(dir));
            var seen = new List<(int Index, string Dest, CachePolicy Cache)>();
            var sandbox = await SandboxAttacher.AttachAsync(plan, null, (c, ct) =>
            {
                seen.Add((c.Index, c.Mount.Destination, c.Cache));
                return StandInFileSystems.StandIn(c, ct);
            });
            Assert.Equal([(0, "/", CachePolicy.Exclusive), (1, "/work", CachePolicy.Exclusive), (2, "/data", CachePolicy.RemoteRevalidating)], seen.OrderBy(s => s.Index));
            Assert.Equal([0, 1, 2], sandbox.GoferFileSystems.Select(g => g.Mount.GoferIndex ?? -1));
            await Assert.ThrowsAsync<ArgumentException>(async () => await SandboxAttacher.AttachAsync(plan, [null], StandInFileSystems.StandIn));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Tmp_IsATmpfsOnlyWhenTheRootfsHasNoneOrAnEmptyOne()
    {
        using (var h = await ShellHarness.CreateAsync())
        {
            Assert.Contains(h.Ns.GetMounts(), m => m.Destination == "/tmp" && m.Type == "tmpfs");
        }

        using (var h = await ShellHarness.CreateAsync(rootTmpNotEmpty: true))
        {
            Assert.DoesNotContain(h.Ns.GetMounts(), m => m.Destination == "/tmp");
            Assert.Equal("keep\n", (await h.RunAsync("ls", "/tmp")).Out);
            var skipped = h.Sandbox.Mounts.Single(m => m.Planned.Origin == MountOrigin.InternalTmp);
            Assert.Equal("exists and is not empty", skipped.SkippedBecause);
        }
    }

    [Fact]
    public async Task RootOverlay_TakesWrites_TheLowerStaysAsItWas()
    {
        using var h = await ShellHarness.CreateAsync(options: new PlanOptions { Overlay = OverlayConfig.Parse("root:memory") });
        Assert.Equal("overlay", h.Ns.GetMounts()[0].Type);
        Assert.Equal(0, (await h.RunAsync("write", "/home/user/hello.txt", "changed")).Status);
        Assert.Equal("changed\n", (await h.RunAsync("cat", "/home/user/hello.txt")).Out);
        var lower = (TmpfsFileSystem)h.Sandbox.GoferFileSystems[0].FileSystem;
        Assert.True(lower.IsReadOnly); // an overlaid gofer mount is served read-only
    }

    [Fact]
    public async Task Pod_SharedVolumeIsOneInstance_PrefixesAddressContainers_ChildRootUnderRunscDir()
    {
        var pod = Directory.CreateTempSubdirectory("gofer-pod-").FullName;
        try
        {
            foreach (var (name, dest) in new[] { ("c1", "/shared"), ("c2", "/mnt/shared") })
            {
                var dir = Path.Combine(pod, name);
                Directory.CreateDirectory(Path.Combine(dir, "rootfs", "etc"));
                File.WriteAllText(Path.Combine(dir, "rootfs", "etc", "hostname"), name + "\n");
                File.WriteAllText(Path.Combine(dir, "config.json"), $$"""
                {
                  "ociVersion": "1.0.2",
                  "root": { "path": "rootfs" },
                  "mounts": [ { "destination": "{{dest}}", "type": "bind", "source": "../vol", "options": [ "rbind", "rw" ] } ],
                  "annotations": {
                    "dev.gvisor.spec.mount.shared.source": "../vol",
                    "dev.gvisor.spec.mount.shared.type": "tmpfs",
                    "dev.gvisor.spec.mount.shared.share": "pod"
                  }
                }
                """);
            }

            var podPlan = PodPlan.Create([("c1", OciBundle.Load(Path.Combine(pod, "c1"))), ("c2", OciBundle.Load(Path.Combine(pod, "c2")))]);
            var volume = new TmpfsFileSystem();
            var options = new AttachOptions { SharedVolumes = new Dictionary<string, IFileSystem> { ["shared"] = volume } };
            var c1 = await SandboxAttacher.AttachAsync(MountPlanner.ResolveDestinations(podPlan.Containers[0]), null, StandInFileSystems.SnapshotStandIn, options);
            var c2 = await SandboxAttacher.AttachAsync(MountPlanner.ResolveDestinations(podPlan.Containers[1]), null, StandInFileSystems.SnapshotStandIn, options);
            await SandboxAttacher.MountChildAsync(c1, "c2", c2);

            Assert.Same(volume, c1.Mounts.Single(m => m.Planned.SharedVolume == "shared").FileSystem);
            Assert.Same(volume, c2.Mounts.Single(m => m.Planned.SharedVolume == "shared").FileSystem);

            var stdout = new MemoryStream();
            var stderr = new StringWriter();
            var shell = new SandboxShell(
                new Dictionary<string, MountNamespace> { ["c1"] = c1.Namespace, ["c2"] = c2.Namespace },
                "c1",
                new ShellIo(stdout, stderr, new MemoryStream(), false));
            Assert.Equal(0, await shell.RunAsync(["write", "c1:/shared/msg", "from c1"]));
            Assert.Equal(0, await shell.RunAsync(["cat", "c2:/mnt/shared/msg", "/etc/hostname", "c2:/etc/hostname", "/__runsc_containers__/c2/etc/hostname"]));
            Assert.Equal("from c1\nc1\nc2\nc2\n", Encoding.UTF8.GetString(stdout.ToArray()));
            Assert.Equal(string.Empty, stderr.ToString());
            Assert.Contains(c1.Namespace.GetMounts(), m => m.Destination == "/__runsc_containers__/c2/mnt/shared");
            Assert.Equal(0, await shell.RunAsync(["mounts", "c2"]));
            Assert.Equal(1, await shell.RunAsync(["mounts", "c3"]));
        }
        finally
        {
            Directory.Delete(pod, true);
        }
    }

    [Fact]
    public void LatencyHistogram_BucketsAndQuantiles()
    {
        var h = new LatencyHistogram();
        Assert.Equal("no samples", h.Format());
        for (int i = 0; i < 90; i++)
        {
            h.Record(TimeSpan.FromMicroseconds(3));   // bucket [2, 4)
        }

        for (int i = 0; i < 10; i++)
        {
            h.Record(TimeSpan.FromMicroseconds(1000)); // bucket [512, 1024)
        }

        Assert.Equal(100, h.Count);
        Assert.Equal(4, h.QuantileUpperBoundMicros(0.5));
        Assert.Equal(4, h.QuantileUpperBoundMicros(0.9));
        Assert.Equal(1024, h.QuantileUpperBoundMicros(0.99));
        Assert.StartsWith("n=100 ", h.Format(), StringComparison.Ordinal);
    }

    private sealed class StatsFs(TmpfsFileSystem inner) : IFileSystem, IGoferMountStats
    {
        public string TypeName => "9p";

        public bool IsReadOnly => false;

        public DentryCachePolicy CachePolicy => inner.CachePolicy;

        public INode Root => inner.Root;

        public P9ClientStats RpcStats { get; } = new();

        public LatencyHistogram? RpcLatency { get; } = new();

        public ValueTask<StatFs> StatFsAsync(CancellationToken ct = default) => inner.StatFsAsync(ct);

        public ValueTask<int> RevalidateAsync(INode start, IReadOnlyList<RevalidateStep> steps, CancellationToken ct = default) => inner.RevalidateAsync(start, steps, ct);
    }

    [Fact]
    public async Task Stats_UseTheHookWhenTheFilesystemHasIt_AndSaySoWhenNot()
    {
        var dir = ShellHarness.WriteBundle(Directory.CreateTempSubdirectory("gofer-run-").FullName);
        try
        {
            var plan = MountPlanner.ResolveDestinations(MountPlanner.Plan(dir));
            // Not mounted: a wrapper whose nodes are the inner tmpfs's cannot be (the VFS keys dentries by the
            // filesystem a node reports), and FormatStats only reads the list of gofer filesystems.
            var statsFs = new StatsFs(new TmpfsFileSystem());
            var ns = await MountNamespace.CreateAsync(new MountSpec("/", new TmpfsFileSystem()));
            var data = plan.GoferMounts.Single(m => m.Destination == "/data");
            var sandbox = new AttachedSandbox(plan, ns, [], [(plan.Root, statsFs), (data, new TmpfsFileSystem())]);
            statsFs.RpcLatency!.Record(TimeSpan.FromMicroseconds(50));
            var text = RunCommand.FormatStats([(string.Empty, sandbox)]);
            Assert.Contains("/ (fd 0, exclusive): 0 RPCs, 0 B out, 0 B in", text, StringComparison.Ordinal);
            Assert.Contains("client-side RPC latency (request queued → reply decoded): n=1 ", text, StringComparison.Ordinal);
            Assert.Contains("/data (fd 2, remote_revalidating): no RPC statistics (tmpfs stand-in", text, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
