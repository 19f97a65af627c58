using Gofer.Spec;

namespace Gofer.Tests.Spec;

public sealed class PlannerTests
{
    private static string[] Destinations(MountPlan plan) => plan.Mounts.Select(m => m.Destination).ToArray();

    [Fact]
    public void Mandatory_mounts_are_added_right_after_the_root()
    {
        using var b = new TempBundle().WithConfig();
        var plan = b.Plan();
        Assert.Equal("/", plan.Root.Destination);
        Assert.Equal(new[] { "/proc", "/sys", "/dev", "/dev/pts", "/tmp" }, Destinations(plan));
        Assert.Equal(
            new[] { MountKind.Proc, MountKind.Sysfs, MountKind.Devtmpfs, MountKind.Devpts, MountKind.Tmpfs },
            plan.Mounts.Select(m => m.Kind).ToArray());
        Assert.All(plan.Mounts.Take(4), m => Assert.Equal(MountOrigin.Mandatory, m.Origin));
    }

    [Fact]
    public void Mandatory_mounts_present_in_the_spec_are_not_added_again()
    {
        using var b = new TempBundle().WithConfig("""
            [ { "destination": "/proc", "type": "proc", "source": "proc" },
              { "destination": "/sys/", "type": "sysfs" },
              { "destination": "/dev", "type": "tmpfs", "options": ["nosuid", "mode=755"] },
              { "destination": "/dev/pts", "type": "devpts", "options": ["newinstance"] } ]
            """);
        var plan = b.Plan();
        Assert.Equal(new[] { "/proc", "/sys", "/dev", "/dev/pts", "/tmp" }, Destinations(plan));
        Assert.All(plan.Mounts.Take(4), m => Assert.Equal(MountOrigin.Spec, m.Origin));

        // /dev is always the sandbox's devtmpfs, /dev/pts its devpts, whatever type the spec gives.
        Assert.Equal(MountKind.Devtmpfs, plan.Mounts[2].Kind);
        Assert.Equal(MountKind.Devpts, plan.Mounts[3].Kind);
        Assert.Contains(plan.Warnings, w => w.Contains("mounts[3].options: ignoring unsupported option \"newinstance\"", StringComparison.Ordinal));
    }

    [Fact]
    public void Spec_submount_of_a_mandatory_mount_lands_after_it()
    {
        using var b = new TempBundle().WithConfig("""[ { "destination": "/proc/sys/fs/binfmt_misc", "type": "tmpfs" } ]""");
        var dests = Destinations(b.Plan());
        Assert.True(Array.IndexOf(dests, "/proc") < Array.IndexOf(dests, "/proc/sys/fs/binfmt_misc"));
    }

    [Fact]
    public void Tmp_gets_a_conditional_internal_tmpfs_last()
    {
        using var b = new TempBundle("x").WithConfig("""[ { "destination": "/tmp/x/y", "type": "bind", "source": "x" } ]""");
        var plan = b.Plan();
        var tmp = plan.Mounts[^1];
        Assert.Equal("/tmp", tmp.Destination);
        Assert.Equal(MountKind.Tmpfs, tmp.Kind);
        Assert.Equal(MountOrigin.InternalTmp, tmp.Origin);
        Assert.Equal(MountCondition.IfTargetEmpty, tmp.Condition);
        Assert.Equal(new[] { "mode=01777" }, tmp.Data);
    }

    [Theory]
    [InlineData("/tmp")]
    [InlineData("/tmp/")]
    [InlineData("//tmp/.")]
    public void Explicit_tmp_mount_replaces_the_internal_one(string destination)
    {
        using var b = new TempBundle().WithConfig($$"""[ { "destination": "{{destination}}", "type": "tmpfs", "options": ["size=1m"] } ]""");
        var plan = b.Plan();
        var tmp = Assert.Single(plan.Mounts, m => m.Destination == "/tmp");
        Assert.Equal(MountOrigin.Spec, tmp.Origin);
        Assert.Equal(MountCondition.Always, tmp.Condition);
        Assert.Equal(new[] { "size=1m" }, tmp.Data);
    }

