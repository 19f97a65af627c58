using System.Net.Sockets;
using Gofer.Sandbox.Vfs;
using Gofer.Spec;

namespace Gofer.Sandbox.Attach;

/// <summary>
/// One gofer connection to turn into a filesystem: the plan entry, the sandbox end of its socket (null when
/// attaching without a gofer, as unit tests do), and the cache policy the plan chose for it.
/// </summary>
internal sealed record GoferMountConnection(PlannedMount Mount, Socket? Socket, Spec.CachePolicy Cache)
{
    /// <summary>Index of the gofer FD (0 = rootfs).</summary>
    public int Index => Mount.GoferIndex ?? 0;
}

/// <summary>
/// The one seam between attaching and the gofer filesystem: makes the <see cref="IFileSystem"/> for a gofer
/// mount. The filesystem owns the socket from then on (it closes it when disposed, if it is disposable).
/// </summary>
internal delegate ValueTask<IFileSystem> GoferFileSystemFactory(GoferMountConnection connection, CancellationToken ct);

/// <summary>The factories <see cref="SandboxAttacher"/> can use.</summary>
internal static class GoferFileSystems
{
    /// <summary>What <c>gofer run</c> uses: the gofer filesystem over a P9Client on the mount's socket.</summary>
    public static GoferFileSystemFactory Default => Gofer;

    /// <summary>
    /// The gofer filesystem (<see cref="Sandbox.Gofer.GoferFileSystem"/>) over the connection: Tversion, Tattach as
    /// root, the plan's cache policy; read-only when the gofer serves the mount read-only (ro or overlaid).
    /// </summary>
    public static async ValueTask<IFileSystem> Gofer(GoferMountConnection connection, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection.Socket is null)
        {
            throw new ArgumentException($"gofer mount {connection.Mount.Destination} has no connection", nameof(connection));
        }

        return await Sandbox.Gofer.GoferFileSystem.CreateAsync(connection.Socket, connection.Cache, connection.Mount.GoferReadOnly, Credentials.Root, ct: ct).ConfigureAwait(false);
    }
}
