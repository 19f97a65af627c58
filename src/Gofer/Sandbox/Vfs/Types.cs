namespace Gofer.Sandbox.Vfs;

/// <summary>File type bits of st_mode (S_IFMT), Linux values, so a 9P mode converts without a table.</summary>
internal enum FileType : uint
{
    Fifo = 0x1000,        // S_IFIFO
    CharDevice = 0x2000,  // S_IFCHR
    Directory = 0x4000,   // S_IFDIR
    BlockDevice = 0x6000, // S_IFBLK
    Regular = 0x8000,     // S_IFREG
    Symlink = 0xA000,     // S_IFLNK
    Socket = 0xC000,      // S_IFSOCK
}

internal static class Mode
{
    public const uint TypeMask = 0xF000;        // S_IFMT
    public const uint PermMask = 0xFFF;         // rwx for u/g/o plus setuid, setgid, sticky
    public const uint SetUid = 0x800;
    public const uint SetGid = 0x400;
    public const uint Sticky = 0x200;

    public static FileType TypeOf(uint mode) => (FileType)(mode & TypeMask);

    public static uint Make(FileType type, uint perm) => (uint)type | (perm & PermMask);
}

/// <summary>A Linux timespec: seconds and nanoseconds since the epoch (what 9P's Rgetattr carries).</summary>
internal readonly record struct Timespec(long Sec, long Nsec) : IComparable<Timespec>
{
    public static Timespec FromDateTimeOffset(DateTimeOffset t)
    {
        long ticks = t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        return new Timespec(Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rem), rem * 100);
    }

    public static Timespec Now() => FromDateTimeOffset(DateTimeOffset.UtcNow);

    public int CompareTo(Timespec other) => Sec != other.Sec ? Sec.CompareTo(other.Sec) : Nsec.CompareTo(other.Nsec);

    public static bool operator <(Timespec a, Timespec b) => a.CompareTo(b) < 0;

    public static bool operator >(Timespec a, Timespec b) => a.CompareTo(b) > 0;

    public static bool operator <=(Timespec a, Timespec b) => a.CompareTo(b) <= 0;

    public static bool operator >=(Timespec a, Timespec b) => a.CompareTo(b) >= 0;
}

/// <summary>What stat(2) reports; the field set of 9P2000.L Rgetattr's basic mask.</summary>
internal readonly record struct InodeAttr(
    ulong Ino,
    uint Mode,
    uint Nlink,
    uint Uid,
    uint Gid,
    ulong Rdev,
    long Size,
    long Blocks,
    Timespec Atime,
    Timespec Mtime,
    Timespec Ctime)
{
    public FileType Type => Sandbox.Vfs.Mode.TypeOf(Mode);

    public uint Perm => Mode & Sandbox.Vfs.Mode.PermMask;
}

/// <summary>Which fields a setattr changes; bit values follow 9P2000.L Tsetattr's valid mask.</summary>
[Flags]
internal enum SetAttrMask : uint
{
    None = 0,
    Mode = 0x1,
    Uid = 0x2,
    Gid = 0x4,
    Size = 0x8,
    Atime = 0x10,
    Mtime = 0x20,
    Ctime = 0x40,
    AtimeSet = 0x80,  // use the given atime rather than "now"
    MtimeSet = 0x100, // use the given mtime rather than "now"
}

/// <summary>A setattr request (chmod/chown/truncate/utimes), shaped like Tsetattr so a gofer fs forwards it as is.</summary>
internal readonly record struct SetAttr(
    SetAttrMask Mask,
    uint Mode = 0,
    uint Uid = 0,
    uint Gid = 0,
    long Size = 0,
    Timespec Atime = default,
    Timespec Mtime = default)
{
    public bool Has(SetAttrMask m) => (Mask & m) != 0;
}

/// <summary>statfs(2) result; Type is the f_type magic (TMPFS_MAGIC, V9FS_MAGIC, ...).</summary>
internal readonly record struct StatFs(
    ulong Type,
    uint BlockSize,
    ulong Blocks,
    ulong BlocksFree,
    ulong BlocksAvailable,
    ulong Files,
    ulong FilesFree,
    uint NameMax);

internal static class FsMagic
{
    public const ulong Tmpfs = 0x01021994;
    public const ulong V9fs = 0x01021997;
    public const ulong Overlay = 0x794c7630;
    public const ulong Proc = 0x9fa0;
    public const ulong Sysfs = 0x62656572;
    public const ulong Devpts = 0x1cd1;
}

/// <summary>One directory entry. Cookie is the position after this entry (9P Rreaddir's offset, d_off).</summary>
internal readonly record struct DirEntry(string Name, FileType Type, ulong Ino, long Cookie);

/// <summary>open(2) flags, Linux x86-64 values.</summary>
[Flags]
internal enum OpenFlags
{
    ReadOnly = 0,
    WriteOnly = 0x1,
    ReadWrite = 0x2,
    AccessMask = 0x3,
    Create = 0x40,       // O_CREAT
    Exclusive = 0x80,    // O_EXCL
    NoCtty = 0x100,
    Truncate = 0x200,    // O_TRUNC
    Append = 0x400,      // O_APPEND
    NonBlock = 0x800,
    Directory = 0x10000, // O_DIRECTORY
    NoFollow = 0x20000,  // O_NOFOLLOW
    CloseOnExec = 0x80000,
    Path = 0x200000,     // O_PATH
}

internal static class OpenFlagsExtensions
{
    public static bool CanRead(this OpenFlags f) => (f & OpenFlags.AccessMask) is OpenFlags.ReadOnly or OpenFlags.ReadWrite;

    public static bool CanWrite(this OpenFlags f) => (f & OpenFlags.AccessMask) is OpenFlags.WriteOnly or OpenFlags.ReadWrite;
}

/// <summary>setxattr(2) flags.</summary>
internal enum XattrSetFlags
{
    Any = 0,
    Create = 1,  // XATTR_CREATE: fail with EEXIST if present
    Replace = 2, // XATTR_REPLACE: fail with ENODATA if absent
}

/// <summary>renameat2(2) flags.</summary>
[Flags]
internal enum RenameFlags
{
    None = 0,
    NoReplace = 1, // RENAME_NOREPLACE
    Exchange = 2,  // RENAME_EXCHANGE (not supported: EINVAL)
}

/// <summary>Owner given to new files, and the identity permission checks (when added) would use.</summary>
internal readonly record struct Credentials(uint Uid, uint Gid)
{
    public static Credentials Root => new(0, 0);
}

/// <summary>access(2) mode bits.</summary>
[Flags]
internal enum AccessMode
{
    Exists = 0,
    Execute = 1,
    Write = 2,
    Read = 4,
}
