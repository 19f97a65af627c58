namespace Gofer.Fuzz;

/// <summary>What lies beside the export: entry names, and the canary's bytes and stat.</summary>
internal sealed record OutsideState(string Entries, string Canary)
{
    public static OutsideState Capture(string root)
    {
        var names = Directory.GetFileSystemEntries(root).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        string canary = Path.Combine(root, ExportTree.CanaryName);
        if (Mono.Unix.Native.Syscall.lstat(canary, out var st) != 0)
            return new OutsideState(string.Join('/', names), "missing");
        string stat = $"ino {st.st_ino} mode {st.st_mode} nlink {st.st_nlink} uid {st.st_uid} gid {st.st_gid} size {st.st_size} " +
            $"atime {st.st_atime}.{st.st_atime_nsec} mtime {st.st_mtime}.{st.st_mtime_nsec} ctime {st.st_ctime}.{st.st_ctime_nsec}";
        return new OutsideState(string.Join('/', names), stat);
    }

    public void AssertSame(OutsideState after)
    {
        if (after.Entries != Entries)
            throw new FuzzFindingException($"entries beside the export changed: '{Entries}' -> '{after.Entries}'");
        if (after.Canary != Canary)
            throw new FuzzFindingException($"the canary outside the export changed: '{Canary}' -> '{after.Canary}'");
    }
}
