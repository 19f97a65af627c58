using System.IO.Pipelines;
using Gofer.HostFs;
using LopenFlags = P9.Protocol.Wire.LopenFlags;
using Gofer.Server;
using Microsoft.Extensions.Logging.Abstractions;
using P9.Protocol.Client;
using P9.Protocol.Framing;
using P9.Protocol.Wire;

namespace Gofer.Fuzz;

/// <summary>
/// Client target: the input is a server→client byte stream. A fake server answers each request P9Client sends with
/// the next chunk of the input (one frame by its size field; the rest of the input when the size is bad or runs
/// past the end) and closes the connection when the input runs out. A fixed script of calls (version, attach, walk,
/// getattr, open, read, readdir, readlink, statfs, xattrs, clunks) runs against it, one call at a time.
/// Checked: every call ends with its result, a <see cref="P9Exception"/> or a <see cref="P9ConnectionException"/> —
/// any other exception is a finding — and no caller is left waiting: a call not answered within a grace period gets
/// the connection closed under it and must then fail within the reply timeout; DisposeAsync must return too.
/// The corpus (fuzz/corpus/client) is this script's replies recorded from the real server (<see cref="RecordSeed"/>),
/// so mutations start from a conversation that gets through the whole script.
/// </summary>
public static class ClientTarget
{
    /// <summary>A call not answered by then means the fake server has nothing the client will accept (it ignored a
    /// chunk): the connection is closed under it. Only reached in that case, so it is not a timing assertion.</summary>
    public static TimeSpan Grace { get; set; } = TimeSpan.FromSeconds(2);

    public static void Run(ReadOnlySpan<byte> input) => RunAsync(input.ToArray()).GetAwaiter().GetResult();

