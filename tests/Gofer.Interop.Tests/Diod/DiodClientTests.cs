namespace Gofer.Interop.Tests.Diod;

/// <summary>diod's own clients (diodls, diodcat: Tversion, Tauth, Tattach, walk, getattr, readdir, read) against
/// `gofer serve` in a separate process over loopback TCP.</summary>
public sealed class DiodClientTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gofer-diod-" + Guid.NewGuid().ToString("N")[..12]);

    public DiodClientTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "sub/deeper"));
        File.WriteAllText(Path.Combine(_root, "hello.txt"), "hello from gofer\n");
        File.WriteAllText(Path.Combine(_root, "sub/deeper/inner.txt"), "inner\n");
        var big = new byte[3 * 1024 * 1024 + 17];
        new Random(7).NextBytes(big);
        File.WriteAllBytes(Path.Combine(_root, "big.bin"), big);
        for (int i = 0; i < 500; i++)
            File.WriteAllText(Path.Combine(_root, "sub", $"n{i:D3}"), "");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Diodls_ListsTheExportRoot_AndASubdirectoryAname()
    {
        using var gofer = new GoferProcess(_root);
        var (code, stdout, stderr) = DiodTool.Run("diodls", "-s", $"127.0.0.1:{gofer.Port}", "-a", "/", "/");
        Assert.True(code == 0, stderr + gofer.StdErr);
        var names = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("hello.txt", names);
        Assert.Contains("sub", names);
        Assert.Contains("big.bin", names);

        (code, stdout, stderr) = DiodTool.Run("diodls", "-s", $"127.0.0.1:{gofer.Port}", "-a", "/sub", "-l", "/");
        Assert.True(code == 0, stderr);
        // -l: one "-rw-r--r-- … nNNN" line per file.
        Assert.Equal(500, stdout.Split('\n').Count(l => l.StartsWith("-rw", StringComparison.Ordinal) && System.Text.RegularExpressions.Regex.IsMatch(l, @" n\d{3}$")));
        Assert.Contains("deeper", stdout);
    }

    [Fact]
    public void Diodcat_ReadsSmallAndMultiMegabyteFiles()
    {
        using var gofer = new GoferProcess(_root);
        var (code, stdout, stderr) = DiodTool.Run("diodcat", "-s", $"127.0.0.1:{gofer.Port}", "-a", "/", "hello.txt", "sub/deeper/inner.txt");
        Assert.True(code == 0, stderr + gofer.StdErr);
        Assert.Equal("hello from gofer\ninner\n", stdout);

        // Binary content through a file: diodcat writes raw bytes to stdout.
        string outFile = Path.Combine(_root, "..", Path.GetFileName(_root) + ".out");
        var psi = new System.Diagnostics.ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"{DiodTool.PathOf("diodcat")} -s 127.0.0.1:{gofer.Port} -a / -m 1048600 big.bin > '{outFile}'");
        using (var p = System.Diagnostics.Process.Start(psi)!)
        {
            string err = p.StandardError.ReadToEnd();
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(120)));
            Assert.True(p.ExitCode == 0, err);
        }
        try
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(_root, "big.bin")), File.ReadAllBytes(outFile));
        }
        finally
        {
            File.Delete(outFile);
        }
    }

    [Fact]
    public void MissingFile_IsAnError_AndTheServerCarriesOn_ThenExitsCleanlyOnSigterm()
    {
        using var gofer = new GoferProcess(_root);
        var (code, _, stderr) = DiodTool.Run("diodcat", "-s", $"127.0.0.1:{gofer.Port}", "-a", "/", "no-such-file");
        Assert.NotEqual(0, code);
        Assert.NotEmpty(stderr);
        (code, _, stderr) = DiodTool.Run("diodcat", "-s", $"127.0.0.1:{gofer.Port}", "-a", "/nope", "hello.txt");
        Assert.NotEqual(0, code);
        var (ok, stdout, _) = DiodTool.Run("diodcat", "-s", $"127.0.0.1:{gofer.Port}", "-a", "/", "hello.txt");
        Assert.Equal(0, ok);
        Assert.Equal("hello from gofer\n", stdout);
        Assert.False(gofer.HasExited);
        Assert.Equal(0, gofer.Stop());
    }
}
