using Gofer.Sandbox.Vfs;
using P9.Protocol.Client;

namespace Gofer.Sandbox.Gofer;

internal static class GoferErrors
{
    /// <summary>
    /// Rlerror carries a Linux errno, which is what the VFS reports (its Errno values are Linux's), so it passes
    /// through unchanged. A dead connection is EIO, as a Linux v9fs mount reports a lost transport.
    /// </summary>
    public static VfsException Map(IOException e) => e switch
    {
        P9Exception p => new VfsException((Errno)(int)p.Errno, p.Message),
        _ => new VfsException(Errno.EIO, e.Message),
    };
}
