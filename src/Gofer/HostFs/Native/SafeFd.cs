using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;
using Gofer.HostFs;

namespace Gofer.HostFs.Native;

/// <summary>
/// A host file descriptor. Every syscall takes the SafeFd (not the int): its marshaller takes a reference for the
/// duration of the call, so a concurrent clunk cannot close — and the kernel cannot reuse — an fd that a syscall on
/// another thread is still using. fd 0 is a valid descriptor; only negative values are invalid.
/// <para>
/// The same contract as a SafeHandle (owner reference, <see cref="DangerousAddRef"/>/<see cref="DangerousRelease"/>,
/// close on the last release, no new references after <see cref="Dispose"/>), but not a SafeHandle, because a
/// SafeHandle can never be reused: every walk and open would allocate one. Instances made by <see cref="Rent"/> go
/// back to a process-wide pool once closed and are handed out again, so steady-state serving allocates none. That
/// is safe exactly when nothing touches a rented SafeFd after its last reference is gone, which HostFs guarantees by
/// owning each one from one node (and the server holding a fid reference across every call on a node).
/// Instances made with <c>new</c> are never pooled (tests, long-lived descriptors).
/// </para>
/// </summary>
[NativeMarshalling(typeof(SafeFdMarshaller))]
internal sealed class SafeFd : IDisposable
{
    // State like SafeHandle's: bit 0 = closed (Dispose called), the rest = references << 1 (the owner's included).
    private const int ClosedBit = 1;
    private const int OneRef = 2;
    private static readonly ObjectPool<SafeFd> s_pool = new(4096);

    private readonly bool _pooled;
    private int _fd;
    private int _state;

    public SafeFd()
        : this(-1, pooled: false)
    {
    }

    public SafeFd(int fd)
        : this(fd, pooled: false)
    {
    }

    private SafeFd(int fd, bool pooled)
    {
        _fd = fd;
        _state = OneRef;
        _pooled = pooled;
    }

    ~SafeFd()
    {
        // Only reached for an instance dropped without Dispose (pooled idle instances are always reachable).
        if (_fd >= 0)
        {
            Libc.close(_fd);
        }
    }

    /// <summary>A SafeFd owning <paramref name="fd"/>, taken from the pool when one is free.</summary>
    public static SafeFd Rent(int fd)
    {
        SafeFd? s = s_pool.TryTake();
        if (s is null)
        {
            return new SafeFd(fd, pooled: true);
        }

        s._fd = fd;
        Volatile.Write(ref s._state, OneRef);
        GC.ReRegisterForFinalize(s);
        return s;
    }

    public bool IsInvalid => _fd < 0;

    public bool IsClosed => (Volatile.Read(ref _state) & ClosedBit) != 0;

    /// <summary>The raw number, only for building /proc/self/fd/N names or inside a held reference; never cache it.</summary>
    public int RawValue => _fd;

    /// <summary>Takes a reference (sets <paramref name="success"/>); throws ObjectDisposedException once disposed.</summary>
    public void DangerousAddRef(ref bool success)
    {
        int state = Volatile.Read(ref _state);
        while (true)
        {
            ObjectDisposedException.ThrowIf((state & ClosedBit) != 0, this);
            int seen = Interlocked.CompareExchange(ref _state, state + OneRef, state);
            if (seen == state)
            {
                success = true;
                return;
            }

            state = seen;
        }
    }

    public void DangerousRelease() => Drop();

    /// <summary>Gives up the owner's reference: the fd is closed when the last syscall using it returns.</summary>
    public void Dispose()
    {
        int state = Volatile.Read(ref _state);
        while (true)
        {
            if ((state & ClosedBit) != 0)
            {
                return; // disposing twice is harmless (for one owner; a pooled instance must not be touched after)
            }

            int seen = Interlocked.CompareExchange(ref _state, state | ClosedBit, state);
            if (seen == state)
            {
                break;
            }

            state = seen;
        }

        Drop();
    }

    private void Drop()
    {
        int state = Interlocked.Add(ref _state, -OneRef);
        if (state != ClosedBit)
        {
            return; // references left (or, for a release without Dispose, the owner's)
        }

        int fd = _fd;
        _fd = -1;
        GC.SuppressFinalize(this);
        if (fd >= 0)
        {
            Libc.close(fd);
        }

        if (_pooled)
        {
            s_pool.Return(this);
        }
    }
}

/// <summary>
/// Passes a <see cref="SafeFd"/> to a [LibraryImport] as its int, holding a reference across the call (what the
/// built-in SafeHandle marshalling does), without allocating.
/// </summary>
[CustomMarshaller(typeof(SafeFd), MarshalMode.ManagedToUnmanagedIn, typeof(ManagedToUnmanagedIn))]
internal static class SafeFdMarshaller
{
    public struct ManagedToUnmanagedIn
    {
        private SafeFd? _fd;
        private bool _added;

        public void FromManaged(SafeFd fd)
        {
            ArgumentNullException.ThrowIfNull(fd);
            _fd = fd;
            fd.DangerousAddRef(ref _added);
        }

        public readonly int ToUnmanaged() => _fd!.RawValue;

        public readonly void Free()
        {
            if (_added)
            {
                _fd!.DangerousRelease();
            }
        }
    }
}
