using System.Buffers.Binary;
using System.Text;
using Gofer.Recording;
using P9.Protocol.Wire;

namespace Gofer.Fuzz;

/// <summary>
/// Cuts one recorded connection (a pcap/pcapng from <c>gofer serve --record</c>) into small, self-contained corpus
/// inputs: the corpus form of <see cref="CorpusTools.Derive"/> (whole frames, Tattach aname → ""), plus the recorded
/// replies to exactly those requests (<c>NAME.replies</c>, codec input).
/// <para>
/// A piece is <c>NAME=FROM..TO</c>. FROM is <c>^</c> (the connection's start) or a name: the piece starts at the last
/// <em>quiet point</em> at or before the first request naming it (<c>last:NAME</c>: the last such request). TO is a
/// name (the quiet point at or before the first request naming it after FROM) or <c>$</c> (the end). A quiet point is
/// a place in the stream where every fid the recorded replies granted, except the attach fids, has been clunked
/// again; a request names X when it is a Twalk with X among its names or a Tmkdir/Tlcreate/Tunlinkat of X. The Linux
/// kernel (cache=none) walks from the attach fid for each path lookup and clunks what it walked, so a quiet point
/// falls between nearly every two system calls, and a piece starting at one refers to no fid granted before it
/// except the attach fids.
/// </para>
/// <para>
/// Every piece that does not start at <c>^</c> is prefixed with the <em>mount prefix</em>: the requests from the
/// start to the quiet point before the first request naming PREFIX-END (Tversion, the Tattach of each user, and
/// whatever the client did before the workload, e.g. making its work directory), so it replays against a fresh
/// export like the original did. Pieces are then cut to MAX-BYTES, whole frames only (the prefix always kept), and
/// so are their replies, independently. With <c>--max-write N</c>, a Twrite carrying more than N bytes keeps its
/// first N (count to match): the kernel's page-sized writes would otherwise fill a piece with a few frames of data.
/// </para>
/// </summary>
internal static class CaptureSplitter
{
    private sealed record Request(byte[] Bytes, byte[]? Reply);

