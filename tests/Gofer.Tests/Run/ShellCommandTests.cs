using System.Text.RegularExpressions;
using Gofer.Cli.Shell;

namespace Gofer.Tests.Run;

/// <summary>The interpreter's commands against an attached namespace: output formats, messages, exit statuses.</summary>
public class ShellCommandTests
{
    [Fact]
    public async Task LsLong_ShowsModeLinksNamesSizeDateAndName()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunAsync("ls", "-l", "/home/user");
        Assert.Equal(0, r.Status);
        Assert.Equal("total 4", r.Lines[0]); // one 6-byte file: one 4 KiB page = 4 1K-blocks
        Assert.Matches(new Regex(@"^-rw-r--r-- 1 root root 6 [A-Z][a-z]{2} [ \d]\d (\d\d:\d\d| \d{4}) hello\.txt$"), r.Lines[1]);
        Assert.Equal(2, r.Lines.Length); // .hidden is hidden without -a
    }

    [Fact]
    public async Task LsLong_UsesNumbersWithoutPasswdEntries_AndAlignsColumns()
    {
        using var h = await ShellHarness.CreateAsync();
        await h.Ns.ChownAsync("/home/user/hello.txt", 4242, 1000);
        var r = await h.RunAsync("ls", "-l", "/home/user/hello.txt");
        Assert.Matches(new Regex(@"^-rw-r--r-- 1 4242 users 6 "), r.Lines[0]);
    }

    [Fact]
    public async Task LsAll_ShowsDotEntriesAndHiddenFiles_Sorted()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunAsync("ls", "-a", "/home/user");
        Assert.Equal([".", "..", ".hidden", "hello.txt"], r.Lines);
    }

    [Fact]
    public async Task LsRecursive_PrintsAHeaderPerDirectory()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunAsync("ls", "-R", "/home");
        Assert.Equal("/home:\nuser\n\n/home/user:\nhello.txt\n", r.Out);
    }

    [Fact]
    public async Task LsMissing_SaysCannotAccess_Status1()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunAsync("ls", "/x");
        Assert.Equal(1, r.Status);
        Assert.Equal("ls: cannot access '/x': No such file or directory\n", r.Err);
    }

    [Fact]
    public async Task LsBadOption_IsUsage_Status2()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunAsync("ls", "-z");
        Assert.Equal(2, r.Status);
        Assert.StartsWith("ls: invalid option -- 'z'\nusage: ls", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LsSymlink_LongShowsTarget()
    {
        using var h = await ShellHarness.CreateAsync();
        Assert.Equal(0, (await h.RunAsync("ln", "-s", "user/hello.txt", "/home/link")).Status);
        var r = await h.RunAsync("ls", "-l", "/home/link");
        Assert.Matches(new Regex(@"^lrwxrwxrwx 1 root root 14 .* /home/link -> user/hello\.txt$"), r.Lines[0]);
        Assert.Equal("user/hello.txt\n", (await h.RunAsync("readlink", "/home/link")).Out);
        Assert.Equal("hello\n", (await h.RunAsync("cat", "/home/link")).Out);
    }

    [Fact]
    public async Task Cat_PrintsBytes_DirectoryIsAnError()
    {
        using var h = await ShellHarness.CreateAsync();
        Assert.Equal("hello\nread me\n", (await h.RunAsync("cat", "/home/user/hello.txt", "/data/readme.txt")).Out);
        var r = await h.RunAsync("cat", "/etc");
        Assert.Equal(1, r.Status);
        Assert.Equal("cat: /etc: Is a directory\n", r.Err);
    }

    [Fact]
    public async Task Stat_PrintsGnuDefaultBlock()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunAsync("stat", "/home/user/hello.txt");
        Assert.Equal(0, r.Status);
        Assert.Equal("  File: /home/user/hello.txt", r.Lines[0]);
        Assert.Matches(new Regex(@"^  Size: 6         \tBlocks: 8          IO Block: 4096   regular file$"), r.Lines[1]);
        Assert.Matches(new Regex(@"^Device: 0,\d+\tInode: \d+ +Links: 1$"), r.Lines[2]);
        Assert.Equal("Access: (0644/-rw-r--r--)  Uid: (    0/    root)   Gid: (    0/    root)", r.Lines[3]);
        Assert.Matches(new Regex(@"^Modify: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} [+-]\d{4}$"), r.Lines[5]);
        Assert.Equal(" Birth: -", r.Lines[7]);
        var missing = await h.RunAsync("stat", "/nope");
        Assert.Equal("stat: cannot statx '/nope': No such file or directory\n", missing.Err);
        Assert.Equal(1, missing.Status);
    }

    [Fact]
    public async Task Tree_DrawsTheHierarchyAndCounts()
    {
        using var h = await ShellHarness.CreateAsync();
        await h.RunAsync("mkdir", "-p", "/work/a/b");
        await h.RunAsync("write", "/work/a/b/c", "x");
        var r = await h.RunAsync("tree", "/work");
        Assert.Equal("/work\n├── a\n│   └── b\n│       └── c\n└── notes.txt\n\n2 directories, 2 files\n", r.Out);
    }

    [Fact]
    public async Task Write_OnTheReadOnlyBind_IsRefused()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunAsync("write", "/data/x", "text");
        Assert.Equal(1, r.Status);
        Assert.Equal("write: cannot create '/data/x': Read-only file system\n", r.Err);
        var t = await h.RunAsync("touch", "/data/readme.txt");
        Assert.Equal("touch: cannot touch '/data/readme.txt': Read-only file system\n", t.Err);
        var c = await h.RunAsync("chmod", "600", "/data/readme.txt");
        Assert.Equal("chmod: changing permissions of '/data/readme.txt': Read-only file system\n", c.Err);
    }

    [Fact]
    public async Task WriteAppend_TextAndStdin()
    {
        using var h = await ShellHarness.CreateAsync();
        Assert.Equal(0, (await h.RunAsync("write", "/work/f", "one", "two")).Status);
        Assert.Equal(0, (await h.RunAsync("append", "/work/f", "three")).Status);
        Assert.Equal(0, (await h.RunWithStdinAsync("raw\0bytes", "append", "/work/f", "-")).Status);
        Assert.Equal("one two\nthree\nraw\0bytes", (await h.RunAsync("cat", "/work/f")).Out);
        Assert.Equal(0, (await h.RunWithStdinAsync("replaced", "write", "/work/f")).Status);
        Assert.Equal("replaced", (await h.RunAsync("cat", "/work/f")).Out);
    }

    [Fact]
    public async Task Mkdir_Rmdir_Rm_Messages()
    {
        using var h = await ShellHarness.CreateAsync();
        Assert.Equal("mkdir: cannot create directory '/etc': File exists\n", (await h.RunAsync("mkdir", "/etc")).Err);
        Assert.Equal(0, (await h.RunAsync("mkdir", "-p", "/etc", "/w/x/y")).Status);
        Assert.Equal("rmdir: failed to remove '/w': Directory not empty\n", (await h.RunAsync("rmdir", "/w")).Err);
        Assert.Equal("rm: cannot remove '/w': Is a directory\n", (await h.RunAsync("rm", "/w")).Err);
        Assert.Equal(0, (await h.RunAsync("rm", "-r", "/w")).Status);
        Assert.Equal(1, (await h.RunAsync("ls", "/w")).Status);
        var missing = await h.RunAsync("rm", "/w");
        Assert.Equal((1, "rm: cannot remove '/w': No such file or directory\n"), (missing.Status, missing.Err));
        Assert.Equal((0, string.Empty), ((await h.RunAsync("rm", "-f", "/w")).Status, (await h.RunAsync("rm", "-f", "/w")).Err));
        Assert.Equal(2, (await h.RunAsync("mkdir")).Status);
    }

    [Fact]
    public async Task Mv_IntoADirectory_AndMissingSource()
    {
        using var h = await ShellHarness.CreateAsync();
        Assert.Equal(0, (await h.RunAsync("mv", "/home/user/hello.txt", "/etc")).Status);
        Assert.Equal("hello\n", (await h.RunAsync("cat", "/etc/hello.txt")).Out);
        Assert.Equal("mv: cannot stat '/nope': No such file or directory\n", (await h.RunAsync("mv", "/nope", "/etc")).Err);
        Assert.Equal("mv: cannot move '/etc/hello.txt' to '/work/h': Invalid cross-device link\n", (await h.RunAsync("mv", "/etc/hello.txt", "/work/h")).Err);
    }

    [Fact]
    public async Task HardLink_CountsTwoLinks_AndExistingNameFails()
    {
        using var h = await ShellHarness.CreateAsync();
        Assert.Equal(0, (await h.RunAsync("ln", "/work/notes.txt", "/work/n2")).Status);
        Assert.Contains("Links: 2", (await h.RunAsync("stat", "/work/n2")).Out, StringComparison.Ordinal);
        Assert.Equal("ln: failed to create symbolic link '/work/n2': File exists\n", (await h.RunAsync("ln", "-s", "x", "/work/n2")).Err);
        Assert.Equal("readlink: /work/n2: Invalid argument\n", (await h.RunAsync("readlink", "/work/n2")).Err);
    }

    [Fact]
    public async Task Chmod_OctalAndSymbolic()
    {
        using var h = await ShellHarness.CreateAsync();
        await h.RunAsync("chmod", "600", "/work/notes.txt");
        Assert.StartsWith("-rw------- ", (await h.RunAsync("ls", "-l", "/work/notes.txt")).Out, StringComparison.Ordinal);
        await h.RunAsync("chmod", "u+x,go+r", "/work/notes.txt");
        Assert.StartsWith("-rwxr--r-- ", (await h.RunAsync("ls", "-l", "/work/notes.txt")).Out, StringComparison.Ordinal);
        Assert.Equal(2, (await h.RunAsync("chmod", "q+z", "/work/notes.txt")).Status);
        Assert.Equal("chmod: cannot access '/nope': No such file or directory\n", (await h.RunAsync("chmod", "600", "/nope")).Err);
    }

    [Fact]
    public async Task TouchAndTruncate()
    {
        using var h = await ShellHarness.CreateAsync();
        Assert.Equal(0, (await h.RunAsync("touch", "/work/new")).Status);
        Assert.Equal(0, (await h.RunAsync("truncate", "-s", "1K", "/work/new")).Status);
        Assert.Contains("Size: 1024 ", (await h.RunAsync("stat", "/work/new")).Out, StringComparison.Ordinal);
        Assert.Equal(2, (await h.RunAsync("truncate", "/work/new")).Status);
        Assert.Equal("truncate: cannot open '/data/readme.txt': Read-only file system\n", (await h.RunAsync("truncate", "-s", "0", "/data/readme.txt")).Err);
    }

    [Fact]
    public async Task Cp_HostToSandboxAndBack()
    {
        using var h = await ShellHarness.CreateAsync();
        var hostIn = Path.Combine(h.Dir, "in.txt");
        var hostOut = Path.Combine(h.Dir, "out.txt");
        await File.WriteAllTextAsync(hostIn, "from host\n");
        Assert.Equal(0, (await h.RunAsync("cp", "host:" + hostIn, "/work")).Status);
        Assert.Equal("from host\n", (await h.RunAsync("cat", "/work/in.txt")).Out);
        Assert.Equal(0, (await h.RunAsync("cp", "/home/user/hello.txt", "host:" + hostOut)).Status);
        Assert.Equal("hello\n", await File.ReadAllTextAsync(hostOut));
        Assert.Equal("cp: cannot create regular file '/data/in.txt': Read-only file system\n", (await h.RunAsync("cp", "host:" + hostIn, "/data")).Err);
        Assert.Equal("cp: cannot stat '/nope': No such file or directory\n", (await h.RunAsync("cp", "/nope", "/work")).Err);
        // Without the prefix a host path is a sandbox path.
        Assert.Equal(1, (await h.RunAsync("cp", hostIn, "/work/x")).Status);
    }

    [Fact]
    public async Task Mounts_ShowsFdCacheAndFlags()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunAsync("mounts");
        Assert.Equal(0, r.Status);
        Assert.Matches(new Regex(@"^DESTINATION +TYPE +SOURCE +FD +CACHE +OPTIONS$"), r.Lines[0]);
        Assert.Matches(new Regex(@"^/ +tmpfs +\S+/rootfs +0 +exclusive +rw$"), r.Lines[1]);
        Assert.Contains(r.Lines, l => Regex.IsMatch(l, @"^/work +tmpfs +\S+/work +1 +exclusive +rw$"));
        Assert.Contains(r.Lines, l => Regex.IsMatch(l, @"^/data +tmpfs +\S+/data-ro +2 +remote_revalidating +ro,nosuid,nodev$"));
        Assert.Contains(r.Lines, l => Regex.IsMatch(l, @"^/scratch +tmpfs +\S+ +- +- +rw"));
        Assert.Contains(r.Lines, l => Regex.IsMatch(l, @"^/proc +proc +proc +- +- +"));
        Assert.Contains(r.Lines, l => Regex.IsMatch(l, @"^/tmp +tmpfs +tmpfs +- +- +rw,mode=01777$"));
    }

    [Fact]
    public async Task Df_ListsFilesystemsWithBlocks()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunAsync("df");
        Assert.Matches(new Regex(@"^Filesystem +1K-blocks +Used +Available +Use% +Mounted on$"), r.Lines[0]);
        Assert.Contains(r.Lines, l => l.EndsWith(" /tmp", StringComparison.Ordinal));
        Assert.DoesNotContain(r.Lines, l => l.EndsWith(" /proc", StringComparison.Ordinal));
        Assert.Equal(2, (await h.RunAsync("df", "/work")).Lines.Length);
    }

    [Fact]
    public async Task Xattr_SetGetListRemove()
    {
        using var h = await ShellHarness.CreateAsync();
        Assert.Equal(0, (await h.RunAsync("xattr", "set", "/work/notes.txt", "user.k", "v1")).Status);
        Assert.Equal("v1\n", (await h.RunAsync("xattr", "get", "/work/notes.txt", "user.k")).Out);
        Assert.Equal("user.k\n", (await h.RunAsync("xattr", "list", "/work/notes.txt")).Out);
        Assert.Equal(0, (await h.RunAsync("xattr", "rm", "/work/notes.txt", "user.k")).Status);
        var r = await h.RunAsync("xattr", "get", "/work/notes.txt", "user.k");
        Assert.Equal((1, "xattr: /work/notes.txt: user.k: No data available\n"), (r.Status, r.Err));
        Assert.Equal(2, (await h.RunAsync("xattr", "frob", "/work/notes.txt")).Status);
    }

    [Fact]
    public async Task UnknownCommand_Is127()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunAsync("frobnicate");
        Assert.Equal(127, r.Status);
        Assert.StartsWith("gofer: frobnicate: command not found", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostPrefix_IsOnlyForCp()
    {
        using var h = await ShellHarness.CreateAsync();
        var r = await h.RunAsync("ls", "host:/etc");
        Assert.Equal(2, r.Status);
    }

    [Fact]
    public void ModeString_SpecialBits()
    {
        Assert.Equal("drwxrwxrwt", ShellText.ModeString(0x4000 | 0x3FF));
        Assert.Equal("-rwsr-Sr-T", ShellText.ModeString(0x8000 | 0x800 | 0x400 | 0x200 | 0x1E4));
        Assert.Equal("crw-rw-rw-", ShellText.ModeString(0x2000 | 0x1B6));
    }
}
