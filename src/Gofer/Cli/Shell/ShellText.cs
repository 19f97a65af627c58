using System.Globalization;
using System.Text;
using Gofer.Sandbox.Vfs;

namespace Gofer.Cli.Shell;

/// <summary>A command line used wrongly: exit status 2, the message on stderr.</summary>
internal sealed class ShellUsageException : Exception
{
    public ShellUsageException(string message)
        : base(message)
    {
    }

    public ShellUsageException()
    {
    }

    public ShellUsageException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>Text helpers: words of a command line, strerror, coreutils-style mode strings and dates.</summary>
internal static class ShellText
{
    /// <summary>
    /// Splits a line into words the way a small POSIX shell does: blanks separate words; '…' is literal;
    /// "…" keeps blanks and takes \" \\ \$ \` as escapes; a backslash outside quotes escapes the next character;
    /// '#' at the start of a word begins a comment. Returns null for an unterminated quote.
    /// </summary>
    public static List<string>? SplitWords(string line, out string? error)
    {
        error = null;
        var words = new List<string>();
        var cur = new StringBuilder();
        bool inWord = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (c is ' ' or '\t' or '\r' or '\n')
            {
                if (inWord)
                {
                    words.Add(cur.ToString());
                    cur.Clear();
                    inWord = false;
                }

                continue;
            }

            if (c == '#' && !inWord)
            {
                break;
            }

            inWord = true;
            if (c == '\'')
            {
                int end = line.IndexOf('\'', i + 1);
                if (end < 0)
                {
                    error = "unterminated quote (')";
                    return null;
                }

                cur.Append(line, i + 1, end - i - 1);
                i = end;
            }
            else if (c == '"')
            {
                int j = i + 1;
                for (; j < line.Length && line[j] != '"'; j++)
                {
                    if (line[j] == '\\' && j + 1 < line.Length && line[j + 1] is '"' or '\\' or '$' or '`')
                    {
                        j++;
                    }

                    cur.Append(line[j]);
                }

                if (j >= line.Length)
                {
                    error = "unterminated quote (\")";
                    return null;
                }

                i = j;
            }
            else if (c == '\\')
            {
                if (i + 1 < line.Length)
                {
                    cur.Append(line[++i]);
                }
            }
            else
            {
                cur.Append(c);
            }
        }

        if (inWord)
        {
            words.Add(cur.ToString());
        }

        return words;
    }

    /// <summary>Linux strerror(3) text for the errnos the VFS reports.</summary>
    public static string StrError(Errno e) => e switch
    {
        Errno.EPERM => "Operation not permitted",
        Errno.ENOENT => "No such file or directory",
        Errno.EIO => "Input/output error",
        Errno.ENXIO => "No such device or address",
        Errno.E2BIG => "Argument list too long",
        Errno.EBADF => "Bad file descriptor",
        Errno.EAGAIN => "Resource temporarily unavailable",
        Errno.ENOMEM => "Cannot allocate memory",
        Errno.EACCES => "Permission denied",
        Errno.EBUSY => "Device or resource busy",
        Errno.EEXIST => "File exists",
        Errno.EXDEV => "Invalid cross-device link",
        Errno.ENODEV => "No such device",
        Errno.ENOTDIR => "Not a directory",
        Errno.EISDIR => "Is a directory",
        Errno.EINVAL => "Invalid argument",
        Errno.EFBIG => "File too large",
        Errno.ENOSPC => "No space left on device",
        Errno.ESPIPE => "Illegal seek",
        Errno.EROFS => "Read-only file system",
        Errno.EMLINK => "Too many links",
        Errno.ERANGE => "Numerical result out of range",
        Errno.ENAMETOOLONG => "File name too long",
        Errno.ENOSYS => "Function not implemented",
        Errno.ENOTEMPTY => "Directory not empty",
        Errno.ELOOP => "Too many levels of symbolic links",
        Errno.ENODATA => "No data available",
        Errno.EOPNOTSUPP => "Operation not supported",
        _ => "Unknown error " + ((int)e).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>ls -l's ten-character mode: type, then rwx for user/group/other with s/S/t/T for the special bits.</summary>
    public static string ModeString(uint mode)
    {
        var s = new char[10];
        s[0] = Mode.TypeOf(mode) switch
        {
            FileType.Directory => 'd',
            FileType.Symlink => 'l',
            FileType.CharDevice => 'c',
            FileType.BlockDevice => 'b',
            FileType.Fifo => 'p',
            FileType.Socket => 's',
            _ => '-',
        };
        for (int who = 0; who < 3; who++)
        {
            int shift = 6 - (who * 3);
            s[1 + (who * 3)] = (mode >> (shift + 2) & 1) != 0 ? 'r' : '-';
            s[2 + (who * 3)] = (mode >> (shift + 1) & 1) != 0 ? 'w' : '-';
            bool x = (mode >> shift & 1) != 0;
            uint special = who switch { 0 => Mode.SetUid, 1 => Mode.SetGid, _ => Mode.Sticky };
            char on = who == 2 ? 't' : 's';
            s[3 + (who * 3)] = (mode & special) != 0 ? (x ? on : char.ToUpperInvariant(on)) : (x ? 'x' : '-');
        }

        return new string(s);
    }

    /// <summary>GNU stat's %F.</summary>
    public static string FileTypeName(InodeAttr a) => a.Type switch
    {
        FileType.Regular => a.Size == 0 ? "regular empty file" : "regular file",
        FileType.Directory => "directory",
        FileType.Symlink => "symbolic link",
        FileType.CharDevice => "character special file",
        FileType.BlockDevice => "block special file",
        FileType.Fifo => "fifo",
        FileType.Socket => "socket",
        _ => "weird file",
    };

    public static DateTimeOffset ToLocal(Timespec t) =>
        TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeSeconds(t.Sec).AddTicks(t.Nsec / 100), TimeZoneInfo.Local);