    /// <summary>The command line: <c>CAPTURE OUT-DIR PREFIX-END PIECE... [--max-bytes N] [--max-write N]</c>.</summary>
    public static int Command(IReadOnlyList<string> args)
    {
        int maxBytes = 8192, maxWrite = int.MaxValue;
        var positional = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] is "--max-bytes" or "--max-write" && i + 1 < args.Count && int.TryParse(args[i + 1], out int n) && n > 0)
            {
                if (args[i] == "--max-bytes")
                    maxBytes = n;
                else
                    maxWrite = n;
                i++;
            }
            else
            {
                positional.Add(args[i]);
            }
        }
        if (positional.Count < 4)
            return 2;
        return Run(positional[0], positional[1], positional[2], positional[3..], maxBytes, maxWrite);
    }

    public static int Run(string capture, string outDir, string prefixEnd, IReadOnlyList<string> specs, int maxBytes, int maxWrite)
    {
        var requests = ReadConnection(capture, maxWrite);
        if (requests.Count == 0)
        {
            Console.Error.WriteLine($"split: no 9P requests in {capture}");
            return 1;
        }
        var quiet = QuietPoints(requests);
        int prefixLength = QuietAtOrBefore(quiet, FirstNaming(requests, prefixEnd, 0)
            ?? throw new ArgumentException($"no request names '{prefixEnd}' (PREFIX-END)"));
        Directory.CreateDirectory(outDir);
        int failed = 0;
        foreach (string spec in specs)
        {
            var (name, from, to) = Parse(spec, requests, quiet);
            var frames = new List<Request>();
            if (from > 0)
                frames.AddRange(requests.Take(prefixLength));
            int keptPrefix = frames.Count;
            int bytes = frames.Sum(f => f.Bytes.Length);
            int taken = 0;
            for (int i = from; i < to && bytes + requests[i].Bytes.Length <= maxBytes; i++, taken++)
            {
                frames.Add(requests[i]);
                bytes += requests[i].Bytes.Length;
            }
            byte[] input = Concat(frames.Select(f => f.Bytes));
            // The replies to those requests, cut to MAX-BYTES on their own (whole frames): a few large Rread
            // frames would otherwise make the file many times the size of its requests.
            var kept = new List<byte[]>();
            int replyBytes = 0;
            foreach (var reply in frames.Where(f => f.Reply is not null).Select(f => f.Reply!))
            {
                if (replyBytes + reply.Length > maxBytes)
                    break;
                kept.Add(reply);
                replyBytes += reply.Length;
            }
            byte[] replies = Concat(kept);
            File.WriteAllBytes(Path.Combine(outDir, name), input);
            File.WriteAllBytes(Path.Combine(outDir, name + ".replies"), replies);
            string cut = taken < to - from ? $", cut to {taken} of {to - from} requests" : "";
            Console.WriteLine($"{name}: requests {from}..{to}{(from > 0 ? $" after the {keptPrefix}-request mount prefix" : "")}{cut}; " +
                $"{input.Length} bytes, {kept.Count} replies {replies.Length} bytes");
            if (!Compare(name, input, frames))
                failed++;
        }
        return failed == 0 ? 0 : 1;
    }

    /// <summary>The requests of the capture's one connection, in order, each with the reply the server sent to it.</summary>
    private static List<Request> ReadConnection(string capture, int maxWrite)
    {
        var requests = new List<byte[]>();
        var replies = new Dictionary<int, byte[]>();
        var pending = new Dictionary<ushort, int>();
        using var stream = File.OpenRead(capture);
        foreach (var frame in P9CaptureReader.ReadFrames(stream, warn: w => throw new InvalidDataException($"{capture}: {w}")))
        {
            if (frame.Stream != 0)
                throw new InvalidDataException($"{capture}: more than one connection (split reads one, as gofer serve --record writes)");
            if (frame.Direction == P9Direction.ClientToServer)
            {
                pending[frame.Tag] = requests.Count;
                requests.Add(frame.Bytes);
            }
            else if (pending.Remove(frame.Tag, out int index))
            {
                replies[index] = frame.Bytes;
            }
        }
        return [.. requests.Select((r, i) => new Request(CorpusTools.Derive(ShortenWrite(r, maxWrite)), replies.GetValueOrDefault(i)))];
    }

    /// <summary>A Twrite carrying more than <paramref name="maxWrite"/> bytes, re-encoded with its first
    /// <paramref name="maxWrite"/> (count to match); every other frame as it was.</summary>
    private static byte[] ShortenWrite(byte[] frame, int maxWrite)
    {
        if ((P9MessageType)frame[4] != P9MessageType.Twrite || Twrite.TryDecode(frame, out var w) != P9DecodeError.None || w.Data.Length <= maxWrite)
            return frame;
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        Twrite.Encode(output, w.Tag, w.Fid, w.Offset, w.Data[..maxWrite]);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>quiet[i]: before request i, no fid but the attach fids is live (per the recorded replies).</summary>
    private static bool[] QuietPoints(List<Request> requests)
    {
        var quiet = new bool[requests.Count + 1];
        var attach = new HashSet<uint>();
        var live = new HashSet<uint>();
        for (int i = 0; i < requests.Count; i++)
        {
            quiet[i] = live.IsSubsetOf(attach);
            var req = requests[i].Bytes;
            var reply = requests[i].Reply;
            bool ok = reply is not null && reply[4] == req[4] + 1;
            switch ((P9MessageType)req[4])
            {
                case P9MessageType.Tversion:
                    live.Clear();
                    attach.Clear();
                    break;
                case P9MessageType.Tattach when ok && Tattach.TryDecode(req, out var a) == P9DecodeError.None:
                    live.Add(a.Fid);
                    attach.Add(a.Fid);
                    break;
                case P9MessageType.Twalk when ok && Twalk.TryDecode(req, out var w) == P9DecodeError.None
                                             && Rwalk.TryDecode(reply, out var rw) == P9DecodeError.None
                                             && rw.Qids.Count == w.Wnames.Count:
                    live.Add(w.Newfid);
                    break;
                case P9MessageType.Txattrwalk when ok && Txattrwalk.TryDecode(req, out var x) == P9DecodeError.None:
                    live.Add(x.Newfid);
                    break;
                case P9MessageType.Tclunk:
                case P9MessageType.Tremove:
                    uint fid = BinaryPrimitives.ReadUInt32LittleEndian(req.AsSpan(7));
                    live.Remove(fid);
                    attach.Remove(fid);
                    break;
            }
        }
        quiet[requests.Count] = true;
        return quiet;
    }

    private static bool Names(byte[] request, ReadOnlySpan<byte> name)
    {
        switch ((P9MessageType)request[4])
        {
            case P9MessageType.Twalk when Twalk.TryDecode(request, out var w) == P9DecodeError.None:
                foreach (var n in w.Wnames)
                {
                    if (n.SequenceEqual(name))
                        return true;
                }
                return false;
            case P9MessageType.Tmkdir when Tmkdir.TryDecode(request, out var m) == P9DecodeError.None:
                return m.Name.SequenceEqual(name);
            case P9MessageType.Tlcreate when Tlcreate.TryDecode(request, out var c) == P9DecodeError.None:
                return c.Name.SequenceEqual(name);
            case P9MessageType.Tunlinkat when Tunlinkat.TryDecode(request, out var u) == P9DecodeError.None:
                return u.Name.SequenceEqual(name);
            default:
                return false;
        }
    }

    private static int? FirstNaming(List<Request> requests, string name, int start)
    {
        byte[] n = Encoding.UTF8.GetBytes(name);
        for (int i = start; i < requests.Count; i++)
        {
            if (Names(requests[i].Bytes, n))
                return i;
        }
        return null;
    }

    private static int? LastNaming(List<Request> requests, string name)
    {
        byte[] n = Encoding.UTF8.GetBytes(name);
        for (int i = requests.Count - 1; i >= 0; i--)
        {
            if (Names(requests[i].Bytes, n))
                return i;
        }
        return null;
    }

    private static int QuietAtOrBefore(bool[] quiet, int index)
    {
        while (index > 0 && !quiet[index])
            index--;
        return index;
    }

    private static (string Name, int From, int To) Parse(string spec, List<Request> requests, bool[] quiet)
    {
        int eq = spec.IndexOf('=', StringComparison.Ordinal);
        int dots = spec.IndexOf("..", StringComparison.Ordinal);
        if (eq <= 0 || dots < eq)
            throw new ArgumentException($"piece '{spec}' is not NAME=FROM..TO");
        string name = spec[..eq], from = spec[(eq + 1)..dots], to = spec[(dots + 2)..];
        int start = from switch
        {
            "^" => 0,
            _ when from.StartsWith("last:", StringComparison.Ordinal) => QuietAtOrBefore(quiet, LastNaming(requests, from[5..])
                ?? throw new ArgumentException($"piece {name}: no request names '{from[5..]}'")),
            _ => QuietAtOrBefore(quiet, FirstNaming(requests, from, 0) ?? throw new ArgumentException($"piece {name}: no request names '{from}'")),
        };
        int end = to is "$" or ""
            ? requests.Count
            : QuietAtOrBefore(quiet, FirstNaming(requests, to, start + 1) ?? throw new ArgumentException($"piece {name}: no request names '{to}' after its start"));
        if (end <= start)
            throw new ArgumentException($"piece {name}: empty ({start}..{end})");
        return (name, start, end);
    }

    /// <summary>
    /// Replays the piece through the session target and compares each reply with the recorded one (type, and errno
    /// for Rlerror): says how far the piece replays as it did against the real client. A finding fails the split.
    /// </summary>
    private static bool Compare(string name, byte[] input, List<Request> frames)
    {
        var replayed = new List<byte[]>();
        SessionTarget.OnReply = (_, reply) => replayed.Add(reply);
        string? finding;
        try
        {
            finding = Targets.RunOne(SessionTarget.Run, input);
        }
        finally
        {
            SessionTarget.OnReply = null;
        }
        if (finding is not null)
        {
            Console.WriteLine($"  FINDING in {name}: {finding}");
            return false;
        }
        int same = 0;
        var differences = new List<string>();
        for (int i = 0; i < frames.Count && i < replayed.Count; i++)
        {
            var recorded = frames[i].Reply;
            if (recorded is not null && Outcome(recorded) == Outcome(replayed[i]))
                same++;
            else if (differences.Count < 3)
                differences.Add($"#{i} {P9Trace.Format(frames[i].Bytes)}: recorded {(recorded is null ? "no reply" : Outcome(recorded))}, replayed {Outcome(replayed[i])}");
        }
        Console.WriteLine($"  replay: {replayed.Count} replies to {frames.Count} requests, {same} as recorded (type and errno)");
        foreach (string d in differences)
            Console.WriteLine("    " + d);
        return true;
    }

    private static string Outcome(byte[] reply) =>
        (P9MessageType)reply[4] == P9MessageType.Rlerror && Rlerror.TryDecode(reply, out var e) == P9DecodeError.None
            ? $"Rlerror {e.Ecode}"
            : P9MessageTypes.Name(reply[4]) ?? $"type {reply[4]}";

    private static byte[] Concat(IEnumerable<byte[]> parts)
    {
        using var ms = new MemoryStream();
        foreach (var p in parts)
            ms.Write(p);
        return ms.ToArray();
    }
}
