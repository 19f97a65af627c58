using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Gofer.Server;
using Gofer.Tests.Server;
using Microsoft.Extensions.Logging;
using P9.Protocol.Wire;

namespace Gofer.Tests.Security;

/// <summary>
/// A <see cref="ServerFixture"/> plus a host directory OUTSIDE the export that must stay unread and unchanged:
/// a canary file and a canary directory whose contents (and one entry name) are unique markers. Symlinks inside the
/// export point at it (absolute and by ".."). Any reply carrying a marker, or any change to the outside tree, is an
/// escape. The server never opening the canary is proven by its content never appearing in a reply (atime is not
/// reliable under relatime).
/// </summary>
internal sealed partial class ConfinedExport : IDisposable
{
    public const string CanaryFileName = "canary-file";
    public const string CanaryDirName = "canary-dir";
    private readonly Dictionary<string, string> _before;

    public ConfinedExport(ServerOptions? options = null, bool readOnly = false, ILoggerFactory? loggers = null)
    {
        Server = new ServerFixture(options, readOnly, loggers);
        Outside = Server.Root + "-outside";
        Directory.CreateDirectory(Outside);
        ContentMarker = "CANARY-CONTENT-" + Guid.NewGuid().ToString("N");
        NameMarker = "canary-name-" + Guid.NewGuid().ToString("N");
        File.WriteAllText(Path.Combine(Outside, CanaryFileName), ContentMarker + "\n");
        File.WriteAllText(Path.Combine(Outside, "secret"), ContentMarker + " secret\n");
        Directory.CreateDirectory(Path.Combine(Outside, CanaryDirName));
        File.WriteAllText(Path.Combine(Outside, CanaryDirName, NameMarker), ContentMarker + " inner\n");

        // The ways out a hostile sandbox would try: absolute, relative by "..", straight at the file, at /etc.
        File.CreateSymbolicLink(Server.Path_("escape_abs"), Outside);
        File.CreateSymbolicLink(Server.Path_("escape_rel"), "../" + Path.GetFileName(Outside));
        File.CreateSymbolicLink(Server.Path_("escape_file"), Path.Combine(Outside, CanaryFileName));
        File.CreateSymbolicLink(Server.Path_("escape_etc"), "/etc");
        Directory.CreateDirectory(Server.Path_("dir/sub"));
        File.WriteAllText(Server.Path_("file"), "inside\n");
        _before = Snapshot(Outside);
    }

    public ServerFixture Server { get; }

    public string Root => Server.Root;

    public string Outside { get; }

    public string OutsideName => Path.GetFileName(Outside);

    public string ContentMarker { get; }

    public string NameMarker { get; }

    public P9TestClient Connect() => Server.Connect();

    /// <summary>The reply must carry neither canary marker (content read, or the canary directory listed).</summary>
    public byte[] Clean(byte[] reply)
    {
        if (Contains(reply, ContentMarker) || Contains(reply, NameMarker))
            throw new Xunit.Sdk.XunitException("ESCAPE: a reply carries canary data: " + P9Trace.Format(reply));
        return reply;
    }

    /// <summary>Nothing outside the export was created, removed, renamed, written, chmod-ed or given an xattr.</summary>
    public void AssertOutsideUntouched()
    {
        var now = Snapshot(Outside);
        var diffs = new List<string>();
        foreach (var (k, v) in _before)
        {
            if (!now.TryGetValue(k, out var n))
                diffs.Add("removed " + k);
            else if (n != v)
                diffs.Add($"changed {k}: {v} -> {n}");
        }
        foreach (var k in now.Keys.Where(k => !_before.ContainsKey(k)))
            diffs.Add("created " + k);
        // Created beside the export (an absolute or ".." name that reached the parent directory)?
        foreach (var stray in Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(Root)!, "pwn*"))
            diffs.Add("created beside the export: " + stray);
        if (diffs.Count > 0)
            throw new Xunit.Sdk.XunitException("ESCAPE: the outside tree changed:\n" + string.Join('\n', diffs));
    }

    /// <summary>
    /// Every entry under <paramref name="root"/>, recursively, WITHOUT descending into symlinked directories:
    /// Directory.GetFileSystemEntries(AllDirectories) follows them on Linux (the export's escape links lead to /etc).
    /// </summary>
    public static IEnumerable<string> Entries(string root)
    {
        foreach (var p in Directory.EnumerateFileSystemEntries(root))
        {
            yield return p;
            if (new FileInfo(p).LinkTarget is null && Directory.Exists(p))
            {
                foreach (var q in Entries(p))
                    yield return q;
            }
        }
    }

    private static bool Contains(byte[] haystack, string marker) =>
        haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(marker)) >= 0;

    /// <summary>path → type, mode, size, nlink, mtime, content hash, xattr names. Enough to see any mutation.</summary>
    private static Dictionary<string, string> Snapshot(string dir)
    {
        var d = new Dictionary<string, string> { ["."] = Describe(dir) };
        foreach (var p in Entries(dir))
            d[Path.GetRelativePath(dir, p)] = Describe(p);
        return d;
    }

    private static string Describe(string path)
    {
        var fi = new FileInfo(path);
        var link = fi.LinkTarget;
        string content = fi.Attributes.HasFlag(FileAttributes.Directory) || link is not null
            ? ""
            : Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
        Span<byte> names = stackalloc byte[4096];
        long n = llistxattr(path, ref MemoryMarshal.GetReference(names), (nuint)names.Length);
        string xattrs = n > 0 ? Encoding.UTF8.GetString(names[..(int)n]).Replace('\0', ',') : "";
        return $"{fi.Attributes} {(fi.Exists ? fi.UnixFileMode : 0)} {(fi.Exists ? fi.Length : 0)} {fi.LastWriteTimeUtc.Ticks} " +
               $"link={link} sha={content} xattr={xattrs} nlink={Nlink(path)}";
    }

    // A hard link to an outside file would raise its st_nlink: part of the snapshot.
    private static long Nlink(string path) => LStatNlink(path);

    [LibraryImport("libc", EntryPoint = "llistxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial long llistxattr(string path, ref byte list, nuint size);

    // struct stat on x86-64 / arm64 differs; st_nlink is at offset 16 (x86-64, 8 bytes) or 20 (arm64, after a 4-byte st_mode).
    [LibraryImport("libc", EntryPoint = "lstat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int lstat(string path, ref byte buf);

    private static long LStatNlink(string path)
    {
        Span<byte> buf = stackalloc byte[256];
        if (lstat(path, ref MemoryMarshal.GetReference(buf)) != 0)
            return -1;
        return RuntimeInformation.ProcessArchitecture == Architecture.Arm64
            ? BinaryPrimitives.ReadUInt32LittleEndian(buf[20..])
            : (long)BinaryPrimitives.ReadUInt64LittleEndian(buf[16..]);
    }

    public void Dispose()
    {
        Server.Dispose();
        try
        {
            Directory.Delete(Outside, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
