using System.Text;
using Gofer.Recording;
using Gofer.Runtime;
using P9.Protocol.Client;
using P9.Protocol.Wire;

namespace Gofer.Tests.Recording;

/// <summary>
/// The end-to-end check for recorded traffic: a real <c>gofer serve --record</c> process serves a real
/// session (driven by our P9Client over an inherited socketpair), and the capture it wrote decodes to the same
/// message sequence with our reader, <c>gofer trace</c> and tshark.
/// </summary>
public sealed class ServeRecordEndToEndTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    [TsharkFact]
    public async Task A_recorded_serve_session_decodes_the_same_with_gofer_trace_and_tshark()
    {
        using var export = new TempDir();
        using var records = new TempDir();
        File.WriteAllText(Path.Combine(export.Path, "hello.txt"), "hello from the host\n");

        var command = GoferCommand.Current();
        var (ours, theirs) = Descriptors.CreateSocketPair();
        ChildProcess gofer;
        using (theirs)
        {
            gofer = ProcessSpawner.Spawn(new SpawnOptions
            {
                FileName = command.FileName,
                Arguments = [.. command.PrefixArguments, "serve", "--root", export.Path, "--io-fds", "3", "--record", records.Path],
                InheritedFds = [theirs],
            });
        }

        await using (gofer)
        {
            var written = Encoding.UTF8.GetBytes("written through 9P\n");
            await using (var client = await P9Client.ConnectAsync(P9SocketPipe.Create(ours.ToSocket())).WaitAsync(Patience))
            {
                await using var root = await client.AttachAsync("root", string.Empty, 0).AsTask().WaitAsync(Patience);
                await using (var hello = await root.WalkAsync("hello.txt"))
                {
                    await hello.OpenAsync(LopenFlags.ReadOnly);
                    Assert.Equal("hello from the host\n", Encoding.UTF8.GetString(await hello.ReadAllAsync()));
                    Assert.Equal(20ul, (await hello.GetAttrAsync()).Size);
                }

                await using (var dir = await root.CloneAsync())
                {
                    await using var created = await dir.CreateAsync("new.txt", LopenFlags.ReadWrite, 0x1a4);
                    Assert.Equal(written.Length, await created.WriteAsync(0, written));
                    var back = new byte[64];
                    Assert.Equal(written.Length, await created.ReadAsync(0, back));
                }

                await using (var listing = await root.CloneAsync())
                {
                    await listing.OpenAsync(LopenFlags.ReadOnly | LopenFlags.Directory);
                    var names = (await listing.ReadDirAllAsync()).Select(e => e.Name).ToList();
                    Assert.Contains("hello.txt", names);
                    Assert.Contains("new.txt", names);
                }
            }

            // The only connection closed: serve --io-fds exits 0, and only then are the captures complete.
            var status = await gofer.Exited.WaitAsync(Patience);
            Assert.True(status.Success, "gofer serve: " + status);
        }

        Assert.Equal("written through 9P\n", File.ReadAllText(Path.Combine(export.Path, "new.txt")));
        string capture = Assert.Single(Directory.GetFiles(records.Path));
        int messages = TsharkAgreement.AssertSameDecode(capture);

        // Every operation of the session is in the capture, requests and replies, each exactly once
        // (a PipeReader re-presents unconsumed bytes: recording them twice would break the framing above).
        var frames = P9CaptureReader.Read(capture, new P9CaptureReaderOptions()).Frames;
        Assert.Equal(messages, frames.Count);
        var types = frames.Select(f => P9MessageTypes.Name(f.Type)).ToList();
        foreach (var name in new[] { "Tversion", "Rversion", "Tattach", "Rattach", "Twalk", "Rwalk", "Tlopen", "Tread", "Rread", "Tgetattr", "Rgetattr", "Tlcreate", "Rlcreate", "Twrite", "Rwrite", "Treaddir", "Rreaddir", "Tclunk", "Rclunk" })
        {
            Assert.Contains(name, types);
        }

        Assert.Equal(frames.Count(f => f.Type % 2 == 0), frames.Count(f => f.Type % 2 == 1)); // every request answered
    }
}
