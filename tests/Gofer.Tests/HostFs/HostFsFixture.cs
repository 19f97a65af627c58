using System.Text;
using Gofer.HostFs;
using Gofer.HostFs.Native;

namespace Gofer.Tests.HostFs;

/// <summary>
/// A real temporary tree: <c>base/export</c> is served, <c>base/outside</c> holds a canary that no
/// operation through the export may read or change.
/// </summary>
public abstract class HostFsTestBase : IDisposable
{
    protected const string CanaryText = "canary: must never be read or changed through the export";

    protected HostFsTestBase()
        : this(readOnly: false)
    {
    }

    protected HostFsTestBase(bool readOnly)
        : this(new HostExportOptions { ReadOnly = readOnly }, dirCache: null)
    {
    }

    /// <summary>With explicit options, and the listing cache to use when they enable one (null: the process's).</summary>
    internal HostFsTestBase(HostExportOptions options, DirListingCache? dirCache)
    {
        Base = Path.Combine(Path.GetTempPath(), "gofer-hostfs-" + Guid.NewGuid().ToString("N"));
        ExportDir = Path.Combine(Base, "export");
        OutsideDir = Path.Combine(Base, "outside");
        Directory.CreateDirectory(ExportDir);
        Directory.CreateDirectory(OutsideDir);
        CanaryPath = Path.Combine(OutsideDir, "canary");
        File.WriteAllText(CanaryPath, CanaryText);
        File.SetLastWriteTimeUtc(CanaryPath, new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        CanaryMode = ModeOf(CanaryPath);
        Assert.Equal(Errno.None, HostExport.TryOpen(ExportDir, options, dirCache, out HostExport? export));
        Export = export!;
        Root = Export.Attach();
    }

    internal string Base { get; }

    internal string ExportDir { get; }

    internal string OutsideDir { get; }

    internal string CanaryPath { get; }

    internal UnixFileMode CanaryMode { get; }

    internal HostExport Export { get; }

    internal HostNode Root { get; }

    // HostFs is Linux-only; the guard keeps the platform analyzer satisfied.
    internal static UnixFileMode ModeOf(string path) => OperatingSystem.IsWindows() ? 0 : File.GetUnixFileMode(path);

    internal static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    internal string InExport(string rel) => Path.Combine(ExportDir, rel);

    internal HostNode WalkOk(HostNode from, params string[] names)
    {
        HostNode cur = from.Clone();
        foreach (string n in names)
        {
            Assert.Equal(Errno.None, cur.Walk(U(n), out HostNode? next));
            cur.Dispose();
            cur = next!;
        }

        return cur;
    }

    internal HostNode OpenOk(HostNode from, uint flags, params string[] names)
    {
        HostNode n = WalkOk(from, names);
        Assert.Equal(Errno.None, n.Open(flags, out _, out _));
        return n;
    }

    internal static unsafe Statx HostLstat(string path)
    {
        byte[] p = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* pp = p)
        {
            int fd = Libc.openat_cwd(Libc.AT_FDCWD, pp, Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            Assert.True(fd >= 0, "open " + path);
            using var h = new SafeFd(fd);
            Assert.Equal(Errno.None, Libc.FStatx(h, Libc.STATX_BASIC_STATS, out Statx st));
            return st;
        }
    }

    /// <summary>The canary outside the export is byte-for-byte, mode and mtime unchanged.</summary>
    internal void AssertCanaryIntact()
    {
        Assert.Equal(CanaryText, File.ReadAllText(CanaryPath));
        Assert.Equal(new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc), File.GetLastWriteTimeUtc(CanaryPath));
        Assert.Equal(CanaryMode, ModeOf(CanaryPath));
        Assert.Equal(new[] { "canary" }, Directory.GetFileSystemEntries(OutsideDir).Select(p => Path.GetFileName(p)!).ToArray());
    }

    public void Dispose()
    {
        Root.Dispose();
        Export.Dispose();
        try
        {
            Directory.Delete(Base, recursive: true);
        }
        catch (IOException)
        {
            // A test's mount or busy file must not hide its real result.
        }

        GC.SuppressFinalize(this);
    }
}
