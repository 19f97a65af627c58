using Gofer.Spec;

namespace Gofer.Tests.Spec;

public sealed class ResolverAndPodTests
{
    [Fact]
    public void Symlinks_resolve_inside_the_root_never_outside()
    {
        using var b = new TempBundle();
        var root = b.RootPath;
        Directory.CreateDirectory(Path.Combine(root, "var"));
        Directory.CreateDirectory(Path.Combine(root, "real"));
        File.CreateSymbolicLink(Path.Combine(root, "var", "run"), "../run");            // relative
        File.CreateSymbolicLink(Path.Combine(root, "abs"), "/real");                    // absolute = inside root
        File.CreateSymbolicLink(Path.Combine(root, "escape"), "../../../../../etc");     // climbs: clamped at root
        File.CreateSymbolicLink(Path.Combine(root, "hostetc"), "/etc");                 // the host's /etc must not be used
        File.CreateSymbolicLink(Path.Combine(root, "loop"), "loop");

        Assert.Equal("/run/secrets", RootedPathResolver.Resolve(root, "/var/run/secrets"));
        Assert.Equal("/real/x", RootedPathResolver.Resolve(root, "/abs/x"));
        Assert.Equal("/etc", RootedPathResolver.Resolve(root, "/escape"));
        Assert.Equal("/etc/passwd", RootedPathResolver.Resolve(root, "/hostetc/passwd"));
        Assert.Equal("/missing/deeper", RootedPathResolver.Resolve(root, "/missing/deeper"));
        Assert.Equal("/", RootedPathResolver.Resolve(root, "/../.."));
        var e = Assert.Throws<SpecException>(() => RootedPathResolver.Resolve(root, "/loop/x"));
        Assert.Contains("too many levels of symbolic links", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_destinations_resolve_through_rootfs_symlinks()
    {
        using var b = new TempBundle("d");
        Directory.CreateDirectory(Path.Combine(b.RootPath, "srv"));
        File.CreateSymbolicLink(Path.Combine(b.RootPath, "data"), "srv");
        b.WithConfig("""[ { "destination": "/data/x", "type": "bind", "source": "d" } ]""");
        var plan = MountPlanner.ResolveDestinations(b.Plan());
        Assert.Equal("/", plan.Root.ResolvedDestination);
        var d = plan.Mounts.Single(m => m.Destination == "/data/x");
        Assert.Equal("/srv/x", d.ResolvedDestination);
        Assert.Contains("/data/x -> /srv/x", MountPlanText.ToTable(plan), StringComparison.Ordinal);
    }

    [Fact]
    public void Pod_shares_one_volume_among_the_containers_that_name_it()
    {
        using var first = new TempBundle();
        using var second = new TempBundle("own");
        first.WithConfig(
            """[ { "destination": "/cache", "type": "bind", "source": "/pod/vol/cache" } ]""",
            """
            { "dev.gvisor.spec.mount.cache.source": "/pod/vol/cache",
              "dev.gvisor.spec.mount.cache.type": "tmpfs",
              "dev.gvisor.spec.mount.cache.share": "pod",
              "dev.gvisor.spec.mount.cache.options": "rw" }
            """);
        second.WithConfig("""
            [ { "destination": "/own", "type": "bind", "source": "own" },
              { "destination": "/mnt/cache", "type": "bind", "source": "/pod/vol/cache", "options": ["ro"] } ]
            """);

        var pod = PodPlan.Create([("app", OciBundle.Load(first.Directory)), ("sidecar", OciBundle.Load(second.Directory))]);

        Assert.Equal(new[] { "app", "sidecar" }, pod.Containers.Select(c => c.ContainerName).ToArray());
        var volume = Assert.Single(pod.Volumes);
        Assert.Equal("cache", volume.Name);
        Assert.Equal(new[] { "app", "sidecar" }, volume.Containers);

        // Each container keeps its own gofer FDs; the shared volume needs none.
        Assert.Equal(1, pod.Containers[0].GoferFdCount);
        Assert.Equal(new[] { "/", "/own" }, pod.Containers[1].GoferMounts.Select(m => m.Destination).ToArray());
        Assert.Equal("cache", pod.Containers[1].Mounts.Single(m => m.Destination == "/mnt/cache").SharedVolume);
    }

    [Fact]
    public void Pod_refuses_duplicate_names_and_an_empty_pod()
    {
        using var b = new TempBundle().WithConfig();
        var bundle = OciBundle.Load(b.Directory);
        Assert.Throws<SpecException>(() => PodPlan.Create([]));
        var e = Assert.Throws<SpecException>(() => PodPlan.Create([("a", bundle), ("a", bundle)]));
        Assert.Equal("pod: container name \"a\" is used twice", e.Message);
    }

    [Fact]
    public void Example_bundle_plans_as_documented()
    {
        var plan = MountPlanner.ResolveDestinations(MountPlanner.Plan(Path.Combine(RepoRoot(), "examples", "bundle")));
        Assert.Equal(new[] { "/", "/work", "/data" }, plan.GoferMounts.Select(m => m.Destination).ToArray());
        var work = plan.Mounts.Single(m => m.Destination == "/work");
        Assert.Equal(CachePolicy.Exclusive, work.Cache);
        Assert.False(work.GoferReadOnly);
        var data = plan.Mounts.Single(m => m.Destination == "/data");
        Assert.Equal(CachePolicy.RemoteRevalidating, data.Cache);
        Assert.True(data.GoferReadOnly);
        Assert.EndsWith("/data-ro", data.Source, StringComparison.Ordinal);
        var scratch = plan.Mounts.Single(m => m.Destination == "/scratch");
        Assert.Equal(MountKind.Tmpfs, scratch.Kind);
        Assert.Equal("scratch", scratch.HintName);
        Assert.Equal(MountCondition.IfTargetEmpty, plan.Mounts[^1].Condition);
        Assert.Empty(plan.Warnings);

        // Apply order differs from FD order: /data (FD 2) and /work (FD 1) are siblings in spec order.
        var json = MountPlanText.ToJson(plan);
        Assert.Contains("\"goferFds\": [\n    \"/\",\n    \"/work\",\n    \"/data\"\n  ]", json, StringComparison.Ordinal);
        Assert.Contains("\"cache\": \"remote_revalidating\"", json, StringComparison.Ordinal);
    }

    internal static string RepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Gofer.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("Gofer.sln not found above " + AppContext.BaseDirectory);
    }
}
