using Gofer.Hardening;

namespace Gofer.Tests.Hardening;

public sealed class InRootPathTests
{
    [Fact]
    public void Plain_and_missing_destinations_stay_literal()
    {
        using var root = new TempDir();
        Directory.CreateDirectory(root.Combine("usr", "share"));
        Assert.Equal("usr/share", InRootPath.Resolve(root.Path, "/usr/share"));
        Assert.Equal("usr/share/new/deeper", InRootPath.Resolve(root.Path, "/usr//share/./new/deeper/"));
        Assert.Equal("usr/x", InRootPath.Resolve(root.Path, "/usr/share/missing/../../x"));
        Assert.Equal(string.Empty, InRootPath.Resolve(root.Path, "/"));
    }

    [Fact]
    public void Dotdot_stops_at_the_root()
    {
        using var root = new TempDir();
        Assert.Equal("etc", InRootPath.Resolve(root.Path, "/../../../etc"));
        Assert.Equal("a", InRootPath.Resolve(root.Path, "a/../../a"));
    }

    [Fact]
    public void Absolute_symlinks_resolve_inside_the_root_not_the_host()
    {
        using var root = new TempDir();
        Directory.CreateDirectory(root.Combine("real"));
        File.CreateSymbolicLink(root.Combine("data"), "/real");
        File.CreateSymbolicLink(root.Combine("hostetc"), "/etc");      // host /etc exists; the root's does not
        File.CreateSymbolicLink(root.Combine("escape"), "../../../../tmp");

        Assert.Equal("real/sub", InRootPath.Resolve(root.Path, "/data/sub"));
        Assert.Equal("etc/passwd", InRootPath.Resolve(root.Path, "/hostetc/passwd"));
        Assert.Equal("tmp/x", InRootPath.Resolve(root.Path, "/escape/x"));
    }

    [Fact]
    public void Relative_symlinks_chain_and_loops_fail()
    {
        using var root = new TempDir();
        Directory.CreateDirectory(root.Combine("var", "lib"));
        File.CreateSymbolicLink(root.Combine("var", "run"), "../run");
        Directory.CreateDirectory(root.Combine("run"));
        File.CreateSymbolicLink(root.Combine("run", "link"), "../var/lib");
        Assert.Equal("var/lib/x", InRootPath.Resolve(root.Path, "/var/run/link/x"));

        // Inside the root "/self" → "/self" is a loop, whatever the host has at that path.
        File.CreateSymbolicLink(root.Combine("self"), "/self");
        Assert.Equal(40, Assert.Throws<HardeningException>(() => InRootPath.Resolve(root.Path, "/self")).Errno);
        File.CreateSymbolicLink(root.Combine("loop1"), "/loop2");
        File.CreateSymbolicLink(root.Combine("loop2"), "/loop1");
        var error = Assert.Throws<HardeningException>(() => InRootPath.Resolve(root.Path, "/loop1/x"));
        Assert.Equal(40, error.Errno);
    }

    [Fact]
    public void A_file_in_the_middle_is_not_a_directory()
    {
        using var root = new TempDir();
        File.WriteAllText(root.Combine("file"), "x");
        Assert.Equal("file", InRootPath.Resolve(root.Path, "/file"));
        Assert.Equal(20, Assert.Throws<HardeningException>(() => InRootPath.Resolve(root.Path, "/file/below")).Errno);
    }
}
