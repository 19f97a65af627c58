namespace Gofer.HostFs;

/// <summary>
/// A bounded free list of reusable objects (fds, nodes, fids), shared by every connection: a lock and an array, so
/// neither taking nor returning allocates. Whoever returns an object guarantees nothing references it any more.
/// </summary>
internal sealed class ObjectPool<T>
    where T : class
{
    private readonly Lock _gate = new();
    private readonly T?[] _items;
    private int _count;

    public ObjectPool(int capacity) => _items = new T?[capacity];

    /// <summary>A pooled object, or null when the pool is empty (the caller then makes a new one).</summary>
    public T? TryTake()
    {
        lock (_gate)
        {
            if (_count == 0)
            {
                return null;
            }

            T? item = _items[--_count];
            _items[_count] = null;
            return item;
        }
    }

    /// <summary>Keeps <paramref name="item"/> for reuse unless the pool is full (then it is left to the GC).</summary>
    public void Return(T item) => TryReturn(item);

    /// <summary>Keeps <paramref name="item"/> for reuse; false (and the caller still owns it) when the pool is full.</summary>
    public bool TryReturn(T item)
    {
        lock (_gate)
        {
            if (_count < _items.Length)
            {
                _items[_count++] = item;
                return true;
            }
        }

        return false;
    }
}
