using Gofer.HostFs;

namespace Gofer.Server;

/// <summary>
/// One client fid: the host node it names (null for an xattr-read fid), the uid of the attach it descends from
/// (creates use it), and xattr state. Reference-counted: a request holds a reference while it uses the fid, so a
/// concurrent Tclunk removes the name at once but the node is closed only when the last user is done.
/// </summary>
internal sealed class Fid
{
    // Fids whose last reference is gone, reused by the next walk or attach: serving allocates no fid.
    private static readonly ObjectPool<Fid> s_pool = new(4096);

    private int _refs;

    private Fid()
    {
    }

    /// <summary>A fid (from the pool when one is free) holding one reference, owning <paramref name="node"/>.</summary>
    public static Fid Create(HostNode? node, uint uid)
    {
        Fid fid = s_pool.TryTake() ?? new Fid();
        fid.Node = node;
        fid.Uid = uid;
        Volatile.Write(ref fid._refs, 1);
        return fid;
    }

    public HostNode? Node { get; private set; }

    /// <summary>n_uname of the Tattach (uint.MaxValue: unknown, creates keep the gofer's own uid).</summary>
    public uint Uid { get; private set; }

    /// <summary>Serialises the calls that change what a node is (open, create, rename) per fid.</summary>
    public Lock Gate { get; } = new();

    /// <summary>Txattrwalk result: the value (or name list) read by Tread; set once, before the fid is published.</summary>
    public byte[]? XattrData { get; set; }

    /// <summary>Txattrcreate: the name being set, the value being filled by Twrite, the flags; applied at Tclunk.</summary>
    public byte[]? XattrName { get; set; }

    public byte[]? XattrValue { get; set; }

    public uint XattrFlags { get; set; }

    public bool IsXattrCreate => XattrName is not null;

    private XattrBudget? _budget;
    private long _charged;

    /// <summary>
    /// Charges this fid's xattr buffer to its connection's budget, replacing what it was charged before (a second
    /// Txattrcreate on one fid must not leak the first charge, cf. CVE-2016-9102). False when over budget; the old
    /// charge then stays. The charge is given back when the fid's last reference goes.
    /// </summary>
    public bool TryChargeXattr(XattrBudget budget, long bytes)
    {
        // A fid lives in one connection, so _budget is null or this same budget: a re-charge is the difference.
        if (!budget.TryCharge(bytes - _charged))
            return false;
        _budget = budget;
        _charged = bytes;
        return true;
    }

    public void AddRef() => Interlocked.Increment(ref _refs);

    /// <summary>Drops a reference; the last one closes the node and hands node and fid back for reuse (nothing may
    /// touch either afterwards: every user holds its own reference, taken under the fid table's lock).</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _refs) != 0)
            return;
        Node?.Recycle();
        Node = null;
        _budget?.Refund(_charged);
        _budget = null;
        _charged = 0;
        XattrData = null;
        XattrName = null;
        XattrValue = null;
        XattrFlags = 0;
        s_pool.Return(this);
    }
}

/// <summary>Bytes of xattr values held by one connection's fids, bounded (see ServerOptions.MaxXattrBytes).</summary>
internal sealed class XattrBudget
{
    private long _used;

    public XattrBudget(long limit) => Limit = limit;

    public long Limit { get; }

    public long Used => Volatile.Read(ref _used);

    /// <summary>Takes <paramref name="bytes"/> (may be negative: a smaller replacement) unless that passes the limit.</summary>
    public bool TryCharge(long bytes)
    {
        if (Interlocked.Add(ref _used, bytes) > Limit && bytes > 0)
        {
            Interlocked.Add(ref _used, -bytes);
            return false;
        }
        return true;
    }

    public void Refund(long bytes) => Interlocked.Add(ref _used, -bytes);
}

/// <summary>The fids of one connection. Lookups take a reference (release it when done).</summary>
internal sealed class FidTable
{
    private readonly Dictionary<uint, Fid> _fids = [];
    private readonly Lock _gate = new();
    private readonly int _max;

    public FidTable(int max) => _max = max;

    public int Count
    {
        get
        {
            lock (_gate)
                return _fids.Count;
        }
    }

    public bool TryGet(uint id, out Fid fid)
    {
        lock (_gate)
        {
            if (_fids.TryGetValue(id, out fid!))
            {
                fid.AddRef();
                return true;
            }
        }
        return false;
    }

    public bool Contains(uint id)
    {
        lock (_gate)
            return _fids.ContainsKey(id);
    }

    /// <summary>Adds a new fid; the table takes the caller's reference. EINVAL-class failure if in use, EMFILE if full.</summary>
    public AddResult TryAdd(uint id, Fid fid)
    {
        lock (_gate)
        {
            if (_fids.ContainsKey(id))
                return AddResult.InUse;
            if (_fids.Count >= _max)
                return AddResult.Full;
            _fids.Add(id, fid);
            return AddResult.Added;
        }
    }

    /// <summary>Replaces fid <paramref name="id"/> (walk with newfid == fid): the old one is released.</summary>
    public void Replace(uint id, Fid fid)
    {
        Fid? old;
        lock (_gate)
        {
            _fids.TryGetValue(id, out old);
            _fids[id] = fid;
        }
        old?.Release();
    }

    /// <summary>Removes the name; the caller receives the table's reference and must release it.</summary>
    public bool TryRemove(uint id, out Fid fid)
    {
        lock (_gate)
            return _fids.Remove(id, out fid!);
    }

    /// <summary>Clunks every fid (Tversion reset, connection end). Returns how many there were.</summary>
    public int Clear()
    {
        Fid[] all;
        lock (_gate)
        {
            all = [.. _fids.Values];
            _fids.Clear();
        }
        foreach (var f in all)
            f.Release();
        return all.Length;
    }
}

internal enum AddResult
{
    Added,
    InUse,
    Full,
}
