namespace Gofer.HostFs;

/// <summary>
/// The 9P2000.L numbers HostFs consumes and produces, as they appear on the wire (linux/include/net/9p/9p.h).
/// Kept here so the host layer can take wire words directly; the codec may define its own copies.
/// </summary>
internal static class P9L
{
    // qid.type (9P2000.L uses only DIR and SYMLINK; FILE is 0).
    public const byte QtDir = 0x80;
    public const byte QtSymlink = 0x02;
    public const byte QtFile = 0x00;

    // Tlopen/Tlcreate flags: fixed octal values on the wire, independent of the host architecture.
    public const uint ORdOnly = 0;
    public const uint OWrOnly = 1;
    public const uint ORdWr = 2;
    public const uint ONoAccess = 3;
    public const uint OAccMode = 3;
    public const uint OCreate = 0x40;       // 00000100
    public const uint OExcl = 0x80;         // 00000200
    public const uint ONoCtty = 0x100;      // 00000400
    public const uint OTrunc = 0x200;       // 00001000
    public const uint OAppend = 0x400;      // 00002000
    public const uint ONonBlock = 0x800;    // 00004000
    public const uint ODsync = 0x1000;      // 00010000
    public const uint OFasync = 0x2000;     // 00020000
    public const uint ODirect = 0x4000;     // 00040000
    public const uint OLargeFile = 0x8000;  // 00100000
    public const uint ODirectory = 0x10000; // 00200000
    public const uint ONoFollow = 0x20000;  // 00400000
    public const uint ONoAtime = 0x40000;   // 01000000
    public const uint OCloExec = 0x80000;   // 02000000
    public const uint OSync = 0x100000;     // 04000000

    // Tgetattr request_mask / Rgetattr valid.
    public const ulong GetAttrMode = 0x0001;
    public const ulong GetAttrNlink = 0x0002;
    public const ulong GetAttrUid = 0x0004;
    public const ulong GetAttrGid = 0x0008;
    public const ulong GetAttrRdev = 0x0010;
    public const ulong GetAttrAtime = 0x0020;
    public const ulong GetAttrMtime = 0x0040;
    public const ulong GetAttrCtime = 0x0080;
    public const ulong GetAttrIno = 0x0100;
    public const ulong GetAttrSize = 0x0200;
    public const ulong GetAttrBlocks = 0x0400;
    public const ulong GetAttrBtime = 0x0800;
    public const ulong GetAttrGen = 0x1000;
    public const ulong GetAttrDataVersion = 0x2000;
    public const ulong GetAttrBasic = 0x07FF;
    public const ulong GetAttrAll = 0x3FFF;

    // Tsetattr valid.
    public const uint SetAttrMode = 0x001;
    public const uint SetAttrUid = 0x002;
    public const uint SetAttrGid = 0x004;
    public const uint SetAttrSize = 0x008;
    public const uint SetAttrAtime = 0x010;
    public const uint SetAttrMtime = 0x020;
    public const uint SetAttrCtime = 0x040;
    public const uint SetAttrAtimeSet = 0x080;
    public const uint SetAttrMtimeSet = 0x100;

    // Tlock type / flags, Rlock status.
    public const byte LockTypeRead = 0;
    public const byte LockTypeWrite = 1;
    public const byte LockTypeUnlock = 2;
    public const uint LockFlagsBlock = 1;
    public const uint LockFlagsReclaim = 2;

    // Tunlinkat flags.
    public const uint AtRemoveDir = 0x200;

    // Txattrcreate flags.
    public const uint XattrCreate = 1;
    public const uint XattrReplace = 2;

    // Linux d_type values carried in Rreaddir entries.
    public const byte DtUnknown = 0;
    public const byte DtDir = 4;
    public const byte DtLnk = 10;
}

/// <summary>Rlock status.</summary>
internal enum LockStatus : byte
{
    Success = 0,
    Blocked = 1,
    Error = 2,
    Grace = 3,
}

/// <summary>qid[13] = type[1] version[4] path[8].</summary>
internal readonly record struct Qid(byte Type, uint Version, ulong Path);

/// <summary>The host file type a node refers to (fixed for the life of an fd: an inode never changes type).</summary>
internal enum NodeKind : byte
{
    Unknown,
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}
