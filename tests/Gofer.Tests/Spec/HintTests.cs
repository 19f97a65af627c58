using Gofer.Spec;

namespace Gofer.Tests.Spec;

public sealed class HintTests
{
    private static string Hint(string name, string field, string value) => $"\"dev.gvisor.spec.mount.{name}.{field}\": \"{value}\"";

    private static string Annotations(params string[] entries) => "{ " + string.Join(", ", entries) + " }";

    [Fact]
    public void Share_container_makes_a_bind_mount_exclusive()
    {
        using var b = new TempBundle("w").WithConfig(
            """[ { "destination": "/w", "type": "bind", "source": "w" } ]""",
            Annotations(Hint("w", "source", "w"), Hint("w", "type", "bind"), Hint("w", "share", "container")));
        var plan = b.Plan();
        var w = plan.Mounts.Single(m => m.Destination == "/w");
        Assert.Equal(CachePolicy.Exclusive, w.Cache);
        Assert.Equal("w", w.HintName);
        Assert.False(w.Overlay);
        Assert.Equal(1, w.GoferIndex);
        var hint = Assert.Single(plan.Hints);
        Assert.Equal(b.PathOf("w"), hint.Source);
        Assert.Equal(LifecycleType.Shared, hint.Lifecycle);
    }

    [Theory]
    [InlineData("shared")]
    [InlineData("pod")]
    public void Share_pod_or_shared_keeps_a_bind_mount_revalidating(string share)
    {
        using var b = new TempBundle("w").WithConfig(
            """[ { "destination": "/w", "type": "bind", "source": "w" } ]""",
            Annotations(Hint("w", "source", "w"), Hint("w", "type", "bind"), Hint("w", "share", share)));
        Assert.Equal(CachePolicy.RemoteRevalidating, b.Plan().Mounts.Single(m => m.Destination == "/w").Cache);
    }

    [Fact]
    public void Hint_matches_absolute_and_relative_sources_alike()
    {
        using var b = new TempBundle("w");
        b.WithConfig(
            """[ { "destination": "/w", "type": "bind", "source": "w" } ]""",
            Annotations(Hint("w", "source", b.PathOf("w")), Hint("w", "type", "bind"), Hint("w", "share", "container")));
        Assert.Equal("w", b.Plan().Mounts.Single(m => m.Destination == "/w").HintName);
    }

    [Theory]
    [InlineData("container", true)]
    [InlineData("pod", true)]
    [InlineData("shared", false)]
    public void Lifecycle_decides_the_overlay_of_a_container_bind(string lifecycle, bool overlay)
    {
        using var b = new TempBundle("w").WithConfig(
            """[ { "destination": "/w", "type": "bind", "source": "w" } ]""",
            Annotations(Hint("w", "source", "w"), Hint("w", "type", "bind"), Hint("w", "share", "container"), Hint("w", "lifecycle", lifecycle)));
        var w = b.Plan().Mounts.Single(m => m.Destination == "/w");
        Assert.Equal(overlay, w.Overlay);
        Assert.Equal(overlay, w.GoferReadOnly);
    }

    [Fact]
    public void Tmpfs_hint_turns_a_bind_volume_into_a_sandbox_tmpfs_without_an_fd()
    {
        using var b = new TempBundle("a", "c").WithConfig(
            """
            [ { "destination": "/a", "type": "bind", "source": "a" },
              { "destination": "/scratch", "type": "bind", "source": "not-there", "options": ["noexec"] },
              { "destination": "/c", "type": "bind", "source": "c" } ]
            """,
            Annotations(Hint("s", "source", "not-there"), Hint("s", "type", "tmpfs"), Hint("s", "share", "container")));
        var plan = b.Plan();
        var s = plan.Mounts.Single(m => m.Destination == "/scratch");
        Assert.Equal(MountKind.Tmpfs, s.Kind);
        Assert.Null(s.GoferIndex);
        Assert.Null(s.SharedVolume);
        Assert.Equal(MountFlags.NoExec, s.Flags);
        Assert.Equal(new[] { "/", "/a", "/c" }, plan.GoferMounts.Select(m => m.Destination).ToArray());
        Assert.Equal(new[] { 0, 1, 2 }, plan.GoferMounts.Select(m => m.GoferIndex!.Value).ToArray());
    }

    [Fact]
    public void Pod_tmpfs_hint_makes_a_shared_volume()
    {
        using var b = new TempBundle().WithConfig(
            """[ { "destination": "/shared", "type": "bind", "source": "/vol/shared", "options": ["ro", "noexec"] } ]""",
            Annotations(Hint("v", "source", "/vol/shared"), Hint("v", "type", "tmpfs"), Hint("v", "share", "pod"), Hint("v", "options", "rw,noexec")));
        var v = b.Plan().Mounts.Single(m => m.Destination == "/shared");
        Assert.Equal(MountKind.Tmpfs, v.Kind);
        Assert.Equal("v", v.SharedVolume);
    }