    [Fact]
    public void Fds_follow_spec_order_while_the_apply_order_is_sorted_by_depth()
    {
        using var b = new TempBundle("deep", "top", "mid").WithConfig("""
            [ { "destination": "/a/b/c", "type": "bind", "source": "deep" },
              { "destination": "/z", "type": "tmpfs" },
              { "destination": "/a", "type": "bind", "source": "top", "options": ["rbind"] },
              { "destination": "/a/b", "source": "mid", "options": ["bind", "ro"] } ]
            """);
        var plan = b.Plan();

        // FD order: rootfs, then bind mounts in spec order.
        Assert.Equal(new[] { "/", "/a/b/c", "/a", "/a/b" }, plan.GoferMounts.Select(m => m.Destination).ToArray());
        Assert.Equal(new[] { 0, 1, 2, 3 }, plan.GoferMounts.Select(m => m.GoferIndex!.Value).ToArray());
        Assert.Equal(new[] { b.RootPath, b.PathOf("deep"), b.PathOf("top"), b.PathOf("mid") }, plan.GoferMounts.Select(m => m.Source).ToArray());
        Assert.Equal(4, plan.GoferFdCount);

        // Apply order: parents first; /z and /a keep their spec order at equal depth (stable).
        Assert.Equal(new[] { "/proc", "/sys", "/dev", "/z", "/a", "/dev/pts", "/a/b", "/a/b/c", "/tmp" }, Destinations(plan));
        Assert.Equal(3, plan.Mounts.Single(m => m.Destination == "/a/b").GoferIndex);
    }

