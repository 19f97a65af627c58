namespace P9.Protocol.Wire;

/// <summary>Protocol constants from the 9P2000.L grammar (linux include/net/9p/9p.h).</summary>
public static class P9Constants
{
    /// <summary>size[4] type[1] tag[2].</summary>
    public const int HeaderSize = 7;
    public const ushort NoTag = 0xFFFF;
    public const uint NoFid = 0xFFFFFFFF;
    public const uint NoUid = 0xFFFFFFFF;
    /// <summary>Most names in a Twalk, most qids in an Rwalk.</summary>
    public const int MaxWalkElements = 16;
    /// <summary>Headroom clients reserve for Tread/Twrite/Treaddir headers: payload ≤ msize − 24.</summary>
    public const int IoHeaderSize = 24;
    public const string Version = "9P2000.L";
    /// <summary>qid = type[1] version[4] path[8].</summary>
    public const int QidSize = 13;
    /// <summary>Rread/Rreaddir header: size[4] type[1] tag[2] count[4]; the payload may use msize − 11.</summary>
    public const int ReadReplyHeaderSize = 11;
    /// <summary>Twrite header: size[4] type[1] tag[2] fid[4] offset[8] count[4].</summary>
    public const int WriteRequestHeaderSize = 23;
    /// <summary>Fixed part of a directory entry: qid[13] offset[8] type[1] name-length[2].</summary>
    public const int DirentHeaderSize = 24;
    /// <summary>Frame cap before Tversion has negotiated msize: big enough for any Tversion, small enough that a
    /// hostile peer cannot make us buffer much before the session exists.</summary>
    public const int PreVersionMaxFrame = 8192;
    /// <summary>The kernel refuses an msize below this; servers should too.</summary>
    public const int MinMsize = 4096;
}

/// <summary>Message type byte. T is even, R = T + 1. Dropped 9P2000 codes are listed so they can be recognised.</summary>
public enum P9MessageType : byte
{
    Tlerror = 6, Rlerror = 7,
    Tstatfs = 8, Rstatfs = 9,
    Tlopen = 12, Rlopen = 13,
    Tlcreate = 14, Rlcreate = 15,
    Tsymlink = 16, Rsymlink = 17,
    Tmknod = 18, Rmknod = 19,
    Trename = 20, Rrename = 21,
    Treadlink = 22, Rreadlink = 23,
    Tgetattr = 24, Rgetattr = 25,
    Tsetattr = 26, Rsetattr = 27,
    Txattrwalk = 30, Rxattrwalk = 31,
    Txattrcreate = 32, Rxattrcreate = 33,
    Treaddir = 40, Rreaddir = 41,
    Tfsync = 50, Rfsync = 51,
    Tlock = 52, Rlock = 53,
    Tgetlock = 54, Rgetlock = 55,
    Tlink = 70, Rlink = 71,
    Tmkdir = 72, Rmkdir = 73,
    Trenameat = 74, Rrenameat = 75,
    Tunlinkat = 76, Runlinkat = 77,
    Tversion = 100, Rversion = 101,
    Tauth = 102, Rauth = 103,
    Tattach = 104, Rattach = 105,
    /// <summary>9P2000 only (dropped in .L; Terror never existed).</summary>
    Terror = 106, Rerror = 107,
    Tflush = 108, Rflush = 109,
    Twalk = 110, Rwalk = 111,
    /// <summary>9P2000 only (replaced by Tlopen).</summary>
    Topen = 112, Ropen = 113,
    /// <summary>9P2000 only (replaced by Tlcreate).</summary>
    Tcreate = 114, Rcreate = 115,
    Tread = 116, Rread = 117,
    Twrite = 118, Rwrite = 119,
    Tclunk = 120, Rclunk = 121,
    Tremove = 122, Rremove = 123,
    /// <summary>9P2000 only (replaced by Tgetattr).</summary>
    Tstat = 124, Rstat = 125,
    /// <summary>9P2000 only (replaced by Tsetattr).</summary>
    Twstat = 126, Rwstat = 127,
}

/// <summary>What a type byte means to a 9P2000.L peer.</summary>
public enum P9TypeClass : byte
{
    /// <summary>Not assigned in mainline 9P.</summary>
    Unknown = 0,
    /// <summary>A 9P2000.L request a server must handle.</summary>
    Request,
    /// <summary>A 9P2000.L reply.</summary>
    Reply,
    /// <summary>A request code that exists in 9P2000 but not in .L (Topen, Tcreate, Tstat, Twstat, Terror, Tlerror).</summary>
    DroppedRequest,
    /// <summary>A reply code that exists in 9P2000 but not in .L (Ropen, Rcreate, Rstat, Rwstat, Rerror).</summary>
    DroppedReply,
}

public static class P9MessageTypes
{
    private static readonly P9TypeClass[] Classes = BuildClasses();

    public static P9TypeClass Classify(byte type) => Classes[type];

    public static bool IsRequest(byte type) => Classes[type] == P9TypeClass.Request;

    public static bool IsReply(byte type) => Classes[type] == P9TypeClass.Reply;

    /// <summary>Name like "Twalk", or null for a code not assigned in mainline 9P.</summary>
    public static string? Name(byte type) => Classes[type] == P9TypeClass.Unknown ? null : ((P9MessageType)type).ToString();

