#!/usr/bin/env python3
"""Generates Messages.g.cs (message structs, decoders, encoders, trace text) and the round-trip tests
from the 9P2000.L grammar below. Run from this folder: python3 gen_messages.py
Field kinds: u8 u16 u32 u64 qid s data names qids; an optional third item is the C# enum type."""
import os

M = [
 ("Tversion", "msize[4] version[s]", [("msize","u32"),("version","s")], "Negotiates msize and protocol version; resets the session."),
 ("Rversion", "msize[4] version[s]", [("msize","u32"),("version","s")], "The server's msize (≤ the client's) and version (\"9P2000.L\" or \"unknown\")."),
 ("Tauth", "afid[4] uname[s] aname[s] n_uname[4]", [("afid","u32"),("uname","s"),("aname","s"),("n_uname","u32")], "Asks for an authentication fid."),
 ("Rauth", "aqid[13]", [("aqid","qid")], "The auth fid's qid."),
 ("Tattach", "fid[4] afid[4] uname[s] aname[s] n_uname[4]", [("fid","u32"),("afid","u32"),("uname","s"),("aname","s"),("n_uname","u32")], "Attaches fid to the root of export aname as user n_uname."),
 ("Rattach", "qid[13]", [("qid","qid")], "The root's qid."),
 ("Rlerror", "ecode[4]", [("ecode","u32")], "The only error reply in 9P2000.L: a positive Linux errno."),
 ("Tflush", "oldtag[2]", [("oldtag","u16")], "Aborts the request with tag oldtag."),
 ("Rflush", "", [], "Acknowledges a Tflush; always after any reply to oldtag."),
 ("Twalk", "fid[4] newfid[4] nwname[2] nwname*(wname[s])", [("fid","u32"),("newfid","u32"),("wnames","names")], "Walks newfid from fid through up to 16 names."),
 ("Rwalk", "nwqid[2] nwqid*(qid[13])", [("qids","qids")], "The qids of the names walked (a short list means a partial walk)."),
 ("Tread", "fid[4] offset[8] count[4]", [("fid","u32"),("offset","u64"),("count","u32")], "Reads up to count bytes at offset."),
 ("Rread", "count[4] data[count]", [("data","data")], "The bytes read; the payload is a slice of the frame."),
 ("Twrite", "fid[4] offset[8] count[4] data[count]", [("fid","u32"),("offset","u64"),("data","data")], "Writes data at offset; the payload is a slice of the frame."),
 ("Rwrite", "count[4]", [("count","u32")], "Bytes written."),
 ("Tclunk", "fid[4]", [("fid","u32")], "Forgets fid (it is gone even if the reply is an error)."),
 ("Rclunk", "", [], "Acknowledges a Tclunk."),
 ("Tremove", "fid[4]", [("fid","u32")], "Removes the file and clunks fid (clunked even on failure)."),
 ("Rremove", "", [], "Acknowledges a Tremove."),
 ("Tstatfs", "fid[4]", [("fid","u32")], "File system statistics for the file system holding fid."),
 ("Rstatfs", "type[4] bsize[4] blocks[8] bfree[8] bavail[8] files[8] ffree[8] fsid[8] namelen[4]",
   [("type","u32"),("bsize","u32"),("blocks","u64"),("bfree","u64"),("bavail","u64"),("files","u64"),("ffree","u64"),("fsid","u64"),("namelen","u32")], "statfs(2) fields."),
 ("Tlopen", "fid[4] flags[4]", [("fid","u32"),("flags","u32","LopenFlags")], "Opens fid with wire open flags."),
 ("Rlopen", "qid[13] iounit[4]", [("qid","qid"),("iounit","u32")], "The opened file's qid and preferred I/O size (0 = msize − 24)."),
 ("Tlcreate", "fid[4] name[s] flags[4] mode[4] gid[4]", [("fid","u32"),("name","s"),("flags","u32","LopenFlags"),("mode","u32"),("gid","u32")], "Creates and opens name in directory fid; fid becomes the new file."),
 ("Rlcreate", "qid[13] iounit[4]", [("qid","qid"),("iounit","u32")], "The created file's qid and iounit."),
 ("Tsymlink", "fid[4] name[s] symtgt[s] gid[4]", [("fid","u32"),("name","s"),("symtgt","s"),("gid","u32")], "Creates symlink name → symtgt in directory fid."),
 ("Rsymlink", "qid[13]", [("qid","qid")], "The symlink's qid."),
 ("Tmknod", "dfid[4] name[s] mode[4] major[4] minor[4] gid[4]", [("dfid","u32"),("name","s"),("mode","u32"),("major","u32"),("minor","u32"),("gid","u32")], "Creates a device node, fifo or socket."),
 ("Rmknod", "qid[13]", [("qid","qid")], "The node's qid."),
 ("Trename", "fid[4] dfid[4] name[s]", [("fid","u32"),("dfid","u32"),("name","s")], "Legacy rename of fid into directory dfid as name."),
 ("Rrename", "", [], "Acknowledges a Trename."),
 ("Treadlink", "fid[4]", [("fid","u32")], "Reads the target of symlink fid."),
 ("Rreadlink", "target[s]", [("target","s")], "The symlink target."),
 ("Tgetattr", "fid[4] request_mask[8]", [("fid","u32"),("request_mask","u64","GetattrMask")], "Asks for the attributes in request_mask."),
 ("Rgetattr", "valid[8] qid[13] mode[4] uid[4] gid[4] nlink[8] rdev[8] size[8] blksize[8] blocks[8] atime_sec[8] atime_nsec[8] mtime_sec[8] mtime_nsec[8] ctime_sec[8] ctime_nsec[8] btime_sec[8] btime_nsec[8] gen[8] data_version[8]",
   [("valid","u64","GetattrMask"),("qid","qid"),("mode","u32"),("uid","u32"),("gid","u32"),("nlink","u64"),("rdev","u64"),("size","u64"),("blksize","u64"),("blocks","u64"),
    ("atime_sec","u64"),("atime_nsec","u64"),("mtime_sec","u64"),("mtime_nsec","u64"),("ctime_sec","u64"),("ctime_nsec","u64"),("btime_sec","u64"),("btime_nsec","u64"),("gen","u64"),("data_version","u64")],
   "Attributes; fields not in valid are present and zero."),
 ("Tsetattr", "fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime_sec[8] atime_nsec[8] mtime_sec[8] mtime_nsec[8]",
   [("fid","u32"),("valid","u32","SetattrMask"),("mode","u32"),("uid","u32"),("gid","u32"),("size","u64"),("atime_sec","u64"),("atime_nsec","u64"),("mtime_sec","u64"),("mtime_nsec","u64")],
   "Sets the attributes named in valid (the other fields carry junk)."),
 ("Rsetattr", "", [], "Acknowledges a Tsetattr."),
 ("Txattrwalk", "fid[4] newfid[4] name[s]", [("fid","u32"),("newfid","u32"),("name","s")], "Makes newfid an xattr fid for reading attribute name (empty = list)."),
 ("Rxattrwalk", "size[8]", [("size","u64")], "The attribute's exact size."),
 ("Txattrcreate", "fid[4] name[s] attr_size[8] flags[4]", [("fid","u32"),("name","s"),("attr_size","u64"),("flags","u32")], "Turns fid into an xattr fid for writing; the set happens at Tclunk."),
 ("Rxattrcreate", "", [], "Acknowledges a Txattrcreate."),
 ("Treaddir", "fid[4] offset[8] count[4]", [("fid","u32"),("offset","u64"),("count","u32")], "Reads directory entries from cookie offset, at most count bytes."),
 ("Rreaddir", "count[4] data[count]", [("data","data")], "Whole directory entries qid[13] offset[8] type[1] name[s]; count 0 = end."),
 ("Tfsync", "fid[4] datasync[4]", [("fid","u32"),("datasync","u32")], "fsync (datasync ≠ 0: fdatasync)."),
 ("Rfsync", "", [], "Acknowledges a Tfsync."),
 ("Tlock", "fid[4] type[1] flags[4] start[8] length[8] proc_id[4] client_id[s]",
   [("fid","u32"),("type","u8","LockType"),("flags","u32","LockFlags"),("start","u64"),("length","u64"),("proc_id","u32"),("client_id","s")], "POSIX record lock (length 0 = to end of file)."),
 ("Rlock", "status[1]", [("status","u8","LockStatus")], "Lock outcome."),
 ("Tgetlock", "fid[4] type[1] start[8] length[8] proc_id[4] client_id[s]",
   [("fid","u32"),("type","u8","LockType"),("start","u64"),("length","u64"),("proc_id","u32"),("client_id","s")], "Tests for a conflicting lock."),
 ("Rgetlock", "type[1] start[8] length[8] proc_id[4] client_id[s]",
   [("type","u8","LockType"),("start","u64"),("length","u64"),("proc_id","u32"),("client_id","s")], "The conflicting lock, or type Unlock."),
 ("Tlink", "dfid[4] fid[4] name[s]", [("dfid","u32"),("fid","u32"),("name","s")], "Hard-links fid as name in directory dfid."),
 ("Rlink", "", [], "Acknowledges a Tlink."),
 ("Tmkdir", "dfid[4] name[s] mode[4] gid[4]", [("dfid","u32"),("name","s"),("mode","u32"),("gid","u32")], "Creates directory name in dfid."),
 ("Rmkdir", "qid[13]", [("qid","qid")], "The directory's qid."),
 ("Trenameat", "olddirfid[4] oldname[s] newdirfid[4] newname[s]", [("olddirfid","u32"),("oldname","s"),("newdirfid","u32"),("newname","s")], "renameat(2) by directory fids."),
 ("Rrenameat", "", [], "Acknowledges a Trenameat."),
 ("Tunlinkat", "dirfd[4] name[s] flags[4]", [("dirfd","u32"),("name","s"),("flags","u32")], "unlinkat(2) (flags: AT_REMOVEDIR 0x200)."),
 ("Runlinkat", "", [], "Acknowledges a Tunlinkat."),
]

