using Gofer.HostFs.Native;

namespace Gofer.HostFs;

/// <summary>
/// An fd shared by several nodes (a clone, or a child that remembers its parent directory for
/// fid-based rename/remove). Closed when the last holder releases it. SafeFd's own reference count
/// cannot be used for this: after Dispose a SafeFd refuses new marshalling even while referenced.
/// Instances made by <see cref="Rent"/> go back to a pool after the last release (walks allocate
/// nothing in steady state); nothing may touch one after releasing its last reference.
/// </summary>
internal sealed class SharedFd
{
    private static readonly ObjectPool<SharedFd> s_pool = new(4096);

    private readonly bool _pooled;
    private int _refs = 1;

    public SharedFd(SafeFd fd)
        : this(fd, pooled: false)
    {
    }

    private SharedFd(SafeFd fd, bool pooled)
    {
        Fd = fd;
        _pooled = pooled;
    }

    public SafeFd Fd { get; private set; }

    /// <summary>A SharedFd holding <paramref name="fd"/> (one reference), taken from the pool when one is free.</summary>
    public static SharedFd Rent(SafeFd fd)
    {
        SharedFd? s = s_pool.TryTake();
        if (s is null)
        {
            return new SharedFd(fd, pooled: true);
        }

        s.Fd = fd;
        Volatile.Write(ref s._refs, 1);
        return s;
    }

    public SharedFd AddRef()
    {
        Interlocked.Increment(ref _refs);
        return this;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _refs) != 0)
        {
            return;
        }

        Fd.Dispose();
        if (_pooled)
        {
            s_pool.Return(this);
        }
    }
}