    [Theory]
    [InlineData("ro", "rw", "read-write because its master is read-only")]
    [InlineData("noexec", "rw", "with exec because its master is noexec")]
    [InlineData("noatime", "rw", "with atime because its master is noatime")]
    [InlineData("nosuid", "rw", "with suid because its master is nosuid")]
    public void Replica_less_restrictive_than_its_master_is_refused(string master, string replica, string reason)
    {
        using var b = new TempBundle().WithConfig(
            $$"""[ { "destination": "/shared", "type": "bind", "source": "/vol/shared", "options": ["{{replica}}"] } ]""",
            Annotations(Hint("v", "source", "/vol/shared"), Hint("v", "type", "tmpfs"), Hint("v", "share", "pod"), Hint("v", "options", master)));
        var e = Assert.Throws<SpecException>(() => b.Plan());
        Assert.StartsWith("config.json: mounts[0].options: cannot mount shared volume \"v\" ", e.Message);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_hint_sources_are_refused()
    {
        using var b = new TempBundle().WithConfig(
            "[]",
            Annotations(
                Hint("a", "source", "/v"), Hint("a", "type", "tmpfs"), Hint("a", "share", "pod"),
                Hint("b", "source", "/v"), Hint("b", "type", "bind"), Hint("b", "share", "container")));
        var e = Assert.Throws<SpecException>(() => b.Plan());
        Assert.Equal("config.json: annotations: mount hints \"a\" and \"b\" have the same source \"/v\"", e.Message);
    }

    [Theory]
    [InlineData("dev.gvisor.spec.mount.a", "expected dev.gvisor.spec.mount.NAME.FIELD")]
    [InlineData("dev.gvisor.spec.mount.a.b.source", "expected dev.gvisor.spec.mount.NAME.FIELD")]
    [InlineData("dev.gvisor.spec.mount..source", "the name is empty")]
    public void Malformed_hint_keys_are_refused(string key, string reason)
    {
        using var b = new TempBundle().WithConfig("[]", $$"""{ "{{key}}": "x" }""");
        var e = Assert.Throws<SpecException>(() => b.Plan());
        Assert.StartsWith($"config.json: annotations[\"{key}\"]: invalid mount hint", e.Message);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("type", "overlay", "invalid type \"overlay\"")]
    [InlineData("share", "everyone", "invalid share \"everyone\"")]
    [InlineData("source", "", "source cannot be empty")]
    public void Invalid_required_field_drops_the_hint_with_warnings(string field, string value, string reason)
    {
        var fields = new Dictionary<string, string> { ["source"] = "/v", ["type"] = "tmpfs", ["share"] = "pod" };
        fields[field] = value;
        using var b = new TempBundle().WithConfig("[]", Annotations(fields.Select(kv => Hint("h", kv.Key, kv.Value)).ToArray()));
        var plan = b.Plan();
        Assert.Empty(plan.Hints);
        Assert.Contains(plan.Warnings, w => w.Contains(reason, StringComparison.Ordinal) && w.Contains($"dev.gvisor.spec.mount.h.{field}", StringComparison.Ordinal));
        Assert.Contains(plan.Warnings, w => w == $"mount hint \"h\": ignored because required field(s) are missing: {field}");
    }

    [Theory]
    [InlineData("lifecycle", "forever", "invalid lifecycle \"forever\"")]
    [InlineData("color", "blue", "unknown field \"color\"")]
    public void Invalid_optional_field_is_ignored_with_a_warning(string field, string value, string reason)
    {
        using var b = new TempBundle().WithConfig(
            "[]",
            Annotations(Hint("h", "source", "/v"), Hint("h", "type", "bind"), Hint("h", "share", "container"), Hint("h", field, value)));
        var plan = b.Plan();
        var hint = Assert.Single(plan.Hints);
        Assert.Equal(LifecycleType.Shared, hint.Lifecycle);
        Assert.Contains(plan.Warnings, w => w.Contains(reason, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("source")]
    [InlineData("type")]
    [InlineData("share")]
    public void Hint_missing_a_required_field_is_ignored_with_a_warning(string missing)
    {
        var fields = new Dictionary<string, string> { ["source"] = "/v", ["type"] = "bind", ["share"] = "container" };
        fields.Remove(missing);
        using var b = new TempBundle().WithConfig("[]", Annotations(fields.Select(kv => Hint("h", kv.Key, kv.Value)).ToArray()));
        var plan = b.Plan();
        Assert.Empty(plan.Hints);
        Assert.Equal(new[] { $"mount hint \"h\": ignored because required field(s) are missing: {missing}" }, plan.Warnings);
    }

    [Fact]
    public void Hint_options_keep_known_options_and_warn_about_others()
    {
        using var b = new TempBundle().WithConfig(
            "[]",
            Annotations(Hint("h", "source", "/v"), Hint("h", "type", "tmpfs"), Hint("h", "share", "pod"), Hint("h", "options", "ro,noexec,size=1m,bogus")));
        var plan = b.Plan();
        var hint = Assert.Single(plan.Hints);
        Assert.Equal(MountFlags.ReadOnly | MountFlags.NoExec, hint.Flags);
        Assert.Equal(new[] { "ro", "noexec", "size=1m" }, hint.Options);
        Assert.Contains("mount hint \"h\": ignoring unsupported option \"bogus\"", plan.Warnings);
    }

    [Fact]
    public void Other_annotations_are_left_alone()
    {
        using var b = new TempBundle().WithConfig("[]", """{ "io.kubernetes.cri.container-type": "sandbox", "dev.gvisor.spec.rootfs.overlay": "x" }""");
        var plan = b.Plan();
        Assert.Empty(plan.Hints);
        Assert.Empty(plan.Warnings);
    }

    [Fact]
    public void Bind_hint_on_a_tmpfs_mount_is_ignored_with_a_warning()
    {
        using var b = new TempBundle().WithConfig(
            """[ { "destination": "/t", "type": "tmpfs", "source": "/v" } ]""",
            Annotations(Hint("h", "source", "/v"), Hint("h", "type", "bind"), Hint("h", "share", "container")));
        var plan = b.Plan();
        Assert.Equal(MountKind.Tmpfs, plan.Mounts.Single(m => m.Destination == "/t").Kind);
        Assert.Contains(plan.Warnings, w => w.Contains("does not apply to a tmpfs mount", StringComparison.Ordinal));
    }
}