FIXED = {"u8":1,"u16":2,"u32":4,"u64":8,"qid":13}
CS = {"u8":"byte","u16":"ushort","u32":"uint","u64":"ulong","qid":"Qid"}
RD = {"u8":"U8","u16":"U16","u32":"U32","u64":"U64","qid":"Qid","s":"Str","data":"Data","names":"Names","qids":"Qids"}
HEX = {"flags","valid","request_mask"}

def pascal(n):
    return "".join(p[:1].upper()+p[1:] for p in n.split("_"))

def camel(n):
    p = pascal(n)
    c = p[:1].lower()+p[1:]
    return "@"+c if c in ("params","string","base","fixed","checked","event","lock") else c

def prop_type(f):
    k = f[1]
    if len(f) > 2: return f[2]
    if k in CS: return CS[k]
    return {"s":"ReadOnlySpan<byte>","data":"ReadOnlySpan<byte>","names":"WalkNames","qids":"QidList"}[k]

def param_type(f, variant):
    k = f[1]
    if len(f) > 2: return f[2]
    if k in CS: return CS[k]
    if k == "s": return "string" if variant == "str" else "ReadOnlySpan<byte>"
    if k == "data": return "ReadOnlySpan<byte>"
    if k == "names": return "ReadOnlySpan<string>" if variant == "str" else "WalkNames"
    if k == "qids": return "ReadOnlySpan<Qid>"

