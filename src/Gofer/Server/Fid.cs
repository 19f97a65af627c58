using Gofer.HostFs;

namespace Gofer.Server;

/// <summary>
/// One client fid: the host node it names (null for an xattr-read fid), the uid of the attach it descends from
/// (creates use it), and xattr state. Reference-counted: a request holds a reference while it uses the fid, so a
/// concurrent Tclunk removes the name at once but the node is closed only when the last user is done.
/// </summary>
internal sealed class Fid
{
    private int _refs = 1;

    public Fid(HostNode? node, uint uid)
    {
        Node = node;
        Uid = uid;
    }

    public HostNode? Node { get; }

    /// <summary>n_uname of the Tattach (uint.MaxValue: unknown, creates keep the gofer's own uid).</summary>
    public uint Uid { get; }

    /// <summary>Serialises the calls that change what a node is (open, create, rename) per fid.</summary>
    public Lock Gate { get; } = new();

    /// <summary>Txattrwalk result: the value (or name list) read by Tread; fixed once created.</summary>
    public byte[]? XattrData { get; init; }

    /// <summary>Txattrcreate: the name being set, the value being filled by Twrite, the flags; applied at Tclunk.</summary>
    public byte[]? XattrName { get; set; }

    public byte[]? XattrValue { get; set; }

    public uint XattrFlags { get; set; }

    public bool IsXattrCreate => XattrName is not null;

    public void AddRef() => Interlocked.Increment(ref _refs);

    public void Release()
    {
        if (Interlocked.Decrement(ref _refs) == 0)
            Node?.Dispose();
    }
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
