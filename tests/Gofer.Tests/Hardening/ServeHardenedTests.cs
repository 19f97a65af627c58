using System.Text;
using Gofer.Runtime;
using P9.Protocol.Client;
using P9.Protocol.Wire;

namespace Gofer.Tests.Hardening;

/// <summary>
/// <c>gofer serve --hardened --root EXPORT --io-fds 3</c> as the runtime would start it (ProcessSpawner, a socketpair
/// at FD 3): the confined server answers over the inherited FD, nothing outside the export is reachable through it,
/// and the whole process tree exits once the connection closes.
/// </summary>
public sealed class ServeHardenedTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private const uint ENOENT = 2;

    [RootFact]
    public async Task Hardened_serve_answers_over_its_inherited_fd_and_nothing_outside_the_export_is_reachable()
    {
        using var top = new TempDir();
        string export = Path.Combine(top.Path, "export");
        string outside = Path.Combine(top.Path, "outside");
        Directory.CreateDirectory(export);
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(export, "inside.txt"), "inside\n");
        File.WriteAllText(Path.Combine(outside, "canary.txt"), "canary: must never be served\n");
        // An absolute symlink out of the export, and a relative one climbing out of it.
        File.CreateSymbolicLink(Path.Combine(export, "escape"), outside);
        File.CreateSymbolicLink(Path.Combine(export, "climb"), "../outside");

        var command = GoferCommand.Current();
        var (ours, theirs) = Descriptors.CreateSocketPair();
        ChildProcess gofer;
        using (theirs)
        {
            gofer = ProcessSpawner.Spawn(new SpawnOptions
            {
                FileName = command.FileName,
                Arguments = [.. command.PrefixArguments, "serve", "--hardened", "--root", export, "--io-fds", "3"],
                InheritedFds = [theirs],
            });
        }

        await using (gofer)
        {
            await using (var client = await P9Client.ConnectAsync(P9SocketPipe.Create(ours.ToSocket())).WaitAsync(Patience))
            {
                await using var root = await client.AttachAsync("root", string.Empty, 0).AsTask().WaitAsync(Patience);

                await using (var inside = await root.WalkAsync("inside.txt"))
                {
                    await inside.OpenAsync(LopenFlags.ReadOnly);
                    Assert.Equal("inside\n", Encoding.UTF8.GetString(await inside.ReadAllAsync()));
                }

                // ".." at the export root stays at the root: the same directory, and no way to the sibling.
                await using (var up = await root.WalkAsync(".."))
                {
                    Assert.Equal(root.Qid.Path, up.Qid.Path);
                }

                var walkOut = await Assert.ThrowsAsync<P9Exception>(async () => await root.WalkAsync("..", "outside", "canary.txt"));
                Assert.Equal(ENOENT, walkOut.Errno);

                // Symlinks are served as links (their text), never followed by the server.
                foreach (var link in new[] { "escape", "climb" })
                {
                    await Assert.ThrowsAsync<P9Exception>(async () => await root.WalkAsync(link, "canary.txt"));
                    await using var linkFid = await root.WalkAsync(link);
                    Assert.Equal(QidType.Symlink, linkFid.Qid.Type & QidType.Symlink);
                    await Assert.ThrowsAsync<P9Exception>(async () => await linkFid.OpenAsync(LopenFlags.ReadOnly));
                }
            }

            // The only connection closed: the confined server and its supervisor exit 0.
            var status = await gofer.Exited.WaitAsync(Patience);
            Assert.True(status.Success, "gofer serve --hardened: " + status);
        }
    }

    [Fact]
    public async Task Hardened_with_listen_is_refused_with_a_reason()
    {
        var command = GoferCommand.Current();
        using var top = new TempDir();
        var start = new System.Diagnostics.ProcessStartInfo(command.FileName) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in command.PrefixArguments.Concat(["serve", "--hardened", "--root", top.Path, "--listen", "unix:" + Path.Combine(top.Path, "s")]))
        {
            start.ArgumentList.Add(arg);
        }

        using (var gofer = System.Diagnostics.Process.Start(start)!)
        {
            string text = await gofer.StandardError.ReadToEndAsync().WaitAsync(Patience);
            await gofer.WaitForExitAsync().WaitAsync(Patience);
            Assert.Equal(2, gofer.ExitCode);
            Assert.Contains("network namespace", text, StringComparison.Ordinal);
        }
    }
}
