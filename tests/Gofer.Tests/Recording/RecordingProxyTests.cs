using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Gofer.Recording;

namespace Gofer.Tests.Recording;

/// <summary>A fact skipped, saying why, unless diod, diodcat and tshark are installed (scripts/deps.sh installs them).</summary>
public sealed class DiodFactAttribute : FactAttribute
{
    public DiodFactAttribute()
    {
        if (!File.Exists(RecordingProxyTests.Diod) || !File.Exists(RecordingProxyTests.DiodCat) || !Tshark.Available)
        {
            Skip = "diod, diodcat or tshark is not installed (scripts/deps.sh installs them)";
        }
    }
}

/// <summary>
/// Real traffic through the recorder before the server exists: diodcat → a recording TCP proxy → diod, the proxy
/// calling <see cref="IConnectionRecorder"/> exactly where the server will (bytes read from the client, bytes
/// written to it). The recording must then decode the same in our reader, gofer trace and tshark.
/// </summary>
public class RecordingProxyTests
{
    internal const string Diod = "/usr/sbin/diod";
    internal const string DiodCat = "/usr/sbin/diodcat";

    [DiodFact]
    public async Task A_real_client_server_session_recorded_in_flight_decodes_the_same_everywhere()
    {
        using var dir = new TempDir();
        string export = Directory.CreateDirectory(Path.Combine(dir.Path, "export")).FullName;
        string records = Path.Combine(dir.Path, "records");
        // Bigger than one 64 KiB segment, so real Rreads are split by the recorder too.
        byte[] content = new byte[200_000];
        new Random(9).NextBytes(content);
        await File.WriteAllBytesAsync(Path.Combine(export, "big.bin"), content);

        int diodPort = FreePort();
        using var diod = Start(Diod, "-f", "-n", "-N", "-l", $"127.0.0.1:{diodPort}", "-e", export, "-L", "stderr", "-c", "/dev/null");
        try
        {
            await WaitForListener(diodPort);
            await using var recorder = TrafficRecorder.Create(records, new ListLogger(), new TrafficRecorderOptions { Overflow = RecordingOverflow.Block });
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int proxyPort = ((IPEndPoint)listener.LocalEndpoint).Port;
            var proxy = ProxyOnceAsync(listener, diodPort, recorder);

            using var cat = Start(DiodCat, "-s", $"127.0.0.1:{proxyPort}", "-a", export, "big.bin");
            var output = new MemoryStream();
            await cat.StandardOutput.BaseStream.CopyToAsync(output);
            await cat.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2)); // bounds a hang; measures nothing
            Assert.Equal(0, cat.ExitCode);
            Assert.Equal(content, output.ToArray());
            await proxy.WaitAsync(TimeSpan.FromMinutes(2));
        }
        finally
        {
            diod.Kill();
            await diod.WaitForExitAsync();
        }

        string file = Assert.Single(Directory.GetFiles(records));
        int messages = TsharkAgreement.AssertSameDecode(file);
        var capture = P9CaptureReader.Read(file);
        Assert.Equal(messages, capture.Frames.Count);
        // The file's bytes came back whole: the Rread payloads concatenate to the file.
        var data = capture.Frames.Where(f => f.Type == 117).SelectMany(f => f.Bytes.Skip(11)).ToArray();
        Assert.Equal(content, data);
    }

    private static async Task ProxyOnceAsync(TcpListener listener, int serverPort, TrafficRecorder recorder)
    {
        using var client = await listener.AcceptTcpClientAsync();
        using var server = new TcpClient();
        await server.ConnectAsync(IPAddress.Loopback, serverPort);
        using var recording = recorder.OpenConnection("proxy test");
        var up = Pump(client.GetStream(), server.GetStream(), recording.Received, server.Client);
        var down = Pump(server.GetStream(), client.GetStream(), recording.Sent, client.Client);
        await Task.WhenAll(up, down);
    }

    private static async Task Pump(NetworkStream from, NetworkStream to, Action<ReadOnlySpan<byte>> record, Socket toSocket)
    {
        var buffer = new byte[32 * 1024];
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer)) > 0)
            {
                record(buffer.AsSpan(0, n)); // exactly the bytes that crossed, once, in order
                await to.WriteAsync(buffer.AsMemory(0, n));
            }

            toSocket.Shutdown(SocketShutdown.Send);
        }
        catch (IOException)
        {
            // the other side went away: the session is over
        }
        catch (SocketException)
        {
        }
    }

    private static Process Start(string path, params string[] args)
    {
        var psi = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi)!;
        _ = process.StandardError.ReadToEndAsync(); // never let a full stderr pipe stall the child
        return process;
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static async Task WaitForListener(int port)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }
}
