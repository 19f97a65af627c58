using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Gofer.Server;

/// <summary>
/// The seam between sockets and the session: everything above sees only an <see cref="IDuplexPipe"/>, so tests can
/// use in-memory pipes and another transport (vsock, a recorder tee) can be slotted in without touching the codec
/// or the dispatcher. Sockets become pipes through <see cref="SocketPipe"/>.
/// </summary>
internal static class Transport
{
    /// <summary>A connected socket as a duplex pipe (<see cref="SocketPipe"/>). The caller keeps owning the socket.</summary>
    public static SocketPipe FromSocket(Socket socket, uint maxFrame)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (socket.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            socket.NoDelay = true; // replies are whole frames already batched per read: send them now
        return new SocketPipe(socket, maxFrame);
    }

    /// <summary>A socket inherited from the parent process (already connected: one end of a socketpair).</summary>
    public static Socket FromInheritedFd(int fd)
    {
        if (fd < 0)
            throw new ArgumentOutOfRangeException(nameof(fd), "a file descriptor is not negative");
        return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
    }

    /// <summary>
    /// Parses <c>unix:PATH</c> or <c>tcp:HOST:PORT</c> (HOST an IP literal; IPv6 in brackets). Non-loopback TCP
    /// addresses are refused unless <paramref name="allowRemote"/>: the gofer is a sandbox's door to the host.
    /// </summary>
    public static bool TryParseListen(string spec, bool allowRemote, out EndPoint? endpoint, out string? error)
    {
        endpoint = null;
        error = null;
        if (spec.StartsWith("unix:", StringComparison.Ordinal))
        {
            string path = spec[5..];
            if (path.Length == 0)
            {
                error = "unix: needs a socket path";
                return false;
            }
            endpoint = new UnixDomainSocketEndPoint(path);
            return true;
        }
        if (spec.StartsWith("tcp:", StringComparison.Ordinal))
        {
            string rest = spec[4..];
            int colon = rest.LastIndexOf(':');
            if (colon <= 0 || !ushort.TryParse(rest[(colon + 1)..], out ushort port))
            {
                error = $"'{spec}': expected tcp:HOST:PORT";
                return false;
            }
            string host = rest[..colon].Trim('[', ']');
            if (!IPAddress.TryParse(host, out var address))
            {
                error = $"'{host}' is not an IP address (names are not resolved)";
                return false;
            }
            if (!allowRemote && !IPAddress.IsLoopback(address))
            {
                error = $"'{host}' is not a loopback address; pass --allow-remote to serve other hosts";
                return false;
            }
            endpoint = new IPEndPoint(address, port);
            return true;
        }
        error = $"'{spec}': expected unix:PATH or tcp:HOST:PORT";
        return false;
    }

    public static string Describe(EndPoint endpoint) => endpoint switch
    {
        UnixDomainSocketEndPoint u => "unix:" + u,
        IPEndPoint ip => ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"tcp:[{ip.Address}]:{ip.Port}" : $"tcp:{ip.Address}:{ip.Port}",
        _ => endpoint.ToString() ?? "?",
    };
}
