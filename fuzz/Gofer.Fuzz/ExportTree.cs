using System.Text;

namespace Gofer.Fuzz;

/// <summary>
/// The directory every session recording and every session fuzz run uses, so names in recorded requests resolve:
/// <code>
/// ROOT/canary.txt            outside the export: must stay untouched
/// ROOT/export/hello.txt      "hello, 9p\n"
/// ROOT/export/sub/data.bin   4 KiB pattern
/// ROOT/export/sub/empty
/// ROOT/export/sub/deeper/    (empty dir)
/// ROOT/export/fifo           a FIFO (the server must never open it)
/// ROOT/export/link-in   -> hello.txt
/// ROOT/export/link-out  -> ../canary.txt       (escapes by ..)
/// ROOT/export/link-abs  -> ROOT/canary.txt      (escapes by absolute path)
/// </code>
/// </summary>
public static class ExportTree
{
    public const string CanaryName = "canary.txt";
    public const string ExportName = "export";

    public static readonly byte[] CanaryContent = Encoding.ASCII.GetBytes("canary: the 9P server must never touch this file\n");

    /// <summary>Creates ROOT/export and ROOT/canary.txt; returns the export path.</summary>
    public static string Create(string root)
    {
        string export = Path.Combine(root, ExportName);
        string canary = Path.Combine(root, CanaryName);
        Directory.CreateDirectory(Path.Combine(export, "sub", "deeper"));
        File.WriteAllBytes(canary, CanaryContent);
        // atime after mtime and both fixed: a read under relatime would not move atime, so any change means a write or utimes.
        File.SetLastWriteTimeUtc(canary, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        File.SetLastAccessTimeUtc(canary, new DateTime(2020, 1, 2, 0, 0, 0, DateTimeKind.Utc));
        File.WriteAllText(Path.Combine(export, "hello.txt"), "hello, 9p\n");
        var data = new byte[4096];
        for (int i = 0; i < data.Length; i++)
            data[i] = (byte)(i * 31);
        File.WriteAllBytes(Path.Combine(export, "sub", "data.bin"), data);
        File.WriteAllBytes(Path.Combine(export, "sub", "empty"), []);
        if (Mono.Unix.Native.Syscall.mkfifo(Path.Combine(export, "fifo"), Mono.Unix.Native.FilePermissions.DEFFILEMODE) != 0)
            throw new IOException("mkfifo failed: " + Mono.Unix.Native.Stdlib.GetLastError());
        File.CreateSymbolicLink(Path.Combine(export, "link-in"), "hello.txt");
        File.CreateSymbolicLink(Path.Combine(export, "link-out"), "../" + CanaryName);
        File.CreateSymbolicLink(Path.Combine(export, "link-abs"), canary);
        return export;
    }

    /// <summary>Deletes ROOT whatever the fuzzed session did to modes inside it.</summary>
    public static void Delete(string root)
    {
        if (!Directory.Exists(root))
            return;
        try
        {
            foreach (var d in Directory.EnumerateDirectories(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true }))
                Mono.Unix.Native.Syscall.chmod(d, Mono.Unix.Native.FilePermissions.ACCESSPERMS);
        }
        catch (IOException)
        {
        }
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
            // The session may create names that are not UTF-8 (9P names are bytes, and so are Linux's); .NET cannot
            // name those files to delete them, rm can.
            using var rm = System.Diagnostics.Process.Start("rm", ["-rf", "--", root]);
            rm.WaitForExit();
            if (Directory.Exists(root))
                throw;
        }
    }
}
