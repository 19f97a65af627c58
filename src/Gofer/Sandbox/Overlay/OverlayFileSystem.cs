using Gofer.Sandbox.Vfs;

namespace Gofer.Sandbox.Overlay;

/// <summary>
/// An overlay of a writable upper filesystem (a tmpfs) on a lower one that is only ever read, with Linux
/// overlayfs's on-upper encoding: a whiteout is a 0/0 character device, an opaque directory carries
/// trusted.overlay.opaque = "y". Copy-up happens on open for write, setattr, xattr change, link and rename.
/// Renaming a directory that has lower content is EXDEV (Linux overlayfs without redirect_dir), so tools fall
/// back to copy + delete.
/// </summary>
internal sealed class OverlayFileSystem : IFileSystem
{
    internal const string OpaqueXattr = "trusted.overlay.opaque";
    internal const string PrivatePrefix = "trusted.overlay.";
    private const int CopyChunk = 64 * 1024;

    private readonly OverlayNode _root;

    public OverlayFileSystem(IFileSystem upper, IFileSystem lower)
    {
        Upper = upper;
        Lower = lower;
        _root = new OverlayNode(this, null, "/", lower.Root.Type, upper.Root, lower.Root, covers: false);
    }

    public IFileSystem Upper { get; }

    public IFileSystem Lower { get; }

    /// <summary>Serialises metadata operations: copy-up touches several upper entries that must change together.</summary>
    internal SemaphoreSlim Lock { get; } = new(1, 1);

    public string TypeName => "overlay";

    public bool IsReadOnly => Upper.IsReadOnly;

    // The overlay is the only writer of its upper layer and treats its lower as immutable, so it is authoritative.
    public DentryCachePolicy CachePolicy => DentryCachePolicy.Authoritative;

    public INode Root => _root;

    public async ValueTask<StatFs> StatFsAsync(CancellationToken ct = default)
    {
        var s = await Upper.StatFsAsync(ct).ConfigureAwait(false);
        return s with { Type = FsMagic.Overlay };
    }

    public ValueTask<int> RevalidateAsync(INode start, IReadOnlyList<RevalidateStep> steps, CancellationToken ct = default) =>
        ValueTask.FromResult(steps.Count);

    internal static async ValueTask<bool> IsWhiteoutAsync(INode n, CancellationToken ct)
    {
        if (n.Type != FileType.CharDevice)
        {
            return false;
        }

        return (await n.GetAttrAsync(ct).ConfigureAwait(false)).Rdev == 0;
    }

    internal static async ValueTask<bool> IsOpaqueAsync(INode dir, CancellationToken ct)
    {
        try
        {
            var v = await dir.GetXattrAsync(OpaqueXattr, ct).ConfigureAwait(false);
            return v is [(byte)'y'];
        }
        catch (VfsException e) when (e.Errno is Errno.ENODATA or Errno.EOPNOTSUPP)
        {
            return false;
        }
    }

    internal static async ValueTask<INode?> TryLookupAsync(INode? dir, string name, CancellationToken ct)
    {
        if (dir is null)
        {
            return null;
        }

        try
        {
            return await dir.LookupAsync(name, ct).ConfigureAwait(false);
        }
        catch (VfsException e) when (e.Errno == Errno.ENOENT)
        {
            return null;
        }
    }

    internal static async ValueTask<List<DirEntry>> ListAllAsync(INode dir, CancellationToken ct)
    {
        var all = new List<DirEntry>();
        var h = await dir.OpenAsync(OpenFlags.ReadOnly, ct).ConfigureAwait(false);
        await using (h.ConfigureAwait(false))
        {
            long cookie = 0;
            while (true)
            {
                var page = await h.ReadDirAsync(cookie, 256, ct).ConfigureAwait(false);
                if (page.Count == 0)
                {
                    return all;
                }

                all.AddRange(page);
                cookie = page[^1].Cookie;
            }
        }
    }

    /// <summary>Copies a lower file's data into a new upper file.</summary>
    internal static async ValueTask CopyDataAsync(INode from, INode to, CancellationToken ct)
    {
        var src = await from.OpenAsync(OpenFlags.ReadOnly, ct).ConfigureAwait(false);
        await using (src.ConfigureAwait(false))
        {
            var dst = await to.OpenAsync(OpenFlags.WriteOnly, ct).ConfigureAwait(false);
            await using (dst.ConfigureAwait(false))
            {
                var buf = new byte[CopyChunk];
                long off = 0;
                while (true)
                {
                    int n = await src.ReadAsync(buf, off, ct).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }

                    int done = 0;
                    while (done < n)
                    {
                        done += await dst.WriteAsync(buf.AsMemory(done, n - done), off + done, ct).ConfigureAwait(false);
                    }

                    off += n;
                }
            }
        }
    }
}
