namespace Gofer.Hardening.Native;

// Values from the Linux UAPI headers (linux/sched.h, linux/mount.h, linux/prctl.h,
// linux/capability.h, linux/seccomp.h, linux/filter.h, linux/audit.h). They are the
// same on x86-64 and arm64; syscall numbers that differ per architecture live in SyscallNumbers.
internal static class LinuxConstants
{
    // unshare(2) flags (linux/sched.h).
    public const int CLONE_FILES = 0x00000400;
    public const int CLONE_NEWNS = 0x00020000;
    public const int CLONE_NEWUTS = 0x04000000;
    public const int CLONE_NEWIPC = 0x08000000;
    public const int CLONE_NEWPID = 0x20000000;
    public const int CLONE_NEWNET = 0x40000000;

    // mount(2) flags (linux/mount.h).
    public const ulong MS_RDONLY = 0x1;
    public const ulong MS_NOSUID = 0x2;
    public const ulong MS_NODEV = 0x4;
    public const ulong MS_NOEXEC = 0x8;
    public const ulong MS_SYNCHRONOUS = 0x10;
    public const ulong MS_REMOUNT = 0x20;
    public const ulong MS_MANDLOCK = 0x40;
    public const ulong MS_DIRSYNC = 0x80;
    public const ulong MS_NOATIME = 0x400;
    public const ulong MS_NODIRATIME = 0x800;
    public const ulong MS_BIND = 0x1000;
    public const ulong MS_REC = 0x4000;
    public const ulong MS_SILENT = 0x8000;
    public const ulong MS_POSIXACL = 0x10000;
    public const ulong MS_PRIVATE = 0x40000;
    public const ulong MS_RELATIME = 0x200000;
    public const ulong MS_I_VERSION = 0x800000;
    public const ulong MS_STRICTATIME = 0x1000000;

    public const int MNT_DETACH = 2;

    // New mount API (linux/mount.h), Linux 5.2+ (mount_setattr 5.12+).
    public const uint OPEN_TREE_CLONE = 1;
    public const uint OPEN_TREE_CLOEXEC = 0x80000; // == O_CLOEXEC
    public const uint AT_RECURSIVE = 0x8000;
    public const uint AT_EMPTY_PATH = 0x1000;
    public const int AT_FDCWD = -100;
    public const uint MOVE_MOUNT_F_EMPTY_PATH = 0x4;
    public const uint FSOPEN_CLOEXEC = 1;
    public const uint FSMOUNT_CLOEXEC = 1;
    public const uint FSCONFIG_SET_STRING = 1;
    public const uint FSCONFIG_SET_FD = 5;
    public const uint FSCONFIG_CMD_CREATE = 6;
    public const ulong MOUNT_ATTR_RDONLY = 0x1;
    public const ulong MOUNT_ATTR_NOSUID = 0x2;
    public const ulong MOUNT_ATTR_NODEV = 0x4;
    public const ulong MOUNT_ATTR_NOEXEC = 0x8;

    // open(2).
    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;
    public const int O_DIRECTORY = 0x10000;
    public const int F_DUPFD_CLOEXEC = 1030;

    // prctl(2) (linux/prctl.h).
    public const int PR_GET_DUMPABLE = 3;
    public const int PR_SET_DUMPABLE = 4;
    public const int PR_CAPBSET_DROP = 24;
    public const int PR_SET_NO_NEW_PRIVS = 38;
    public const int PR_CAP_AMBIENT = 47;
    public const int PR_CAP_AMBIENT_CLEAR_ALL = 4;
    public const int PR_SET_SECCOMP = 22;
    public const int SECCOMP_MODE_FILTER = 2;

    // capget/capset (linux/capability.h): version 3 uses two 32-bit data words per set.
    public const uint LINUX_CAPABILITY_VERSION_3 = 0x20080522;

    // posix_spawn attribute flags (glibc spawn.h).
    public const short POSIX_SPAWN_SETSIGDEF = 0x04;
    public const short POSIX_SPAWN_SETSIGMASK = 0x08;

    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int SIGINT = 2;
    public const int SIGCHLD = 17;

    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int ECHILD = 10;
    public const int EINVAL = 22;
    public const int ENOSYS = 38;
}

// Syscall numbers for the calls glibc only wraps from 2.36 on. The new mount API (428..442)
// was numbered identically on every architecture, so these hold on x86-64 and arm64 alike.
internal static class SyscallNumbers
{
    public const long OpenTree = 428;
    public const long MoveMount = 429;
    public const long FsOpen = 430;
    public const long FsConfig = 431;
    public const long FsMount = 432;
    public const long MountSetattr = 442;
}
