using System.Text;
using Gofer.Cli.Shell;
using Gofer.Sandbox.Attach;
using Gofer.Sandbox.Vfs;
using Gofer.Spec;

namespace Gofer.Tests.Run;

/// <summary>
/// A temporary bundle (rootfs with /etc/passwd and /etc/group, a rw bind /work, a ro bind /data, a tmpfs hint
/// /scratch) attached into a mount namespace through the snapshot stand-in factory, and the interpreter over it.
/// </summary>
internal sealed class ShellHarness : IDisposable
{
    private ShellHarness(string dir, AttachedSandbox sandbox)
    {
        Dir = dir;
        Sandbox = sandbox;
    }

    public string Dir { get; }

    public AttachedSandbox Sandbox { get; }

    public MountNamespace Ns => Sandbox.Namespace;

    public static string WriteBundle(string dir, bool rootTmpNotEmpty = false)
    {
        void File(string rel, string text, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead)
        {
            var path = Path.Combine(dir, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            System.IO.File.WriteAllText(path, text);
            if (!OperatingSystem.IsWindows())
            {
                System.IO.File.SetUnixFileMode(path, mode);
            }
        }

        File("rootfs/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n");
        File("rootfs/etc/group", "root:x:0:\nusers:x:1000:\n");
        File("rootfs/home/user/hello.txt", "hello\n");
        File("rootfs/home/user/.hidden", "h\n");
        File("data-ro/readme.txt", "read me\n");
        File("work/notes.txt", "notes\n");
        if (rootTmpNotEmpty)
        {
            File("rootfs/tmp/keep", "k\n");
        }

        System.IO.File.WriteAllText(Path.Combine(dir, "config.json"), """
        {
          "ociVersion": "1.0.2",
          "root": { "path": "rootfs" },
          "mounts": [
            { "destination": "/work", "type": "bind", "source": "work", "options": [ "rbind", "rw" ] },
            { "destination": "/data", "type": "bind", "source": "data-ro", "options": [ "rbind", "ro", "nosuid", "nodev" ] },
            { "destination": "/scratch", "type": "bind", "source": "scratch", "options": [ "rbind", "rw" ] }
          ],
          "annotations": {
            "dev.gvisor.spec.mount.work.source": "work",
            "dev.gvisor.spec.mount.work.type": "bind",
            "dev.gvisor.spec.mount.work.share": "container",
            "dev.gvisor.spec.mount.scratch.source": "scratch",
            "dev.gvisor.spec.mount.scratch.type": "tmpfs",
            "dev.gvisor.spec.mount.scratch.share": "container"
          }
        }
        """);
        return dir;
    }

    public static async Task<ShellHarness> CreateAsync(bool rootTmpNotEmpty = false, PlanOptions? options = null)
    {
        var dir = Directory.CreateTempSubdirectory("gofer-run-").FullName;
        WriteBundle(dir, rootTmpNotEmpty);
        var plan = MountPlanner.ResolveDestinations(MountPlanner.Plan(dir, options));
        var sandbox = await SandboxAttacher.AttachAsync(plan, null, StandInFileSystems.SnapshotStandIn);
        return new ShellHarness(dir, sandbox);
    }

    public Task<Result> RunAsync(params string[] argv) => RunWithStdinAsync(string.Empty, argv);

    public async Task<Result> RunWithStdinAsync(string stdin, params string[] argv)
    {
        var stdout = new MemoryStream();
        var stderr = new StringWriter { NewLine = "\n" };
        var io = new ShellIo(stdout, stderr, new MemoryStream(Encoding.UTF8.GetBytes(stdin)), stdinIsTerminal: false);
        var shell = new SandboxShell(Ns, io);
        int status = await shell.RunAsync(argv);
        return new Result(status, Encoding.UTF8.GetString(stdout.ToArray()), stderr.ToString());
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal sealed record Result(int Status, string Out, string Err)
    {
        public string[] Lines => Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
