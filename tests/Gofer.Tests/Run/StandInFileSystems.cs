using Gofer.Sandbox.Attach;
using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;

namespace Gofer.Tests.Run;

/// <summary>
/// Filesystems that stand in for gofer mounts in tests that exercise attaching and the shell without spawning a
/// gofer (they match <see cref="GoferFileSystemFactory"/>). Production code always attaches real gofer mounts.
/// </summary>
internal static class StandInFileSystems
{
    /// <summary>Most entries and bytes a snapshot stand-in copies from one host source (examples are tiny).</summary>
    internal const int SnapshotMaxEntries = 10_000;
    internal const long SnapshotMaxBytes = 64L << 20;

    /// <summary>
    /// For the interpreter's tests (gofer run always attaches real gofer mounts): a tmpfs filled with a copy of
    /// the mount's host source, so shell tests see the bundle's files without spawning a gofer. It reads the host
    /// directly, writes stay in memory and host changes are not seen.
    /// </summary>
    public static async ValueTask<IFileSystem> SnapshotStandIn(GoferMountConnection connection, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var fs = new TmpfsFileSystem(new TmpfsOptions { RootMode = 0x1ED });
        if (connection.Mount.Source is { } source && Directory.Exists(source))
        {
            int budget = SnapshotMaxEntries;
            long bytes = SnapshotMaxBytes;
            await CopyDirAsync(new DirectoryInfo(source), fs.Root, () => budget-- > 0, n => (bytes -= n) >= 0, ct).ConfigureAwait(false);
        }

        fs.IsReadOnly = connection.Mount.GoferReadOnly;
        return fs;
    }

    private static async ValueTask CopyDirAsync(DirectoryInfo dir, INode into, Func<bool> take, Func<long, bool> takeBytes, CancellationToken ct)
    {
        foreach (var info in dir.EnumerateFileSystemInfos().OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            if (!take())
            {
                return;
            }

            uint perm = (uint)info.UnixFileMode & Mode.PermMask;
            INode node;
            if (info.LinkTarget is { } target)
            {
                node = await into.SymlinkAsync(info.Name, target, Credentials.Root, ct).ConfigureAwait(false);
                continue;
            }
            else if (info is DirectoryInfo sub)
            {
                node = await into.MkdirAsync(info.Name, perm, Credentials.Root, ct).ConfigureAwait(false);
                await CopyDirAsync(sub, node, take, takeBytes, ct).ConfigureAwait(false);
            }
            else if (info is FileInfo file && (file.Attributes & (FileAttributes.Device | FileAttributes.ReparsePoint)) == 0 && takeBytes(file.Length))
            {
                node = await into.CreateAsync(info.Name, perm, Credentials.Root, ct).ConfigureAwait(false);
                byte[] data;
                try
                {
                    data = await File.ReadAllBytesAsync(file.FullName, ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    continue;
                }

                var h = await node.OpenAsync(OpenFlags.WriteOnly, ct).ConfigureAwait(false);
                await using (h.ConfigureAwait(false))
                {
                    for (int off = 0; off < data.Length;)
                    {
                        off += await h.WriteAsync(data.AsMemory(off), off, ct).ConfigureAwait(false);
                    }
                }
            }
            else
            {
                continue;
            }

            var mtime = Timespec.FromDateTimeOffset(info.LastWriteTimeUtc);
            await node.SetAttrAsync(new SetAttr(SetAttrMask.Mtime | SetAttrMask.MtimeSet | SetAttrMask.Atime | SetAttrMask.AtimeSet, Atime: mtime, Mtime: mtime), ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// An empty tmpfs in place of each gofer mount. The socket stays open and unused (the launch owns and closes
    /// it), so the gofer sees a live connection until the sandbox stops. Read-only mounts stay read-only through
    /// the mount flag. The tmpfs is returned itself, not wrapped: the VFS keys its dentry trees on the filesystem
    /// its nodes report.
    /// </summary>
    public static ValueTask<IFileSystem> StandIn(GoferMountConnection connection, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return ValueTask.FromResult<IFileSystem>(new TmpfsFileSystem(new TmpfsOptions { RootMode = 0x1ED }));
    }
}
