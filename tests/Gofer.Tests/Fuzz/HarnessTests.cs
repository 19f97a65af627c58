using Gofer.Fuzz;

namespace Gofer.Tests.Fuzz;

/// <summary>The session target's outside-the-export check catches what it claims to (so a quiet fuzz run means
/// something): a write, a touch, a chmod of the canary, and a new file beside the export.</summary>
public sealed class HarnessTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gofer-fuzz-test-" + Guid.NewGuid().ToString("N")[..12]);

    public HarnessTests() => ExportTree.Create(_root);

    public void Dispose() => ExportTree.Delete(_root);

    private string Canary => Path.Combine(_root, ExportTree.CanaryName);

    [Fact]
    public void Unchanged_tree_passes()
    {
        var before = OutsideState.Capture(_root);
        File.WriteAllText(Path.Combine(_root, ExportTree.ExportName, "inside.txt"), "inside the export is fine");
        before.AssertSame(OutsideState.Capture(_root));
    }

    [Fact]
    public void Canary_mtime_change_is_caught()
    {
        var before = OutsideState.Capture(_root);
        File.SetLastWriteTimeUtc(Canary, DateTime.UtcNow);
        Assert.Throws<FuzzFindingException>(() => before.AssertSame(OutsideState.Capture(_root)));
    }

    [Fact]
    public void Canary_chmod_is_caught()
    {
        var before = OutsideState.Capture(_root);
        Assert.Equal(0, Mono.Unix.Native.Syscall.chmod(Canary, Mono.Unix.Native.FilePermissions.S_IRUSR));
        Assert.Throws<FuzzFindingException>(() => before.AssertSame(OutsideState.Capture(_root)));
    }

    [Fact]
    public void Same_size_rewrite_is_caught_by_ctime()
    {
        var before = OutsideState.Capture(_root);
        var bytes = File.ReadAllBytes(Canary);
        bytes[0] ^= 1;
        using (var f = new FileStream(Canary, FileMode.Open, FileAccess.Write))
            f.Write(bytes);
        File.SetLastWriteTimeUtc(Canary, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        File.SetLastAccessTimeUtc(Canary, new DateTime(2020, 1, 2, 0, 0, 0, DateTimeKind.Utc));
        Assert.Throws<FuzzFindingException>(() => before.AssertSame(OutsideState.Capture(_root)));
    }

    [Fact]
    public void New_file_beside_the_export_is_caught()
    {
        var before = OutsideState.Capture(_root);
        File.WriteAllText(Path.Combine(_root, "escaped"), "x");
        Assert.Throws<FuzzFindingException>(() => before.AssertSame(OutsideState.Capture(_root)));
    }
}