    private static async Task RunAsync(byte[] input)
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        var fake = new FakeServer(toServer.Reader, toClient.Writer, input);
        var serverTask = Task.Run(fake.RunAsync);
        await Script(new DuplexPipe(toClient.Reader, toServer.Writer), fake.Close).ConfigureAwait(false);
        fake.Close();
        if (await Task.WhenAny(serverTask, Task.Delay(SessionTarget.ReplyTimeout)).ConfigureAwait(false) != serverTask)
            throw new FuzzFindingException("the client did not stop writing after it was disposed");
        await serverTask.ConfigureAwait(false);
    }

    /// <summary>The script run against the real server over a fresh <see cref="ExportTree"/>: what P9Client sent
    /// (a session seed) and what the server answered (a client seed).</summary>
    public static (byte[] Requests, byte[] Replies) RecordSeed()
    {
        string root = Path.Combine(Path.GetTempPath(), "gofer-fuzz-seed-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            string exportPath = ExportTree.Create(root);
            if (HostExport.TryOpen(exportPath, new HostExportOptions(), out var export) != Gofer.HostFs.Native.Errno.None || export is null)
                throw new InvalidOperationException("cannot open the export");
            using (export)
                return RecordSeedAsync(export).GetAwaiter().GetResult();
        }
        finally
        {
            ExportTree.Delete(root);
        }
    }

    private static async Task<(byte[], byte[])> RecordSeedAsync(HostExport export)
    {
        var clientOut = new Pipe();
        var serverIn = new Pipe();
        var serverOut = new Pipe();
        var clientIn = new Pipe();
        var session = new Session(new DuplexPipe(serverIn.Reader, serverOut.Writer), export, new ServerOptions(), NullLoggerFactory.Instance);
        var run = Task.Run(session.RunAsync);
        var requests = new MemoryStream();
        var replies = new MemoryStream();
        var teeIn = Task.Run(() => Tee(clientOut.Reader, serverIn.Writer, requests));
        var teeOut = Task.Run(() => Tee(serverOut.Reader, clientIn.Writer, replies));
        await Script(new DuplexPipe(clientIn.Reader, clientOut.Writer), static () => { }).ConfigureAwait(false);
        await teeIn.ConfigureAwait(false);
        await run.ConfigureAwait(false);
        await teeOut.ConfigureAwait(false);
        return (requests.ToArray(), replies.ToArray());
    }

    private static async Task Tee(PipeReader from, PipeWriter to, MemoryStream copy)
    {
        while (true)
        {
            var r = await from.ReadAsync().ConfigureAwait(false);
            foreach (var segment in r.Buffer)
            {
                copy.Write(segment.Span);
                await to.WriteAsync(segment).ConfigureAwait(false);
            }
            from.AdvanceTo(r.Buffer.End);
            if (r.IsCompleted)
                break;
        }
        await from.CompleteAsync().ConfigureAwait(false);
        await to.CompleteAsync().ConfigureAwait(false);
    }

    private static async Task Script(IDuplexPipe pipe, Action closeConnection)
    {
        var client = await Call("connect", () => new ValueTask<P9Client>(P9Client.ConnectAsync(pipe, new P9ClientOptions { MaxMessageSize = 65536 })), closeConnection).ConfigureAwait(false);
        if (client is null)
            return;
        await Steps(client, closeConnection).ConfigureAwait(false);
        var dispose = client.DisposeAsync().AsTask();
        if (await Task.WhenAny(dispose, Task.Delay(SessionTarget.ReplyTimeout)).ConfigureAwait(false) != dispose)
            throw new FuzzFindingException("P9Client.DisposeAsync did not return");
        await dispose.ConfigureAwait(false);
    }

    private static async Task Steps(P9Client client, Action closeConnection)
    {
        {
            var root = await Call("attach", () => client.AttachAsync("root", ""), closeConnection).ConfigureAwait(false);
            if (root is null)
                return;
            var file = await Call("walk", () => root.WalkAsync("hello.txt"), closeConnection).ConfigureAwait(false);
            if (file is not null)
            {
                await Call("getattr", () => Wrap(file.GetAttrAsync(GetattrMask.All)), closeConnection).ConfigureAwait(false);
                await Call("open", () => Wrap(file.OpenAsync(LopenFlags.ReadOnly)), closeConnection).ConfigureAwait(false);
                await Call("read", () => Wrap(file.ReadAsync(0, new byte[4096])), closeConnection).ConfigureAwait(false);
                await Call("listxattr", () => file.ListXattrsAsync(), closeConnection).ConfigureAwait(false);
                await Call("clunk", () => Wrap(file.ClunkAsync()), closeConnection).ConfigureAwait(false);
            }
            var dir = await Call("walk", () => root.WalkAsync("sub"), closeConnection).ConfigureAwait(false);
            if (dir is not null)
            {
                await Call("open dir", () => Wrap(dir.OpenAsync(LopenFlags.ReadOnly | LopenFlags.Directory)), closeConnection).ConfigureAwait(false);
                await Call("readdir", () => Wrap(dir.ReadDirAllAsync()), closeConnection).ConfigureAwait(false);
                await Call("clunk", () => Wrap(dir.ClunkAsync()), closeConnection).ConfigureAwait(false);
            }
            var link = await Call("walk", () => root.WalkAsync("link-in"), closeConnection).ConfigureAwait(false);
            if (link is not null)
            {
                await Call("readlink", () => link.ReadLinkAsync(), closeConnection).ConfigureAwait(false);
                await Call("clunk", () => Wrap(link.ClunkAsync()), closeConnection).ConfigureAwait(false);
            }
            await Call("statfs", () => Wrap(root.StatFsAsync()), closeConnection).ConfigureAwait(false);
            await Call("walk missing", () => root.WalkAsync("sub", "nope"), closeConnection).ConfigureAwait(false);
            await Call("clunk", () => Wrap(root.ClunkAsync()), closeConnection).ConfigureAwait(false);
        }
    }

    private static async ValueTask<object?> Wrap<T>(ValueTask<T> call) => await call.ConfigureAwait(false);

    private static async ValueTask<object?> Wrap(ValueTask call)
    {
        await call.ConfigureAwait(false);
        return null;
    }

    /// <summary>Runs one call to its end; null when it failed the allowed way (P9Exception, P9ConnectionException).</summary>
    private static async Task<T?> Call<T>(string what, Func<ValueTask<T>> call, Action closeConnection)
        where T : class?
    {
        var task = call().AsTask();
        if (await Task.WhenAny(task, Task.Delay(Grace)).ConfigureAwait(false) != task)
        {
            closeConnection();
            if (await Task.WhenAny(task, Task.Delay(SessionTarget.ReplyTimeout)).ConfigureAwait(false) != task)
                throw new FuzzFindingException($"{what}: the caller is still waiting {SessionTarget.ReplyTimeout.TotalSeconds:0} s after the connection closed");
        }
        try
        {
            return await task.ConfigureAwait(false);
        }
        catch (P9Exception)
        {
            return null;
        }
        catch (P9ConnectionException)
        {
            return null;
        }
    }

    /// <summary>Answers each request with the next chunk of the input; closes when the input runs out or on Close.</summary>
    private sealed class FakeServer(PipeReader requests, PipeWriter replies, byte[] input)
    {
        private volatile bool _closed;

        public void Close()
        {
            _closed = true;
            requests.CancelPendingRead();
        }

        public async Task RunAsync()
        {
            var frames = new P9FrameReader(requests, 64 * 1024 * 1024);
            int position = 0;
            try
            {
                while (!_closed && position < input.Length)
                {
                    var r = await frames.ReadAsync().ConfigureAwait(false);
                    if (r.Status != P9ReadStatus.Frame)
                        break;
                    frames.Release();
                    if (_closed)
                        break;
                    int length = NextChunk(input.AsSpan(position));
                    await replies.WriteAsync(input.AsMemory(position, length)).ConfigureAwait(false);
                    position += length;
                }
            }
            finally
            {
                await replies.CompleteAsync().ConfigureAwait(false);
                // Keep draining what the client writes so its writer never blocks on a full pipe.
                await requests.CompleteAsync().ConfigureAwait(false);
            }
        }

        private static int NextChunk(ReadOnlySpan<byte> rest)
        {
            if (rest.Length < 4)
                return rest.Length;
            uint size = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(rest);
            return size < P9Constants.HeaderSize || size > (uint)rest.Length ? rest.Length : (int)size;
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
