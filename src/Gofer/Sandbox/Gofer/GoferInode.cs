using Gofer.Sandbox.Vfs;
using P9.Protocol.Client;

namespace Gofer.Sandbox.Gofer;

/// <summary>
/// One cached page of file data. Invariant: a page with <see cref="Valid"/> &lt; <see cref="GoferFileSystem.PageSize"/>
/// is the file's last page (end of file at page offset + Valid); writes that would break this drop the page.
/// </summary>
internal sealed class CachedPage(byte[] data, int valid)
{
    public byte[] Data { get; } = data;

    public int Valid { get; set; } = valid;
}

/// <summary>
/// What is known about one file (one qid.path), shared by every node (hard links, re-lookups after eviction) and
/// every open handle. All fields are guarded by the filesystem's lock. Refs counts nodes and handles; the last release
/// clunks the cached open fids and drops the pages.
/// </summary>
internal sealed class GoferInode(ulong qidPath)
{
    public ulong QidPath { get; } = qidPath;

    public int Refs { get; set; }

    /// <summary>The live nodes (dentries) of this file, to rebind a renamed one's fid.</summary>
    public List<GoferNode> Nodes { get; } = [];

    /// <summary>Last attributes seen. Exclusive: authoritative until a mutation invalidates them.</summary>
    public InodeAttr? Attr { get; set; }

    /// <summary>Exclusive only: the symlink target.</summary>
    public string? LinkTarget { get; set; }

    /// <summary>Exclusive only: names known NOT to exist in this directory (negative dentries).</summary>
    public HashSet<string>? Absent { get; set; }

    /// <summary>Exclusive only: name → qid.path of children seen, so a mutation can invalidate the child's attributes.</summary>
    public Dictionary<string, ulong>? Children { get; set; }

    /// <summary>Exclusive only: the directory's entries ("." and ".." removed), cookies = index + 1.</summary>
    public List<DirEntry>? Listing { get; set; }

    public Dictionary<long, CachedPage>? Pages { get; set; }

    /// <summary>Bumped by every change of the data (or directory) we make, so a fill that raced one is not stored.</summary>
    public int DataGen { get; set; }

    public LinkedListNode<GoferInode>? PageLruNode { get; set; }

    /// <summary>What the cached pages were read against: a change of any of these drops them.</summary>
    public (Timespec Mtime, Timespec Ctime, long Size)? DataStamp { get; set; }

    /// <summary>Exclusive only: opened fids kept for reuse, by access mode (O_RDONLY, O_WRONLY, O_RDWR).</summary>
    public P9Fid?[] OpenFids { get; } = new P9Fid?[3];

    /// <summary>Records fresh attributes; if the data changed behind the cache (mtime, ctime or size), drops the pages.</summary>
    public void StoreAttr(InodeAttr attr, GoferFileSystem fs)
    {
        lock (fs.Lock)
        {
            var stamp = (attr.Mtime, attr.Ctime, attr.Size);
            if (DataStamp is { } old && old != stamp)
            {
                fs.DropPagesLocked(this);
            }

            DataStamp = stamp;
            Attr = attr;
        }
    }

    /// <summary>Our own write or truncate changed the data: later stamps are compared against fresh attributes.</summary>
    public void ForgetAttrLocked()
    {
        Attr = null;
        DataStamp = null;
    }

    public List<P9Fid>? TakeOpenFidsLocked()
    {
        List<P9Fid>? list = null;
        for (int i = 0; i < OpenFids.Length; i++)
        {
            if (OpenFids[i] is { } f)
            {
                (list ??= []).Add(f);
                OpenFids[i] = null;
            }
        }

        return list;
    }
}
