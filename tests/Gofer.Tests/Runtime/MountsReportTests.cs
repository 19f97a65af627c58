using System.Text;
using Gofer.Runtime;
using Gofer.Runtime.Native;
using Gofer.Spec;
using Gofer.Tests.Spec;

namespace Gofer.Tests.Runtime;

public sealed class MountsReportTests
{
    private static readonly ResolvedMount[] Sample =
    [
        new(0, "/", "/", "/b/rootfs", false),
        new(1, "/da ta", "/srv/da ta", "/host/100%/é\t", true),
    ];

    [Fact]
    public void Round_trips_with_escaped_paths()
    {
        var bytes = MountsReport.Format(Sample);
        var text = Encoding.UTF8.GetString(bytes);
        Assert.Equal("gofer-mounts 1\nmount 0 rw / / /b/rootfs\nmount 1 ro /da%20ta /srv/da%20ta /host/100%25/%C3%A9%09\nend 2\n", text);
        Assert.Equal(Sample, MountsReport.Parse(bytes));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("gofer-mounts 1\nmount 0 rw / / /r\n", "no end line")]
    [InlineData("gofer-mounts 1\nmount 0 rw / / /r\nend 1", "no final newline")]
    [InlineData("gofer-mounts 2\nend 0\n", "line 1")]
    [InlineData("gofer-mounts 1\nmount 1 rw / / /r\nend 1\n", "index must be 0")]
    [InlineData("gofer-mounts 1\nmount 0 rx / / /r\nend 1\n", "access must be ro or rw")]
    [InlineData("gofer-mounts 1\nmount 0 rw / /\nend 1\n", "expected \"mount INDEX")]
    [InlineData("gofer-mounts 1\nmount 0 rw / / /r\nend 2\n", "end count")]
    [InlineData("gofer-mounts 1\nend 0\nmount 0 rw / / /r\n", "data after the end line")]
    [InlineData("gofer-mounts 1\nmount 0 rw /%4 / /r\nend 1\n", "incomplete %XX")]
    [InlineData("gofer-mounts 1\nmount 0 rw /%zz / /r\nend 1\n", "bad %XX")]
    [InlineData("gofer-mounts 1\nmount 0 rw /%FF / /r\nend 1\n", "not valid UTF-8")]
    [InlineData("gofer-mounts 1\nmount 0 rw / / \nend 1\n", "empty field")]
    [InlineData("gofer-mounts 1\nmount -1 rw / / /r\nend 1\n", "index must be 0")]
    public void Bad_reports_are_typed_errors(string text, string reason)
    {
        var e = Assert.Throws<MountsReportException>(() => MountsReport.Parse(Encoding.UTF8.GetBytes(text)));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_report_is_refused()
    {
        var e = Assert.Throws<MountsReportException>(() => MountsReport.Parse(new byte[MountsReport.MaxBytes + 1]));
        Assert.Contains("larger than", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Disagreement_prints_both_views()
    {
        var gofer = new[] { Sample[0], Sample[1] with { ResolvedDestination = "/elsewhere" } };
        var message = MountsReport.Compare(Sample, gofer);
        Assert.NotNull(message);
        Assert.Contains("runtime:\n  fd[0] / -> / from /b/rootfs (rw)\n  fd[1] /da ta -> /srv/da ta", message, StringComparison.Ordinal);
        Assert.Contains("gofer:\n  fd[0] / -> / from /b/rootfs (rw)\n  fd[1] /da ta -> /elsewhere", message, StringComparison.Ordinal);
        Assert.Null(MountsReport.Compare(Sample, Sample.ToArray()));
    }

    [Fact]
    public void Serve_side_resolver_pairs_fds_with_mounts_and_reports_what_the_runtime_expects()
    {
        using var b = new TempBundle("ro", "rw");
        Directory.CreateDirectory(Path.Combine(b.RootPath, "srv"));
        File.CreateSymbolicLink(Path.Combine(b.RootPath, "data"), "/srv");
        b.WithConfig("""
            [ { "destination": "/w", "type": "bind", "source": "rw" },
              { "destination": "/data/ro", "type": "bind", "source": "ro", "options": ["ro", "noexec"] } ]
            """);

        var served = GoferBundle.Resolve(b.Directory, [7, 9, 8]);
        Assert.Equal(new[] { 7, 9, 8 }, served.Mounts.Select(m => m.Fd).ToArray());
        Assert.Equal(new[] { b.RootPath, b.PathOf("rw"), b.PathOf("ro") }, served.Mounts.Select(m => m.Root).ToArray());
        Assert.Equal(new[] { false, false, true }, served.Mounts.Select(m => m.ReadOnly).ToArray());
        Assert.Equal(MountFlags.ReadOnly | MountFlags.NoExec, served.Mounts[2].Flags);
        Assert.Equal("/srv/ro", served.Mounts[2].ResolvedDestination);

        // Through a real pipe, as serve will do it.
        var (r, w) = Descriptors.CreatePipe();
        using (r)
        {
            var fd = w.Fd;
            w.SetHandleAsInvalid();
            served.WriteReport(fd);
            var read = MountsReport.Parse(MountsReportIo.ReadToEnd(r));
            var runtime = ResolvedMount.FromPlan(MountPlanner.ResolveDestinations(MountPlanner.Plan(b.Directory)));
            Assert.Null(MountsReport.Compare(runtime, read));
        }
    }

    [Fact]
    public void Serve_side_resolver_refuses_a_wrong_fd_count()
    {
        using var b = new TempBundle("d").WithConfig("""[ { "destination": "/d", "type": "bind", "source": "d" } ]""");
        var e = Assert.Throws<SpecException>(() => GoferBundle.Resolve(b.Directory, [3, 4, 5]));
        Assert.Equal("--io-fds: 3 FD(s) given but the bundle has 2 gofer mount(s): /, /d", e.Message);
        Assert.Throws<SpecException>(() => GoferBundle.Resolve(b.Directory, [3]));
    }

    [Theory]
    [InlineData("3,4,5", new[] { 3, 4, 5 })]
    [InlineData("10", new[] { 10 })]
    public void Fd_lists_parse(string text, int[] expected) => Assert.Equal(expected, GoferBundle.ParseFdList(text));

    [Theory]
    [InlineData("")]
    [InlineData("3,,4")]
    [InlineData("3,x")]
    [InlineData("-1")]
    [InlineData("3,3")]
    [InlineData("99999999999")]
    public void Bad_fd_lists_are_refused(string text) => Assert.Throws<SpecException>(() => GoferBundle.ParseFdList(text));
}

public sealed class PrepareServeTests
{
    [Fact]
    public void Prepare_serve_parses_options_and_writes_the_report()
    {
        using var b = new TempBundle("d").WithConfig("""[ { "destination": "/d", "type": "bind", "source": "d" } ]""");
        var (r, w) = Descriptors.CreatePipe();
        using (r)
        {
            var fd = w.Fd;
            w.SetHandleAsInvalid();
            var served = GoferBundle.PrepareServe(b.Directory, "3,4", fd, "all:memory", "exclusive");
            Assert.Equal(new[] { true, true }, served.Mounts.Select(m => m.ReadOnly).ToArray());
            var report = MountsReport.Parse(MountsReportIo.ReadToEnd(r));
            Assert.Equal(new[] { "/", "/d" }, report.Select(m => m.Destination).ToArray());
            Assert.All(report, m => Assert.True(m.ReadOnly));
        }
    }

    [Fact]
    public void Prepare_serve_refuses_bad_options()
    {
        using var b = new TempBundle().WithConfig();
        Assert.Contains("--file-access both", Assert.Throws<SpecException>(() => GoferBundle.PrepareServe(b.Directory, "3", null, null, "both")).Message, StringComparison.Ordinal);
        Assert.Contains("--overlay2 root:self", Assert.Throws<SpecException>(() => GoferBundle.PrepareServe(b.Directory, "3", null, "root:self")).Message, StringComparison.Ordinal);
        Assert.Contains("--io-fds", Assert.Throws<SpecException>(() => GoferBundle.PrepareServe(b.Directory, "3,4")).Message, StringComparison.Ordinal);
    }
}
