using System.Net.Sockets;
using System.Text;
using Gofer.Cli.Shell;
using Gofer.HostFs;
using Gofer.Runtime;
using Gofer.Sandbox.Attach;
using Gofer.Server;
using Gofer.Spec;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gofer.Tests.Run;

/// <summary>
/// The attach path with the real parts in one process: the plan's gofer mounts served by <see cref="GoferServer"/>
/// over socket pairs (what `gofer serve --bundle` will do in the gofer process), attached with the gofer
/// filesystem through <see cref="GoferFileSystems.Default"/>, driven by the interpreter.
/// </summary>
public sealed class GoferAttachTests : IAsyncLifetime, IDisposable
{
    private readonly GoferServer _server = new(new ServerOptions(), NullLoggerFactory.Instance);
    private readonly List<Task> _sessions = [];
    private string _dir = string.Empty;
    private AttachedSandbox? _sandbox;

    public async Task InitializeAsync()
    {
        _dir = ShellHarness.WriteBundle(Directory.CreateTempSubdirectory("gofer-run-gofer-").FullName);
        var plan = MountPlanner.ResolveDestinations(MountPlanner.Plan(_dir));
        var sockets = new List<Socket?>();
        foreach (var m in plan.GoferMounts)
        {
            var (sandboxEnd, goferEnd) = Descriptors.CreateSocketPair();
            Assert.Equal(Gofer.HostFs.Native.Errno.None, HostExport.TryOpen(m.Source!, new HostExportOptions { ReadOnly = m.GoferReadOnly }, out var export));
            _sessions.Add(_server.ServeSocketAsync(goferEnd.ToSocket(), export!, "fd" + m.GoferIndex));
            sockets.Add(sandboxEnd.ToSocket());
        }

        _sandbox = await SandboxAttacher.AttachAsync(plan, sockets, GoferFileSystems.Default);
    }

    public async Task DisposeAsync()
    {
        if (_sandbox is not null)
        {
            await _sandbox.DisposeAsync();
        }

        _server.Shutdown("test over");
        await Task.WhenAll(_sessions).WaitAsync(TimeSpan.FromMinutes(1));
        Directory.Delete(_dir, true);
    }

    public void Dispose() => _server.Dispose();

    private async Task<(int Status, string Out, string Err)> RunAsync(params string[] argv)
    {
        var stdout = new MemoryStream();
        var stderr = new StringWriter { NewLine = "\n" };
        var shell = new SandboxShell(_sandbox!.Namespace, new ShellIo(stdout, stderr, new MemoryStream(), false));
        int status = await shell.RunAsync(argv);
        return (status, Encoding.UTF8.GetString(stdout.ToArray()), stderr.ToString());
    }

    [Fact]
    public async Task MountTable_ShowsNinePMountsWithFdsAndCachePolicies()
    {
        var r = await RunAsync("mounts");
        Assert.Matches(@"(?m)^/ +9p +\S+/rootfs +0 +exclusive +rw$", r.Out);
        Assert.Matches(@"(?m)^/work +9p +\S+/work +1 +exclusive +rw$", r.Out);
        Assert.Matches(@"(?m)^/data +9p +\S+/data-ro +2 +remote_revalidating +ro,nosuid,nodev$", r.Out);
    }

    [Fact]
    public async Task WritesToTheReadWriteBind_LandOnTheHost()
    {
        Assert.Equal(0, (await RunAsync("write", "/work/new.txt", "made", "inside")).Status);
        Assert.Equal("made inside\n", await File.ReadAllTextAsync(Path.Combine(_dir, "work", "new.txt")));
        Assert.Equal("hello\n", (await RunAsync("cat", "/home/user/hello.txt")).Out);
    }

    [Fact]
    public async Task ReadOnlyBind_RefusesWrites()
    {
        var r = await RunAsync("write", "/data/x", "text");
        Assert.Equal((1, "write: cannot create '/data/x': Read-only file system\n"), (r.Status, r.Err));
        Assert.False(File.Exists(Path.Combine(_dir, "data-ro", "x")));
    }

    [Fact]
    public async Task HostChanges_ShowUnderTheRemoteRevalidatingBind()
    {
        Assert.Equal("read me\n", (await RunAsync("cat", "/data/readme.txt")).Out);
        await File.WriteAllTextAsync(Path.Combine(_dir, "data-ro", "readme.txt"), "changed on the host\n");
        await File.WriteAllTextAsync(Path.Combine(_dir, "data-ro", "added.txt"), "new\n");
        Assert.Equal("changed on the host\nnew\n", (await RunAsync("cat", "/data/readme.txt", "/data/added.txt")).Out);
        Assert.Equal("added.txt\nreadme.txt\n", (await RunAsync("ls", "/data")).Out);
    }

    [Fact]
    public async Task Stats_CountTheRpcsOfEachMount()
    {
        await RunAsync("cat", "/work/notes.txt");
        var text = Cli.RunCommand.FormatStats([(string.Empty, _sandbox!)]);
        Assert.Matches(@"/work \(fd 1, exclusive\): [1-9]\d* RPCs", text);
        Assert.Contains("Tread", text, StringComparison.Ordinal);
    }
}