    /// <summary>ls -l's date: "Mon dd HH:MM" within the last six months, "Mon dd  YYYY" otherwise (coreutils' rule).</summary>
    public static string LsDate(Timespec t, DateTimeOffset now)
    {
        var d = ToLocal(t);
        bool recent = d <= now.AddMinutes(1) && d > now.AddDays(-182.5);
        string month = CultureInfo.InvariantCulture.DateTimeFormat.GetAbbreviatedMonthName(d.Month);
        string day = d.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2);
        return recent
            ? string.Create(CultureInfo.InvariantCulture, $"{month} {day} {d:HH\\:mm}")
            : string.Create(CultureInfo.InvariantCulture, $"{month} {day}  {d.Year}");
    }

    /// <summary>GNU stat's timestamp: "2024-01-02 03:04:05.123456789 +0000".</summary>
    public static string StatDate(Timespec t)
    {
        var d = ToLocal(t);
        var off = d.Offset;
        string sign = off < TimeSpan.Zero ? "-" : "+";
        off = off.Duration();
        return string.Create(CultureInfo.InvariantCulture, $"{d:yyyy-MM-dd HH:mm:ss}.{t.Nsec:D9} {sign}{off.Hours:D2}{off.Minutes:D2}");
    }

    /// <summary>Major and minor of a Linux dev_t (glibc's gnu_dev_major/minor).</summary>
    public static (uint Major, uint Minor) DevNumbers(ulong dev) =>
        ((uint)(((dev >> 32) & 0xFFFFF000) | ((dev >> 8) & 0xFFF)), (uint)(((dev >> 12) & 0xFFFFFF00) | (dev & 0xFF)));

    /// <summary>Joins a directory and a name without doubling the slash.</summary>
    public static string Join(string dir, string name) => dir.EndsWith('/') ? dir + name : dir + "/" + name;

    /// <summary>The last component of a path ("" for "/").</summary>
    public static string BaseName(string path)
    {
        var trimmed = path.TrimEnd('/');
        int slash = trimmed.LastIndexOf('/');
        return slash < 0 ? trimmed : trimmed[(slash + 1)..];
    }

    /// <summary>Sizes like truncate -s and tmpfs size=: N with an optional K/M/G (1024-based) suffix.</summary>
    public static bool TryParseSize(string s, out long size)
    {
        size = 0;
        if (s.Length == 0)
        {
            return false;
        }

        long mult = char.ToUpperInvariant(s[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1 };
        var digits = mult == 1 ? s : s[..^1];
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n > long.MaxValue / mult)
        {
            return false;
        }

        size = n * mult;
        return true;
    }
}
