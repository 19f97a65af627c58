using Gofer.Spec;

namespace Gofer.Tests.Spec;

public sealed class BundleTests
{
    private static SpecException Bad(string json)
    {
        using var b = new TempBundle();
        return Assert.Throws<SpecException>(() => OciBundle.Parse(b.Directory, json));
    }

    [Fact]
    public void Relative_destination_names_the_field()
    {
        var e = Bad("""{ "root": { "path": "rootfs" }, "mounts": [ { "destination": "/a", "type": "tmpfs" }, { "destination": "/b", "type": "tmpfs" }, { "destination": "data", "type": "bind", "source": "x" } ] }""");
        Assert.Equal("config.json: mounts[2].destination: must be an absolute path (got \"data\")", e.Message);
        Assert.Equal("mounts[2].destination", e.Field);
    }

    [Theory]
    [InlineData("""{ "mounts": [] }""", "config.json: root: is required")]
    [InlineData("""{ "root": { } }""", "config.json: root.path: is required and must not be empty")]
    [InlineData("""{ "root": { "path": "" } }""", "config.json: root.path: is required and must not be empty")]
    [InlineData("""{ "root": { "path": "r" }, "mounts": [ null ] }""", "config.json: mounts[0]: must be an object, not null")]
    [InlineData("""{ "root": { "path": "r" }, "mounts": [ { "type": "tmpfs" } ] }""", "config.json: mounts[0].destination: is required and must not be empty")]
    [InlineData("""{ "root": { "path": "r" }, "mounts": [ { "destination": "/x", "options": [ "ro", null ] } ] }""", "config.json: mounts[0].options[1]: must be a string, not null")]
    [InlineData("""{ "root": { "path": "r" }, "mounts": [ { "destination": "/x\u0000y" } ] }""", "config.json: mounts[0].destination: must not contain a NUL character")]
    [InlineData("""{ "root": { "path": "r" }, "annotations": { "k": null } }""", "config.json: annotations[\"k\"]: must be a string, not null")]
    [InlineData("null", "config.json: (document): must be a JSON object")]
    public void Bad_fields_are_named(string json, string message) => Assert.Equal(message, Bad(json).Message);

    [Fact]
    public void Wrong_json_type_names_the_path()
    {
        var e = Bad("""{ "root": { "path": "r" }, "mounts": [ { "destination": 5 } ] }""");
        Assert.StartsWith("config.json: mounts[0].destination: invalid JSON", e.Message);
    }

    [Fact]
    public void Broken_json_is_an_error_not_a_crash()
    {
        var e = Bad("""{ "root": { "path": "r" }, "mounts": [ """);
        Assert.StartsWith("config.json: ", e.Message);
        Assert.Contains("invalid JSON", e.Message);
    }

    [Fact]
    public void Missing_config_is_an_error()
    {
        using var b = new TempBundle();
        var e = Assert.Throws<SpecException>(() => OciBundle.Load(b.Directory));
        Assert.StartsWith("config.json: cannot read", e.Message);
    }

    [Fact]
    public void Relative_root_and_sources_resolve_against_the_bundle()
    {
        using var b = new TempBundle();
        var bundle = OciBundle.Parse(b.Directory, """{ "root": { "path": "rootfs" }, "unknownField": [1,2], "process": { "args": ["sh"] } }""");
        Assert.Equal(b.RootPath, bundle.RootPath);
        Assert.Equal(b.PathOf("data"), bundle.ResolveHostPath("data"));
        Assert.Equal("/abs/x", bundle.ResolveHostPath("/abs/x"));
    }

    [Fact]
    public void Missing_rootfs_is_refused_before_anything_starts()
    {
        using var b = new TempBundle().WithConfig();
        Directory.Delete(b.RootPath);
        var e = Assert.Throws<SpecException>(() => b.Plan());
        Assert.StartsWith("config.json: root.path: ", e.Message);
    }

    [Fact]
    public void Missing_bind_source_names_the_field()
    {
        using var b = new TempBundle().WithConfig("""[ { "destination": "/d", "type": "bind", "source": "nope" } ]""");
        var e = Assert.Throws<SpecException>(() => b.Plan());
        Assert.Equal($"config.json: mounts[0].source: {b.PathOf("nope")} does not exist", e.Message);
    }

    [Fact]
    public void Bind_without_source_is_refused()
    {
        using var b = new TempBundle().WithConfig("""[ { "destination": "/d", "type": "bind" } ]""");
        var e = Assert.Throws<SpecException>(() => b.Plan());
        Assert.Equal("config.json: mounts[0].source: a bind mount needs a source", e.Message);
    }
}