def write_expr(f):
    k = f[1]
    v = camel(f[0])
    if len(f) > 2: v = f"({CS[k]}){v}"
    return f"w.{RD[k]}({v});"

def gen_struct(name, grammar, fields, doc):
    L = []
    fixed = all(f[1] in FIXED for f in fields)
    body_fixed = sum(FIXED.get(f[1],0) for f in fields)
    var = [f for f in fields if f[1] not in FIXED]
    L.append(f"/// <summary>{doc}</summary>")
    L.append(f"public readonly ref partial struct {name}")
    L.append("{")
    L.append(f"    public const P9MessageType MessageType = P9MessageType.{name};")
    if fixed:
        L.append(f"    /// <summary>The whole frame: header 7 + body {body_fixed}.</summary>")
        L.append(f"    public const int FrameSize = {7+body_fixed};")
    L.append("")
    L.append("    public ushort Tag { get; init; }")
    for f in fields:
        L.append(f"    public {prop_type(f)} {pascal(f[0])} {{ get; init; }}")
    if any(f[1]=="data" for f in fields):
        L.append("")
        L.append("    /// <summary>count[4] of the payload.</summary>")
        L.append("    public int Count => Data.Length;")
    L.append("")
    L.append(f"    // size[4] {name} tag[2] {grammar}".rstrip())
    L.append(f"    public static P9DecodeError TryDecode(ReadOnlySpan<byte> frame, out {name} message)")
    L.append("    {")
    L.append("        var r = new WireReader(frame, MessageType);")
    for f in fields:
        rd = f"r.{RD[f[1]]}()"
        if len(f) > 2: rd = f"({f[2]}){rd}"
        L.append(f"        var {camel(f[0])} = {rd};")
        if f[1] == "names" or f[1] == "qids": pass
    L.append("        var error = r.Finish();")
    inits = ", ".join([ "Tag = r.Tag" ] + [f"{pascal(f[0])} = {camel(f[0])}" for f in fields])
    L.append(f"        message = error == P9DecodeError.None ? new {name} {{ {inits} }} : default;")
    L.append("        return error;")
    L.append("    }")
    variants = ["span"] + (["str"] if any(f[1] in ("s","names") for f in fields) else [])
    for variant in variants:
        params = "".join(f", {param_type(f, variant)} {camel(f[0])}" for f in fields)
        vparams = ", ".join(f"{param_type(f, variant)} {camel(f[0])}" for f in var)
        vargs = ", ".join(camel(f[0]) for f in var)
        args = "".join(f", {camel(f[0])}" for f in fields)
        L.append("")
        if fixed:
            size = "FrameSize"
        else:
            L.append(f"    /// <summary>Exact frame size for these variable fields.</summary>")
            L.append(f"    public static int GetFrameSize({vparams}) => {7+body_fixed} + " + " + ".join(f"WireSize.{RD[f[1]]}({camel(f[0])})" for f in var) + ";")
            size = f"GetFrameSize({vargs})"
            L.append("")
        L.append(f"    // size[4] {name} tag[2] {grammar}".rstrip())
        L.append(f"    public static int Encode(Span<byte> destination, ushort tag{params})")
        L.append("    {")
        L.append(f"        int frameSize = {size};")
        L.append(f"        Write(destination, frameSize, tag{args});")
        L.append("        return frameSize;")
        L.append("    }")
        L.append("")
        L.append(f"    // size[4] {name} tag[2] {grammar}".rstrip())
        L.append(f"    public static void Encode(IBufferWriter<byte> writer, ushort tag{params})")
        L.append("    {")
        L.append("        ArgumentNullException.ThrowIfNull(writer);")
        L.append(f"        int frameSize = {size};")
        L.append(f"        Write(writer.GetSpan(frameSize), frameSize, tag{args});")
        L.append("        writer.Advance(frameSize);")
        L.append("    }")
        L.append("")
        L.append(f"    private static void Write(Span<byte> destination, int frameSize, ushort tag{params})")
        L.append("    {")
        L.append("        var w = new WireWriter(destination, frameSize, MessageType, tag);")
        for f in fields:
            L.append("        " + write_expr(f))
        L.append("    }")
    # trace
    L.append("")
    L.append("    /// <summary>One line in the style of the Linux 9p debug output.</summary>")
    L.append("    public override string ToString()")
    L.append("    {")
    L.append(f"        var sb = new StringBuilder(\"{name} tag \").Append(Tag);")
    for f in fields:
        n, k = f[0], f[1]
        p = pascal(n)
        if k == "s": L.append(f"        TraceText.Str(sb, \"{n}\", {p});")
        elif k == "data": L.append(f"        sb.Append(\" count \").Append(Data.Length);")
        elif k == "names": L.append(f"        TraceText.Names(sb, {p});")
        elif k == "qids": L.append(f"        TraceText.Qids(sb, {p});")
        elif k == "qid": L.append(f"        sb.Append(\" {n} \").Append({p}.ToString());")
        elif n == "mode": L.append(f"        TraceText.Octal(sb, \"{n}\", {p});")
        elif n in HEX: L.append(f"        TraceText.Hex(sb, \"{n}\", (ulong){p});")
        elif len(f) > 2: L.append(f"        sb.Append(\" {n} \").Append(({CS[k]}){p});")
        else: L.append(f"        sb.Append(\" {n} \").Append({p});")
    L.append("        return sb.ToString();")
    L.append("    }")
    L.append("}")
    return "\n".join(L)

