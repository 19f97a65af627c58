using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Gofer.Fuzz;

/// <summary>
/// A loopback TCP proxy that records each connection's two byte streams to files (conn-N.c2s, conn-N.s2c) as they
/// pass, unchanged. The client→server file is exactly the input of the codec and session targets. Simpler and more
/// exact than reassembling a packet capture: no TCP, no link layer, one file per connection by construction.
/// Runs until killed; files are flushed after every chunk so a kill loses nothing.
/// </summary>
internal static class RecordingProxy
{
    public static int Run(string portFile, string upstream, string outDir)
    {
        int colon = upstream.LastIndexOf(':');
        if (colon < 0 || !IPAddress.TryParse(upstream[..colon], out var address) || !IPAddress.IsLoopback(address)
            || !int.TryParse(upstream[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port))
        {
            Console.Error.WriteLine("upstream must be a loopback IP:PORT");
            return 2;
        }
        Directory.CreateDirectory(outDir);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(16);
        File.WriteAllText(portFile, ((IPEndPoint)listener.LocalEndPoint!).Port.ToString(CultureInfo.InvariantCulture));
        int n = 0;
        while (true)
        {
            var client = listener.Accept();
            int id = ++n;
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            server.Connect(new IPEndPoint(address, port));
            string stem = Path.Combine(outDir, $"conn-{id}");
            _ = Task.Run(() => Pump(client, server, stem + ".c2s"));
            _ = Task.Run(() => Pump(server, client, stem + ".s2c"));
        }
    }

    private static async Task Pump(Socket from, Socket to, string file)
    {
        var buffer = new byte[65536];
        await using var output = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.Read);
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                if (n == 0)
                    break;
                await output.WriteAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
                await output.FlushAsync().ConfigureAwait(false);
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None).ConfigureAwait(false);
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        try
        {
            to.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