    [Fact]
    public void Equal_depth_siblings_keep_spec_order_every_time()
    {
        var mounts = string.Join(",", Enumerable.Range(0, 40).Select(i => $$"""{ "destination": "/m{{39 - i}}", "type": "tmpfs" }"""));
        using var b = new TempBundle().WithConfig($"[{mounts}]");
        var dests = Destinations(b.Plan()).Where(d => d.StartsWith("/m", StringComparison.Ordinal)).ToArray();
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"/m{39 - i}").ToArray(), dests);
    }

    [Fact]
    public void Fd_dispenser_refuses_missing_and_leftover_fds()
    {
        using var b = new TempBundle("d").WithConfig("""[ { "destination": "/d", "type": "bind", "source": "d" } ]""");
        var plan = b.Plan();
        var pairs = FdDispenser<int>.Assign(plan, [10, 11]);
        Assert.Equal(new[] { ("/", 10), ("/d", 11) }, pairs.Select(p => (p.Mount.Destination, p.Fd)).ToArray());

        var missing = Assert.Throws<SpecException>(() => FdDispenser<int>.Assign(plan, [10]));
        Assert.Equal("gofer FDs: missing an FD for /d (only 1 given)", missing.Message);
        var leftover = Assert.Throws<SpecException>(() => FdDispenser<int>.Assign(plan, [10, 11, 12]));
        Assert.Equal("gofer FDs: 1 of 3 FD(s) not consumed by any mount: 12", leftover.Message);
    }

    [Fact]
    public void Bind_mount_with_empty_source_string_is_not_a_gofer_mount()
    {
        using var b = new TempBundle().WithConfig("""[ { "destination": "/t", "type": "tmpfs", "source": "", "options": ["nosuid"] } ]""");
        var plan = b.Plan();
        Assert.Equal(1, plan.GoferFdCount);
    }

    [Fact]
    public void Read_only_root_and_default_policies()
    {
        using var b = new TempBundle("d").WithConfig("""[ { "destination": "/d", "type": "bind", "source": "d" } ]""", readonlyRoot: true);
        var plan = b.Plan();
        Assert.Equal(MountFlags.ReadOnly, plan.Root.Flags);
        Assert.True(plan.Root.GoferReadOnly);
        Assert.Equal(CachePolicy.Exclusive, plan.Root.Cache);
        var d = plan.Mounts.Single(m => m.Destination == "/d");
        Assert.Equal(CachePolicy.RemoteRevalidating, d.Cache);
        Assert.False(d.GoferReadOnly);
    }

    [Fact]
    public void Root_file_access_shared_gives_remote_revalidating()
    {
        using var b = new TempBundle().WithConfig();
        var plan = b.Plan(new PlanOptions { RootFileAccess = FileAccessType.Shared });
        Assert.Equal(CachePolicy.RemoteRevalidating, plan.Root.Cache);
    }

    [Fact]
    public void Mount_options_become_flags_and_unknown_ones_warn()
    {
        using var b = new TempBundle("d").WithConfig("""[ { "destination": "/d", "type": "bind", "source": "d", "options": ["rbind", "ro", "noexec", "nosuid", "nodev", "noatime", "rprivate", "relatime"] } ]""");
        var plan = b.Plan();
        var d = plan.Mounts.Single(m => m.Destination == "/d");
        Assert.Equal(MountFlags.ReadOnly | MountFlags.NoExec | MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoAtime, d.Flags);
        Assert.True(d.GoferReadOnly);
        Assert.Equal(
            new[] { "mounts[0].options: ignoring unsupported option \"rprivate\"", "mounts[0].options: ignoring unsupported option \"relatime\"" },
            plan.Warnings);
    }

    [Fact]
    public void Later_options_override_earlier_ones()
    {
        var parsed = MountOptions.Parse(["ro", "noexec", "rw", "exec", "nosuid", "suid", "nodev", "dev", "noatime", "atime"]);
        Assert.Equal(MountFlags.None, parsed.Flags);
        Assert.Empty(parsed.Ignored);
    }

    [Fact]
    public void Unsupported_filesystem_types_are_ignored_with_a_warning()
    {
        using var b = new TempBundle().WithConfig("""[ { "destination": "/sys/fs/cgroup", "type": "cgroup" }, { "destination": "/dev/mqueue", "type": "mqueue" } ]""");
        var plan = b.Plan();
        Assert.DoesNotContain(plan.Mounts, m => m.Destination is "/sys/fs/cgroup" or "/dev/mqueue");
        Assert.Equal(2, plan.Warnings.Count);
        Assert.Contains("unsupported type \"cgroup\"", plan.Warnings[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Overlay_root_memory_covers_the_writable_root_only()
    {
        using var b = new TempBundle("d").WithConfig("""[ { "destination": "/d", "type": "bind", "source": "d" } ]""");
        var plan = b.Plan(new PlanOptions { Overlay = OverlayConfig.Parse("root:memory") });
        Assert.True(plan.Root.Overlay);
        Assert.True(plan.Root.GoferReadOnly);
        Assert.Equal(MountFlags.None, plan.Root.Flags);
        Assert.False(plan.Mounts.Single(m => m.Destination == "/d").Overlay);
    }

    [Fact]
    public void Overlay_all_memory_covers_writable_binds_but_not_read_only_ones()
    {
        using var b = new TempBundle("rw", "ro").WithConfig("""
            [ { "destination": "/rw", "type": "bind", "source": "rw" },
              { "destination": "/ro", "type": "bind", "source": "ro", "options": ["ro"] },
              { "destination": "/t", "type": "tmpfs" } ]
            """);
        var plan = b.Plan(new PlanOptions { Overlay = OverlayConfig.Parse("all:memory") });
        Assert.True(plan.Root.Overlay);
        Assert.True(plan.Mounts.Single(m => m.Destination == "/rw").Overlay);
        Assert.True(plan.Mounts.Single(m => m.Destination == "/rw").GoferReadOnly);
        Assert.False(plan.Mounts.Single(m => m.Destination == "/ro").Overlay);
        Assert.False(plan.Mounts.Single(m => m.Destination == "/t").Overlay);
    }

    [Fact]
    public void Read_only_root_gets_no_overlay()
    {
        using var b = new TempBundle().WithConfig(readonlyRoot: true);
        Assert.False(b.Plan(new PlanOptions { Overlay = OverlayConfig.Parse("root:memory") }).Root.Overlay);
    }

    [Fact]
    public void Shared_root_file_access_cannot_be_combined_with_a_root_overlay()
    {
        using var b = new TempBundle().WithConfig();
        var e = Assert.Throws<SpecException>(() => b.Plan(new PlanOptions { RootFileAccess = FileAccessType.Shared, Overlay = OverlayConfig.Parse("root:memory") }));
        Assert.Contains("--file-access shared cannot be combined with a rootfs overlay", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("none", OverlayScope.None, null)]
    [InlineData("", OverlayScope.None, null)]
    [InlineData("root:memory", OverlayScope.Root, null)]
    [InlineData("all:memory", OverlayScope.All, null)]
    [InlineData("all:memory,size=64m", OverlayScope.All, 64L << 20)]
    public void Overlay2_forms_that_are_built(string text, OverlayScope scope, long? size)
    {
        var c = OverlayConfig.Parse(text);
        Assert.Equal(scope, c.Scope);
        Assert.Equal(size, c.SizeBytes);
    }

    [Theory]
    [InlineData("root:self", "file-backed overlay store")]
    [InlineData("all:dir=/var/tmp", "file-backed overlay store")]
    [InlineData("root", "expected none or")]
    [InlineData("some:memory", "unknown scope")]
    [InlineData("root:disk", "unknown medium")]
    [InlineData("root:memory,size=", "size is empty")]
    [InlineData("root:memory,size=-1", "not a positive number")]
    [InlineData("root:memory,size=99999999999999999g", "too large")]
    [InlineData("root:memory,foo=1", "unknown option")]
    public void Overlay2_forms_that_are_refused(string text, string reason)
    {
        var e = Assert.Throws<SpecException>(() => OverlayConfig.Parse(text));
        Assert.StartsWith($"--overlay2 {text}: ", e.Message);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Destinations_are_cleaned_lexically_and_cannot_climb_above_root()
    {
        Assert.Equal("/", ContainerPath.Clean("/../.."));
        Assert.Equal("/b", ContainerPath.Clean("/a/../../b/"));
        Assert.Equal("/a/b", ContainerPath.Clean("//a/./b//"));
        Assert.Equal(0, ContainerPath.Depth("/"));
        Assert.Equal(2, ContainerPath.Depth("/a/b"));
    }
}
