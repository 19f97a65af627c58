using System.IO.Pipelines;
using System.Net.Sockets;

namespace P9.Protocol.Client;

/// <summary>
/// A connected stream socket (unix, tcp, or an inherited fd) as an <see cref="IDuplexPipe"/>, using only the BCL and
/// System.IO.Pipelines: PipeReader/PipeWriter over a NetworkStream that owns the socket. Completing both sides
/// (the client does so on dispose) closes the socket.
/// </summary>
public sealed class P9SocketPipe : IDuplexPipe
{
    private P9SocketPipe(NetworkStream stream, int bufferSize)
    {
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: bufferSize, minimumReadSize: 4096, leaveOpen: false));
        Output = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 4096, leaveOpen: false));
    }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    /// <summary>Wraps a connected stream socket; the pipe owns it from now on.</summary>
    public static P9SocketPipe Create(Socket socket, int bufferSize = 128 * 1024)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!socket.Connected)
            throw new ArgumentException("the socket must be connected", nameof(socket));
        return new P9SocketPipe(new NetworkStream(socket, ownsSocket: true), bufferSize);
    }

    /// <summary>Wraps an inherited, already connected stream socket fd (e.g. one the runtime passed to the sandbox).</summary>
    public static P9SocketPipe FromFileDescriptor(int fd)
    {
        var socket = new Socket(new SafeSocketHandle((IntPtr)fd, ownsHandle: true));
        return Create(socket);
    }

    /// <summary>Connects to a unix socket path.</summary>
    public static async Task<P9SocketPipe> ConnectUnixAsync(string path, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            return Create(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects to a TCP endpoint (tests use loopback only).</summary>
    public static async Task<P9SocketPipe> ConnectTcpAsync(System.Net.IPEndPoint endPoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return Create(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