    private static P9TypeClass[] BuildClasses()
    {
        var classes = new P9TypeClass[256];
        foreach (var t in Enum.GetValues<P9MessageType>())
        {
            bool isT = ((byte)t & 1) == 0;
            bool dropped = t is P9MessageType.Tlerror or P9MessageType.Terror or P9MessageType.Rerror
                or P9MessageType.Topen or P9MessageType.Ropen or P9MessageType.Tcreate or P9MessageType.Rcreate
                or P9MessageType.Tstat or P9MessageType.Rstat or P9MessageType.Twstat or P9MessageType.Rwstat;
            classes[(byte)t] = (isT, dropped) switch
            {
                (true, false) => P9TypeClass.Request,
                (false, false) => P9TypeClass.Reply,
                (true, true) => P9TypeClass.DroppedRequest,
                (false, true) => P9TypeClass.DroppedReply,
            };
        }
        return classes;
    }
}

/// <summary>qid.type bits (linux P9_QT*). Linux servers set only Dir and Symlink.</summary>
[Flags]
public enum QidType : byte
{
    File = 0x00,
    Link = 0x01,
    Symlink = 0x02,
    Tmp = 0x04,
    Auth = 0x08,
    Mount = 0x10,
    Excl = 0x20,
    Append = 0x40,
    Dir = 0x80,
}

/// <summary>Tgetattr request_mask / Rgetattr valid bits (P9_GETATTR_*).</summary>
[Flags]
public enum GetattrMask : ulong
{
    None = 0,
    Mode = 0x0001,
    Nlink = 0x0002,
    Uid = 0x0004,
    Gid = 0x0008,
    Rdev = 0x0010,
    Atime = 0x0020,
    Mtime = 0x0040,
    Ctime = 0x0080,
    Ino = 0x0100,
    Size = 0x0200,
    Blocks = 0x0400,
    Btime = 0x0800,
    Gen = 0x1000,
    DataVersion = 0x2000,
    /// <summary>Mode..Blocks: what the kernel asks for on every stat.</summary>
    Basic = 0x07FF,
    All = 0x3FFF,
}

/// <summary>Tsetattr valid bits (P9_ATTR_*). Only the bits set are to be honoured; the other fields carry junk.</summary>
[Flags]
public enum SetattrMask : uint
{
    None = 0,
    Mode = 0x001,
    Uid = 0x002,
    Gid = 0x004,
    Size = 0x008,
    Atime = 0x010,
    Mtime = 0x020,
    /// <summary>A hint only: there is no ctime value field.</summary>
    Ctime = 0x040,
    /// <summary>Set atime to atime_sec/nsec; without it, to the server's "now".</summary>
    AtimeSet = 0x080,
    MtimeSet = 0x100,
}

/// <summary>Tlopen/Tlcreate flags as fixed on the wire (x86 Linux octal values; the kernel translates host flags to these,
/// so a server must translate them bit by bit to its own host flags, never pass the word through).</summary>
[Flags]
public enum LopenFlags : uint
{
    ReadOnly = 0,
    WriteOnly = 0x1,
    ReadWrite = 0x2,
    NoAccess = 0x3,
    /// <summary>Mask for the access mode in the low two bits.</summary>
    AccessMask = 0x3,
    Create = 0x40,        // 00000100
    Excl = 0x80,          // 00000200
    NoCtty = 0x100,       // 00000400
    Trunc = 0x200,        // 00001000
    Append = 0x400,       // 00002000
    NonBlock = 0x800,     // 00004000
    Dsync = 0x1000,       // 00010000
    Fasync = 0x2000,      // 00020000
    Direct = 0x4000,      // 00040000
    LargeFile = 0x8000,   // 00100000
    Directory = 0x10000,  // 00200000
    NoFollow = 0x20000,   // 00400000
    NoAtime = 0x40000,    // 01000000
    CloExec = 0x80000,    // 02000000
    Sync = 0x100000,      // 04000000
}

/// <summary>Tlock/Tgetlock type (P9_LOCK_TYPE_*).</summary>
public enum LockType : byte
{
    ReadLock = 0,
    WriteLock = 1,
    Unlock = 2,
}

/// <summary>Tlock flags (P9_LOCK_FLAGS_*).</summary>
[Flags]
public enum LockFlags : uint
{
    None = 0,
    Block = 1,
    /// <summary>Reserved for lock reclaim after a server restart.</summary>
    Reclaim = 2,
}

/// <summary>Rlock status (P9_LOCK_*).</summary>
public enum LockStatus : byte
{
    Success = 0,
    Blocked = 1,
    Error = 2,
    Grace = 3,
}

/// <summary>Linux d_type in a Rreaddir entry (not the qid type).</summary>
public enum DirentType : byte
{
    Unknown = 0,
    Fifo = 1,
    CharDevice = 2,
    Directory = 4,
    BlockDevice = 6,
    Regular = 8,
    Symlink = 10,
    Socket = 12,
}

/// <summary>Tunlinkat flags: AT_REMOVEDIR is the only defined bit.</summary>
public static class UnlinkatFlags
{
    public const uint RemoveDir = 0x200;
}

/// <summary>Txattrcreate flags (Linux XATTR_* values).</summary>
public static class XattrFlags
{
    public const uint Create = 1;
    public const uint Replace = 2;
}
