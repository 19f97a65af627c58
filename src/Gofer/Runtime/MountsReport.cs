using System.Globalization;
using System.Text;
using Gofer.Spec;

namespace Gofer.Runtime;

/// <summary>One mount as a side resolved it: which gofer FD serves which destination from which host root.</summary>
public sealed record ResolvedMount(int Index, string Destination, string ResolvedDestination, string Source, bool ReadOnly)
{
    /// <summary>The view of a plan's gofer mounts (destinations must have been resolved).</summary>
    public static IReadOnlyList<ResolvedMount> FromPlan(MountPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return plan.GoferMounts
            .Select(m => new ResolvedMount(
                m.GoferIndex!.Value,
                m.Destination,
                m.ResolvedDestination ?? throw new ArgumentException("the plan's destinations are not resolved", nameof(plan)),
                m.Source!,
                m.GoferReadOnly))
            .ToList();
    }
}

/// <summary>A report that does not follow the format.</summary>
public sealed class MountsReportException : Exception
{
    public MountsReportException(string message)
        : base(message)
    {
    }

    public MountsReportException()
    {
    }

    public MountsReportException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// The <c>--mounts-fd</c> agreement. After resolving its mounts and before serving, the gofer writes
/// this report on the FD and closes it; the runtime reads to EOF and compares with its own plan.
/// <para>Format: UTF-8 text, one record per line ('\n'), fields separated by one space:</para>
/// <code>
/// gofer-mounts 1
/// mount INDEX ro|rw DESTINATION RESOLVED SOURCE     (one per gofer FD, INDEX = 0, 1, 2, ... in order)
/// end COUNT
/// </code>
/// DESTINATION and RESOLVED are container paths (RESOLVED has symlinks resolved inside the rootfs),
/// SOURCE the host directory served. In the three path fields every byte outside '!'..'~' and every
/// '%' is written as %XX (upper-case hex of the UTF-8 byte). A report without the end line is
/// truncated. At most <see cref="MaxBytes"/> bytes and <see cref="MaxMounts"/> mounts.
/// </summary>
public static class MountsReport
{
    /// <summary>Header line.</summary>
    public const string Header = "gofer-mounts 1";

    /// <summary>Bound on the report size the reader accepts.</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>Bound on the number of mounts.</summary>
    public const int MaxMounts = 4096;

    /// <summary>Formats a report.</summary>
    public static byte[] Format(IReadOnlyList<ResolvedMount> mounts)
    {
        ArgumentNullException.ThrowIfNull(mounts);
        var sb = new StringBuilder();
        sb.Append(Header).Append('\n');
        foreach (var m in mounts)
        {
            sb.Append("mount ").Append(m.Index.ToString(CultureInfo.InvariantCulture))
              .Append(m.ReadOnly ? " ro " : " rw ")
              .Append(Escape(m.Destination)).Append(' ')
              .Append(Escape(m.ResolvedDestination)).Append(' ')
              .Append(Escape(m.Source)).Append('\n');
        }

        sb.Append("end ").Append(mounts.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>Parses a complete report. Throws <see cref="MountsReportException"/> saying what is wrong.</summary>
    public static IReadOnlyList<ResolvedMount> Parse(ReadOnlySpan<byte> report)
    {
        if (report.Length > MaxBytes)
        {
            throw new MountsReportException($"mounts report: larger than {MaxBytes} bytes");
        }

        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(report);
        }
        catch (DecoderFallbackException)
        {
            throw new MountsReportException("mounts report: not valid UTF-8");
        }

        if (text.Length == 0)
        {
            throw new MountsReportException("mounts report: empty (the gofer wrote nothing)");
        }

        if (!text.EndsWith('\n'))
        {
            throw new MountsReportException("mounts report: truncated (no final newline)");
        }

        var lines = text[..^1].Split('\n');
        if (lines[0] != Header)
        {
            throw new MountsReportException($"mounts report: line 1: expected \"{Header}\"");
        }

        var mounts = new List<ResolvedMount>();
        for (var i = 1; i < lines.Length; i++)
        {
            var lineNo = i + 1;
            var f = lines[i].Split(' ');
            if (f[0] == "end")
            {
                if (i != lines.Length - 1)
                {
                    throw new MountsReportException($"mounts report: line {lineNo}: data after the end line");
                }

                if (f.Length != 2 || !int.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count != mounts.Count)
                {
                    throw new MountsReportException($"mounts report: line {lineNo}: end count does not match {mounts.Count} mount line(s)");
                }

                return mounts;
            }

            if (f[0] != "mount" || f.Length != 6)
            {
                throw new MountsReportException($"mounts report: line {lineNo}: expected \"mount INDEX ro|rw DESTINATION RESOLVED SOURCE\" or \"end COUNT\"");
            }

            if (mounts.Count >= MaxMounts)
            {
                throw new MountsReportException($"mounts report: more than {MaxMounts} mounts");
            }

            if (!int.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index != mounts.Count)
            {
                throw new MountsReportException($"mounts report: line {lineNo}: index must be {mounts.Count}");
            }

            if (f[2] is not ("ro" or "rw"))
            {
                throw new MountsReportException($"mounts report: line {lineNo}: access must be ro or rw");
            }

            mounts.Add(new ResolvedMount(index, Unescape(f[3], lineNo), Unescape(f[4], lineNo), Unescape(f[5], lineNo), f[2] == "ro"));
        }

        throw new MountsReportException("mounts report: truncated (no end line)");
    }

    /// <summary>
    /// Compares the runtime's view with the gofer's. Returns null when they agree, otherwise a message
    /// with both views, line by line.
    /// </summary>
    public static string? Compare(IReadOnlyList<ResolvedMount> runtime, IReadOnlyList<ResolvedMount> gofer)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(gofer);
        if (runtime.SequenceEqual(gofer))
        {
            return null;
        }

        var sb = new StringBuilder("the gofer resolved its mounts differently from the runtime's plan\n");
        sb.Append("runtime:\n");
        foreach (var m in runtime)
        {
            sb.Append("  ").Append(Describe(m)).Append('\n');
        }

        sb.Append("gofer:\n");
        foreach (var m in gofer)
        {
            sb.Append("  ").Append(Describe(m)).Append('\n');
        }

        return sb.ToString().TrimEnd('\n');
    }

    private static string Describe(ResolvedMount m) =>
        $"fd[{m.Index}] {m.Destination} -> {m.ResolvedDestination} from {m.Source} ({(m.ReadOnly ? "ro" : "rw")})";

    private static string Escape(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            if (b is > (byte)' ' and < 0x7f and not (byte)'%')
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    private static string Unescape(string field, int lineNo)
    {
        if (field.Length == 0)
        {
            throw new MountsReportException($"mounts report: line {lineNo}: empty field");
        }

        var bytes = new List<byte>(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            var c = field[i];
            if (c == '%')
            {
                if (i + 2 >= field.Length)
                {
                    throw new MountsReportException($"mounts report: line {lineNo}: incomplete %XX escape");
                }

                if (!byte.TryParse(field.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
                {
                    throw new MountsReportException($"mounts report: line {lineNo}: bad %XX escape");
                }

                bytes.Add(b);
                i += 2;
            }
            else if (c is > ' ' and < (char)0x7f)
            {
                bytes.Add((byte)c);
            }
            else
            {
                throw new MountsReportException($"mounts report: line {lineNo}: unescaped character in a path");
            }
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            throw new MountsReportException($"mounts report: line {lineNo}: escaped bytes are not valid UTF-8");
        }
    }
}
