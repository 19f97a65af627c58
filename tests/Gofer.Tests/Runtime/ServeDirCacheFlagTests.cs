using Gofer.Cli;
using Gofer.Runtime;
using P9.Protocol.Client;
using P9.Protocol.Wire;

namespace Gofer.Tests.Runtime;

/// <summary><c>gofer serve --no-dir-cache</c>: parsed, accepted by a real serve process, and listings stay right either way.</summary>
public sealed class ServeDirCacheFlagTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    [Fact]
    public void The_flag_is_an_option_of_serve_and_off_by_default()
    {
        var serve = ServeCommand.Create();
        var with = serve.Parse(["--root", "/tmp", "--listen", "unix:/tmp/x.sock", "--no-dir-cache"]);
        Assert.Empty(with.Errors);
        Assert.True(with.GetValue<bool>("--no-dir-cache"));
        var without = serve.Parse(["--root", "/tmp", "--listen", "unix:/tmp/x.sock"]);
        Assert.Empty(without.Errors);
        Assert.False(without.GetValue<bool>("--no-dir-cache"));
    }

    [Fact]
    public void No_walk_cache_is_an_option_of_serve_and_reaches_the_export_options()
    {
        var serve = ServeCommand.Create();
        var with = serve.Parse(["--root", "/tmp", "--listen", "unix:/tmp/x.sock", "--no-walk-cache"]);
        Assert.Empty(with.Errors);
        Assert.True(with.GetValue<bool>("--no-walk-cache"));
        Assert.False(serve.Parse(["--root", "/tmp", "--listen", "unix:/tmp/x.sock"]).GetValue<bool>("--no-walk-cache"));
        var settings = new ServeCommand.Settings("/tmp", false, null, [], false, Microsoft.Extensions.Logging.LogLevel.Warning, false, 0, null, null, null, null, null, false, [], NoWalkCache: true);
        Assert.False(settings.ExportOptions(readOnly: false).WalkCache);
        Assert.True((settings with { NoWalkCache = false }).ExportOptions(readOnly: false).WalkCache);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_real_serve_lists_every_host_change_with_and_without_the_cache(bool noDirCache)
    {
        string root = Directory.CreateTempSubdirectory("gofer-dircache-").FullName;
        try
        {
            for (int i = 0; i < 50; i++)
                File.WriteAllText(Path.Combine(root, $"f{i:D2}"), "");
            var command = GoferCommand.Current();
            var (ours, theirs) = Descriptors.CreateSocketPair();
            ChildProcess gofer;
            using (theirs)
            {
                string[] flag = noDirCache ? ["--no-dir-cache"] : [];
                gofer = ProcessSpawner.Spawn(new SpawnOptions
                {
                    FileName = command.FileName,
                    Arguments = [.. command.PrefixArguments, "serve", "--root", root, "--io-fds", "3", .. flag],
                    InheritedFds = [theirs],
                });
            }

            await using (gofer)
            {
                await using (var client = await P9Client.ConnectAsync(P9SocketPipe.Create(ours.ToSocket())).WaitAsync(Patience))
                {
                    await using var attach = await client.AttachAsync("root", string.Empty, 0).AsTask().WaitAsync(Patience);
                    await using var dir = await attach.CloneAsync();
                    await dir.OpenAsync(LopenFlags.ReadOnly | LopenFlags.Directory);
                    for (int round = 0; round < 5; round++)
                    {
                        var names = (await dir.ReadDirAllAsync()).Select(e => e.Name).Order(StringComparer.Ordinal).ToList();
                        var expected = Directory.GetFileSystemEntries(root).Select(p => Path.GetFileName(p)!).Append(".").Append("..")
                            .Order(StringComparer.Ordinal).ToList();
                        Assert.Equal(expected, names);
                        Assert.Equal(names, (await dir.ReadDirAllAsync()).Select(e => e.Name).Order(StringComparer.Ordinal).ToList());
                        File.WriteAllText(Path.Combine(root, $"late{round}"), "");
                        File.Delete(Path.Combine(root, $"f{round:D2}"));
                    }
                }

                var status = await gofer.Exited.WaitAsync(Patience);
                Assert.True(status.Success, "gofer serve: " + status);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
