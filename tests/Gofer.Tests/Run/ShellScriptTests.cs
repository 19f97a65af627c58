using Gofer.Cli.Shell;

namespace Gofer.Tests.Run;

/// <summary>sh: commands from stdin, comments, quoting, exit statuses.</summary>
public class ShellScriptTests
{
    [Fact]
    public async Task Sh_RunsLines_CommentsAndQuotes_ReturnsLastStatus()
    {
        using var h = await ShellHarness.CreateAsync();
        var script = """
            # make a file with spaces in its name and its text
            mkdir -p /work/d   # trailing comment
            write "/work/d/a file" 'two  spaces' "and \"quotes\""
            cat '/work/d/a file'
            ls /work/d
            ls /missing
            """;
        var r = await h.RunWithStdinAsync(script, "sh");
        Assert.Equal("two  spaces and \"quotes\"\na file\n", r.Out);
        Assert.Equal("ls: cannot access '/missing': No such file or directory\n", r.Err);
        Assert.Equal(1, r.Status);
    }

    [Fact]
    public async Task Sh_ExitStopsTheScriptWithItsStatus()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunWithStdinAsync("echo one\nexit 7\necho two\n", "sh");
        Assert.Equal((7, "one\n"), (r.Status, r.Out));
        Assert.Equal(0, (await h.RunWithStdinAsync("ls /missing\nexit\n", "sh")).Status is 1 ? 0 : 1);
    }

    [Fact]
    public async Task Sh_BadQuote_And_UnknownCommand_AreReported_AndTheScriptGoesOn()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunWithStdinAsync("echo 'open\nnope\necho done\n", "sh");
        Assert.Equal("done\n", r.Out);
        Assert.Contains("sh: unterminated quote (')", r.Err, StringComparison.Ordinal);
        Assert.Contains("gofer: nope: command not found", r.Err, StringComparison.Ordinal);
        Assert.Equal(0, r.Status);
    }

    [Fact]
    public async Task Sh_WriteWithoutText_IsAUsageError_NotAReadOfTheScript()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunWithStdinAsync("write /work/x\necho after\n", "sh");
        Assert.Equal("after\n", r.Out);
        Assert.Contains("write: no TEXT, and stdin is the script", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sh_CdChangesWhereRelativePathsStart()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunWithStdinAsync("cd /home/user\npwd\ncat hello.txt\n", "sh");
        Assert.Equal("/home/user\nhello\n", r.Out);
    }

    [Fact]
    public async Task Sh_NoPromptWhenStdinIsNotATerminal()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunWithStdinAsync("echo hi\n", "sh");
        Assert.DoesNotContain("gofer$", r.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a b  c", new[] { "a", "b", "c" })]
    [InlineData("'a b' \"c d\" e\\ f", new[] { "a b", "c d", "e f" })]
    [InlineData("x#y # comment", new[] { "x#y" })]
    [InlineData("\"a\\\"b\\\\c\"", new[] { "a\"b\\c" })]
    [InlineData("''", new[] { "" })]
    [InlineData("   ", new string[0])]
    public void SplitWords(string line, string[] expected)
    {
        Assert.Equal(expected, ShellText.SplitWords(line, out var error));
        Assert.Null(error);
    }

    [Fact]
    public void SplitWords_Unterminated()
    {
        Assert.Null(ShellText.SplitWords("say \"hi", out var error));
        Assert.Equal("unterminated quote (\")", error);
    }
}
