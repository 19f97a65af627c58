using Gofer.HostFs.Native;

namespace Gofer.HostFs;

/// <summary>
/// An fd shared by several nodes (a clone, or a child that remembers its parent directory for
/// fid-based rename/remove). Closed when the last holder releases it. SafeHandle's own ref count
/// cannot be used for this: after Dispose a SafeHandle refuses new marshalling even while referenced.
/// </summary>
internal sealed class SharedFd
{
    private int _refs = 1;

    public SharedFd(SafeFd fd) => Fd = fd;

    public SafeFd Fd { get; }

    public SharedFd AddRef()
    {
        Interlocked.Increment(ref _refs);
        return this;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _refs) == 0)
        {
            Fd.Dispose();
        }
    }
}