def gen_dispatch():
    L = ["    private static string FormatKnown(ReadOnlySpan<byte> frame, P9MessageType type)", "    {", "        switch (type)", "        {"]
    for (name, _, _, _) in M:
        L.append(f"            case P9MessageType.{name}: return {name}.TryDecode(frame, out var m{name}) is var e{name} && e{name} == P9DecodeError.None ? m{name}.ToString() : Bad(e{name});")
    L.append("            default: return Bad(P9DecodeError.UnsupportedMessage);")
    L += ["        }", "    }"]
    return "\n".join(L)

out = ["// <auto-generated> by Wire/Generator/gen_messages.py from the 9P2000.L grammar; edit the generator, not this file. </auto-generated>",
       "#nullable enable", "using System.Buffers;", "using System.Text;", "", "namespace P9.Protocol.Wire;", ""]
for m in M:
    out.append(gen_struct(*m))
    out.append("")
out.append("public static partial class P9Trace")
out.append("{")
out.append(gen_dispatch())
out.append("}")
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "..", "Messages.g.cs"), "w") as fh:
    fh.write("\n".join(out) + "\n")

# ---- round-trip tests ----
def sample(f, i):
    n, k = f[0], f[1]
    enum = f[2] if len(f) > 2 else None
    base = {"u8": f"(byte){3 + i % 200}", "u16": f"(ushort){1000 + i}", "u32": f"0x{0x1020304 + i * 0x11:x}u", "u64": f"0x0102030405060708UL + {i}UL"}
    if k in base:
        v = base[k]
        if enum: v = f"({enum})({v})" if k != "u8" else f"({enum}){i % 3}"
        return v
    if k == "qid": return f"new Qid(QidType.Dir, {7+i}u, 0x1122334455667788UL + {i}UL)"
    if k == "s": return f"\"{n}-é{i}\""
    if k == "data": return f"TestData.Bytes({17 + i})"
    if k == "names": return "new[] { \"usr\", \"bin\", \"ls\" }"
    if k == "qids": return "new[] { new Qid(QidType.Dir, 1, 2), new Qid(QidType.File, 3, 4) }"

