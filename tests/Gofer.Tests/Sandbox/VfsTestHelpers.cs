using System.Text;
using Gofer.Sandbox.Tmpfs;
using Gofer.Sandbox.Vfs;

namespace Gofer.Tests.Sandbox;

internal static class VfsTestHelpers
{
    public static async Task<(MountNamespace Ns, TmpfsFileSystem Root)> NewTmpfsNamespaceAsync(MountFlags flags = MountFlags.None)
    {
        var fs = new TmpfsFileSystem();
        var ns = await MountNamespace.CreateAsync(new MountSpec("/", fs) { Flags = flags, Source = "rootfs" });
        return (ns, fs);
    }

    public static async Task<VfsException> ThrowsErrnoAsync(Errno expected, Func<Task> op)
    {
        var e = await Assert.ThrowsAsync<VfsException>(op);
        Assert.Equal(expected, e.Errno);
        return e;
    }

    public static Task ThrowsErrno(Errno expected, Func<ValueTask> op) => ThrowsErrnoAsync(expected, async () => await op());

    public static Task ThrowsErrno<T>(Errno expected, Func<ValueTask<T>> op) => ThrowsErrnoAsync(expected, async () => await op());

    public static async Task WriteFileAsync(this MountNamespace ns, string path, string text, OpenFlags extra = OpenFlags.ReadOnly)
    {
        await using var f = await ns.OpenAsync(path, OpenFlags.WriteOnly | OpenFlags.Create | OpenFlags.Truncate | extra);
        var bytes = Encoding.UTF8.GetBytes(text);
        Assert.Equal(bytes.Length, await f.WriteAsync(bytes));
    }

    public static async Task<string> ReadFileAsync(this MountNamespace ns, string path)
    {
        await using var f = await ns.OpenAsync(path, OpenFlags.ReadOnly);
        return await f.ReadAllTextAsync();
    }

    public static async Task<string> ReadAllTextAsync(this OpenFile f)
    {
        var ms = new MemoryStream();
        var buf = new byte[1000];
        long off = 0;
        while (true)
        {
            int n = await f.PReadAsync(buf, off);
            if (n == 0)
            {
                return Encoding.UTF8.GetString(ms.ToArray());
            }

            ms.Write(buf, 0, n);
            off += n;
        }
    }

    public static async Task<string[]> NamesAsync(this MountNamespace ns, string path) =>
        [.. (await ns.ReadDirAsync(path)).Select(e => e.Name).Order(StringComparer.Ordinal)];

    /// <summary>A "lower" filesystem: filled by <paramref name="fill"/>, then frozen read-only.</summary>
    public static async Task<TmpfsFileSystem> ReadOnlyLowerAsync(Func<MountNamespace, Task> fill)
    {
        var fs = new TmpfsFileSystem(new TmpfsOptions { RootMode = 0x1ED });
        var ns = await MountNamespace.CreateAsync(new MountSpec("/", fs));
        ns.Umask = 0;
        await fill(ns);
        fs.IsReadOnly = true;
        return fs;
    }
}