def check(f, i, var):
    n, k = f[0], f[1]
    p = pascal(n)
    if k == "s": return f"        Assert.Equal({var}_{n}, Encoding.UTF8.GetString(m.{p}));"
    if k == "data": return f"        Assert.True({var}_{n}.AsSpan().SequenceEqual(m.{p}));"
    if k == "names": return f"        Assert.Equal({var}_{n}, TestData.Names(m.{p}));"
    if k == "qids": return f"        Assert.Equal({var}_{n}, TestData.Qids(m.{p}));"
    return f"        Assert.Equal({var}_{n}, m.{p});"

T = ["// <auto-generated> by src/P9.Protocol/Wire/Generator/gen_messages.py </auto-generated>", "using System.Buffers;", "using System.Text;", "using P9.Protocol.Wire;", "",
     "namespace P9.Protocol.Tests.Wire;", "", "public class RoundTripTests", "{"]
for idx, (name, _, fields, _) in enumerate(M):
    T.append("    [Fact]")
    T.append(f"    public void {name}_round_trips()")
    T.append("    {")
    for i, f in enumerate(fields):
        k = f[1]
        t = {"s":"string","data":"byte[]","names":"string[]","qids":"Qid[]"}.get(k)
        T.append(f"        {t or 'var'} v_{f[0]} = {sample(f, i + idx)};")
    args = "".join(f", v_{f[0]}" for f in fields)
    T.append("        var writer = new ArrayBufferWriter<byte>();")
    T.append(f"        {name}.Encode(writer, (ushort){idx + 1}{args});")
    T.append("        var buf = new byte[writer.WrittenCount];")
    T.append(f"        Assert.Equal(writer.WrittenCount, {name}.Encode(buf, (ushort){idx + 1}{args}));")
    T.append("        Assert.Equal(writer.WrittenSpan.ToArray(), buf);")
    T.append(f"        Assert.Equal(P9DecodeError.None, {name}.TryDecode(buf, out var m));")
    T.append(f"        Assert.Equal((ushort){idx + 1}, m.Tag);")
    for i, f in enumerate(fields):
        T.append(check(f, i, "v"))
    T.append(f"        Assert.StartsWith(\"{name} tag {idx + 1}\", P9Trace.Format(buf));")
    T.append(f"        Assert.Equal(P9DecodeError.TrailingBytes, {name}.TryDecode(TestData.WithExtraByte(buf), out _));")
    T.append(f"        Assert.Equal(P9DecodeError.WrongType, {name}.TryDecode(TestData.WithType(buf, {'111' if name != 'Rwalk' else '110'}), out _));")
    T.append("    }")
    T.append("")
T[-1] = "}"
test_dir = os.path.join(here, "..", "..", "..", "..", "tests", "P9.Protocol.Tests", "Wire")
os.makedirs(test_dir, exist_ok=True)
with open(os.path.join(test_dir, "RoundTripTests.g.cs"), "w") as fh:
    fh.write("\n".join(T) + "\n")
