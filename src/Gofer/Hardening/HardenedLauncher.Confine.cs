using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gofer.Hardening.Native;
using static Gofer.Hardening.Native.LinuxConstants;

namespace Gofer.Hardening;

/// <summary>The step of the confinement that failed, reported with its errno.</summary>
internal enum ConfineStep
{
    None = 0,
    Unshare,
    MakeMountsPrivate,
    CloneTree,
    SetTreeAttributes,
    OpenNamespaceDirectory,
    StartInit,
    OpenPidNamespace,
    ProcOpen,
    ProcConfigure,
    ProcCreate,
    ProcMount,
    RootOpen,
    RootConfigure,
    RootCreate,
    RootMount,
    RootAttach,
    MakeDirectory,
    MakeFile,
    MakeSymlink,
    AttachTree,
    AttachProc,
    RootReadOnly,
    EnterRoot,
    PivotRoot,
    DetachOldRoot,
    ChangeToRoot,
    DropBoundingCapability,
    ClearAmbientCapabilities,
    ClearInheritableCapabilities,
    NoNewPrivileges,
    Seccomp,
    Spawn,
}

internal enum TreeOpKind
{
    Directory = 1,
    File = 2,
    Symlink = 3,
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct BindOp
{
    public byte* Source;       // host path (absolute)
    public byte* Target;       // path relative to the private root
    public ulong Attributes;   // MOUNT_ATTR_* to set on the whole cloned tree
    public int Recursive;
    public int TreeFd;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct TreeOp
{
    public TreeOpKind Kind;
    public byte* Path;         // relative to the private root
    public byte* LinkTarget;   // symlinks only
}

// struct mount_attr (linux/mount.h), MOUNT_ATTR_SIZE_VER0 = 32.
[StructLayout(LayoutKind.Sequential)]
internal struct MountAttr
{
    public ulong AttrSet;
    public ulong AttrClr;
    public ulong Propagation;
    public ulong UsernsFd;
}

/// <summary>Everything the confining thread needs, in unmanaged memory, plus its results.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ConfinePlan
{
    public int UnshareFlags;
    public int MountProc;
    public BindOp* Binds;
    public int BindCount;
    public TreeOp* Tree;
    public int TreeCount;
    public int* DropCapabilities;
    public int DropCapabilityCount;
    public byte* Executable;
    public byte** Argv;
    public byte** Envp;
    public void* FileActions;
    public void* SpawnAttributes;
    public void* SeccompProgram; // struct sock_fprog*, null for none

    // C strings the syscalls take.
    public byte* Empty;
    public byte* Slash;
    public byte* Dot;
    public byte* ProcName;
    public byte* TmpfsName;
    public byte* PidnsKey;
    public byte* ModeKey;
    public byte* ModeValue;
    public byte* NamespaceDirectory;
    public byte* PidForChildren;
    public byte* AttachPoint;

    // The PID namespace's init: a stack for clone and the signal set it suspends on.
    public byte* InitStackTop;
    public void* InitSignals;

    // Results.
    public int InitPid;
    public int Pid;
    public ConfineStep FailedStep;
    public int Errno;
}

internal static partial class HardenedLauncher
{
    private static unsafe void ConfiningThreadMain(object? state)
    {
        Confine((ConfinePlan*)(nint)state!);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe int Fail(ConfinePlan* plan, ConfineStep step, int errno)
    {
        plan->FailedStep = step;
        plan->Errno = errno;
        return -1;
    }

    /// <summary>
    /// Runs on a dedicated thread that is discarded afterwards. From the unshare on, this thread
    /// alone is in the new mount/PID/IPC/UTS(/net) namespaces and has its own root: Linux keeps
    /// mount namespace and root per thread (nsproxy, and fs_struct once CLONE_FS is unshared,
    /// which CLONE_NEWNS implies), and the bounding set, inheritable set and no_new_privs are
    /// per thread too. posix_spawn's child copies exactly this thread's state.
    /// Compiled before the thread starts (AggressiveOptimization: no tiering, no call counting),
    /// and calls nothing managed but <see cref="Fail"/>: see <see cref="ConfinedLibc"/> for why.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe void Confine(ConfinePlan* p)
    {
        int nsDirFd = -1, pidNsFd = -1, procCtx = -1, procMnt = -1, rootCtx = -1, rootMnt = -1;
        for (int i = 0; i < p->BindCount; i++)
        {
            p->Binds[i].TreeFd = -1;
        }

        // 1. New namespaces for this thread only (allowed in a multithreaded process: neither
        //    CLONE_NEWNS nor CLONE_NEWPID needs a single-threaded caller; CLONE_NEWUSER would).
        if (ConfinedLibc.Unshare(p->UnshareFlags) != 0)
        {
            Fail(p, ConfineStep.Unshare, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        // 2. Nothing done from here may propagate back to the host's mount table.
        if (ConfinedLibc.Mount(null, p->Slash, null, MS_REC | MS_PRIVATE, null) != 0)
        {
            Fail(p, ConfineStep.MakeMountsPrivate, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        // 3. Clone every source tree while host paths still resolve: detached copies, flags
        //    applied to every mount in the tree before it is visible anywhere (mount_setattr
        //    with AT_RECURSIVE covers submounts, which a bind + MS_REMOUNT|MS_RDONLY does not).
        MountAttr attr = default;
        for (int i = 0; i < p->BindCount; i++)
        {
            BindOp* b = &p->Binds[i];
            long fd = ConfinedLibc.Syscall(
                SyscallNumbers.OpenTree, AT_FDCWD, (long)b->Source,
                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (b->Recursive != 0 ? AT_RECURSIVE : 0), 0, 0, 0);
            if (fd < 0)
            {
                Fail(p, ConfineStep.CloneTree, *ConfinedLibc.ErrnoLocation());
                goto Cleanup;
            }

            b->TreeFd = (int)fd;
            attr.AttrSet = b->Attributes;
            attr.AttrClr = 0;
            attr.Propagation = MS_PRIVATE;
            attr.UsernsFd = 0;
            if (ConfinedLibc.Syscall(
                    SyscallNumbers.MountSetattr, fd, (long)p->Empty,
                    AT_EMPTY_PATH | (b->Recursive != 0 ? AT_RECURSIVE : 0), (long)&attr, sizeof(MountAttr), 0) != 0)
            {
                Fail(p, ConfineStep.SetTreeAttributes, *ConfinedLibc.ErrnoLocation());
                goto Cleanup;
            }
        }

        // 4. This thread's namespace directory in procfs, kept across pivot_root: the new PID
        //    namespace can only be opened once it has an init (step 9).
        if (p->MountProc != 0)
        {
            nsDirFd = ConfinedLibc.Open(p->NamespaceDirectory, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
            if (nsDirFd < 0)
            {
                Fail(p, ConfineStep.OpenNamespaceDirectory, *ConfinedLibc.ErrnoLocation());
                goto Cleanup;
            }
        }

        // 5. The private root: a fresh tmpfs holding only mount points. It is attached over
        //    /proc of this namespace (a directory every Linux has) so pivot_root accepts it; no
        //    directory is created on the host, so there is nothing to clean up there.
        rootCtx = (int)ConfinedLibc.Syscall(SyscallNumbers.FsOpen, (long)p->TmpfsName, FSOPEN_CLOEXEC, 0, 0, 0, 0);
        if (rootCtx < 0)
        {
            Fail(p, ConfineStep.RootOpen, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        if (ConfinedLibc.Syscall(SyscallNumbers.FsConfig, rootCtx, FSCONFIG_SET_STRING, (long)p->ModeKey, (long)p->ModeValue, 0, 0) != 0)
        {
            Fail(p, ConfineStep.RootConfigure, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        if (ConfinedLibc.Syscall(SyscallNumbers.FsConfig, rootCtx, FSCONFIG_CMD_CREATE, 0, 0, 0, 0) != 0)
        {
            Fail(p, ConfineStep.RootCreate, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        rootMnt = (int)ConfinedLibc.Syscall(
            SyscallNumbers.FsMount, rootCtx, FSMOUNT_CLOEXEC,
            (long)(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC), 0, 0, 0);
        if (rootMnt < 0)
        {
            Fail(p, ConfineStep.RootMount, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        if (ConfinedLibc.Syscall(
                SyscallNumbers.MoveMount, rootMnt, (long)p->Empty, AT_FDCWD, (long)p->AttachPoint, MOVE_MOUNT_F_EMPTY_PATH, 0) != 0)
        {
            Fail(p, ConfineStep.RootAttach, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        // 6. Mount points, relative to the root's fd. Nobody else can see this tmpfs, so there is
        //    no symlink race to guard against here.
        for (int i = 0; i < p->TreeCount; i++)
        {
            TreeOp* t = &p->Tree[i];
            if (t->Kind == TreeOpKind.Directory)
            {
                if (ConfinedLibc.MkdirAt(rootMnt, t->Path, 0x1ED /* 0755 */) != 0)
                {
                    Fail(p, ConfineStep.MakeDirectory, *ConfinedLibc.ErrnoLocation());
                    goto Cleanup;
                }
            }
            else if (t->Kind == TreeOpKind.File)
            {
                int fd = ConfinedLibc.OpenAt(rootMnt, t->Path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0x1A4 /* 0644 */);
                if (fd < 0)
                {
                    Fail(p, ConfineStep.MakeFile, *ConfinedLibc.ErrnoLocation());
                    goto Cleanup;
                }

                ConfinedLibc.Close(fd);
            }
            else if (ConfinedLibc.SymlinkAt(t->LinkTarget, rootMnt, t->Path) != 0)
            {
                Fail(p, ConfineStep.MakeSymlink, *ConfinedLibc.ErrnoLocation());
                goto Cleanup;
            }
        }

        // 7. Attach the cloned trees.
        for (int i = 0; i < p->BindCount; i++)
        {
            BindOp* b = &p->Binds[i];
            if (ConfinedLibc.Syscall(
                    SyscallNumbers.MoveMount, b->TreeFd, (long)p->Empty, rootMnt, (long)b->Target, MOVE_MOUNT_F_EMPTY_PATH, 0) != 0)
            {
                Fail(p, ConfineStep.AttachTree, *ConfinedLibc.ErrnoLocation());
                goto Cleanup;
            }
        }

        // 8. pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves
        //    the tmpfs as the only root this namespace has (pivot_root(2), "NOTES").
        if (ConfinedLibc.Fchdir(rootMnt) != 0)
        {
            Fail(p, ConfineStep.EnterRoot, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        if (ConfinedLibc.PivotRoot(p->Dot, p->Dot) != 0)
        {
            Fail(p, ConfineStep.PivotRoot, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        if (ConfinedLibc.Umount2(p->Dot, MNT_DETACH) != 0)
        {
            Fail(p, ConfineStep.DetachOldRoot, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        if (ConfinedLibc.Chdir(p->Slash) != 0)
        {
            Fail(p, ConfineStep.ChangeToRoot, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        if (p->MountProc != 0)
        {
            // 9. The PID namespace's init. procfs can only be mounted for a PID namespace that
            //    has one (until then the kernel hides pid_for_children), and the server must not
            //    be it: init of a PID namespace ignores every signal it has no handler for.
            //    This init is a process (no CLONE_VM, no CLONE_THREAD) running libc's
            //    sigsuspend(all signals blocked) on its own stack: no managed code, nothing
            //    delivered, SIGKILL ends it, and its death kills the namespace. It shares the fd
            //    table (CLONE_FILES) so it holds no extra reference to any open file. Cloned
            //    while the process is non-dumpable, so the confined server (no CAP_SYS_PTRACE,
            //    fewer capabilities than init) can neither ptrace it nor open /proc/1/fd or
            //    /proc/1/root.
            int dumpable = ConfinedLibc.Prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
            ConfinedLibc.Prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
            int init = ConfinedLibc.Clone(ConfinedLibc.SigSuspend, p->InitStackTop, CLONE_FILES | SIGCHLD, p->InitSignals);
            int cloneErrno = *ConfinedLibc.ErrnoLocation();
            ConfinedLibc.Prctl(PR_SET_DUMPABLE, (ulong)(dumpable < 0 ? 1 : dumpable), 0, 0, 0);
            if (init < 0)
            {
                Fail(p, ConfineStep.StartInit, cloneErrno);
                goto Cleanup;
            }

            p->InitPid = init;

            // 10. A procfs of that PID namespace (procfs shows the mounting task's *active* PID
            //     namespace, still the host's for this thread, so it is named with the "pidns"
            //     option, Linux 6.15+). A procfs of the host's PID namespace would show every
            //     host process, and /proc/PID/root of some of them leads back to the host root.
            pidNsFd = ConfinedLibc.OpenAt(nsDirFd, p->PidForChildren, O_RDONLY | O_CLOEXEC, 0);
            if (pidNsFd < 0)
            {
                Fail(p, ConfineStep.OpenPidNamespace, *ConfinedLibc.ErrnoLocation());
                goto Cleanup;
            }

            procCtx = (int)ConfinedLibc.Syscall(SyscallNumbers.FsOpen, (long)p->ProcName, FSOPEN_CLOEXEC, 0, 0, 0, 0);
            if (procCtx < 0)
            {
                Fail(p, ConfineStep.ProcOpen, *ConfinedLibc.ErrnoLocation());
                goto Cleanup;
            }

            if (ConfinedLibc.Syscall(SyscallNumbers.FsConfig, procCtx, FSCONFIG_SET_FD, (long)p->PidnsKey, 0, pidNsFd, 0) != 0)
            {
                Fail(p, ConfineStep.ProcConfigure, *ConfinedLibc.ErrnoLocation());
                goto Cleanup;
            }

            if (ConfinedLibc.Syscall(SyscallNumbers.FsConfig, procCtx, FSCONFIG_CMD_CREATE, 0, 0, 0, 0) != 0)
            {
                Fail(p, ConfineStep.ProcCreate, *ConfinedLibc.ErrnoLocation());
                goto Cleanup;
            }

            procMnt = (int)ConfinedLibc.Syscall(
                SyscallNumbers.FsMount, procCtx, FSMOUNT_CLOEXEC,
                (long)(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC), 0, 0, 0);
            if (procMnt < 0)
            {
                Fail(p, ConfineStep.ProcMount, *ConfinedLibc.ErrnoLocation());
                goto Cleanup;
            }

            if (ConfinedLibc.Syscall(
                    SyscallNumbers.MoveMount, procMnt, (long)p->Empty, rootMnt, (long)p->ProcName, MOVE_MOUNT_F_EMPTY_PATH, 0) != 0)
            {
                Fail(p, ConfineStep.AttachProc, *ConfinedLibc.ErrnoLocation());
                goto Cleanup;
            }
        }

        // 11. The root itself becomes read-only: the child can write only into read-write exports.
        attr.AttrSet = MOUNT_ATTR_RDONLY;
        attr.AttrClr = 0;
        attr.Propagation = 0;
        attr.UsernsFd = 0;
        if (ConfinedLibc.Syscall(SyscallNumbers.MountSetattr, rootMnt, (long)p->Empty, AT_EMPTY_PATH, (long)&attr, sizeof(MountAttr), 0) != 0)
        {
            Fail(p, ConfineStep.RootReadOnly, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        // 12. Capabilities: the child runs as root, so at exec its permitted and effective sets
        //     become this thread's bounding set (inheritable and ambient being empty).
        for (int i = 0; i < p->DropCapabilityCount; i++)
        {
            if (ConfinedLibc.Prctl(PR_CAPBSET_DROP, (ulong)p->DropCapabilities[i], 0, 0, 0) != 0)
            {
                Fail(p, ConfineStep.DropBoundingCapability, *ConfinedLibc.ErrnoLocation());
                goto Cleanup;
            }
        }

        if (ConfinedLibc.Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
        {
            Fail(p, ConfineStep.ClearAmbientCapabilities, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        Libc.CapHeader header;
        header.Version = LINUX_CAPABILITY_VERSION_3;
        header.Pid = 0;
        Libc.CapData* data = stackalloc Libc.CapData[2];
        if (ConfinedLibc.CapGet(&header, data) != 0)
        {
            Fail(p, ConfineStep.ClearInheritableCapabilities, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        data[0].Inheritable = 0;
        data[1].Inheritable = 0;
        if (ConfinedLibc.CapSet(&header, data) != 0)
        {
            Fail(p, ConfineStep.ClearInheritableCapabilities, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        // 13. Neither the child nor anything it could exec may ever gain privileges.
        if (ConfinedLibc.Prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        {
            Fail(p, ConfineStep.NoNewPrivileges, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        // 14. The syscall filter (this thread only: no SECCOMP_FILTER_FLAG_TSYNC), inherited by
        //     the child across exec. no_new_privs lets an unprivileged filter be installed.
        if (p->SeccompProgram != null
            && ConfinedLibc.Prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (ulong)p->SeccompProgram, 0, 0) != 0)
        {
            Fail(p, ConfineStep.Seccomp, *ConfinedLibc.ErrnoLocation());
            goto Cleanup;
        }

        // Our handles on the new mounts are process-wide fds: close them before spawning.
        for (int i = 0; i < p->BindCount; i++)
        {
            if (p->Binds[i].TreeFd >= 0)
            {
                ConfinedLibc.Close(p->Binds[i].TreeFd);
                p->Binds[i].TreeFd = -1;
            }
        }

        // 15. Spawn. glibc's posix_spawn clones with CLONE_VM|CLONE_VFORK but neither CLONE_FS
        //     nor CLONE_THREAD: the child gets a copy of this thread's root and namespaces.
        int pid = 0;
        int spawnError = ConfinedLibc.PosixSpawn(&pid, p->Executable, p->FileActions, p->SpawnAttributes, p->Argv, p->Envp);
        if (spawnError != 0)
        {
            Fail(p, ConfineStep.Spawn, spawnError);
            goto Cleanup;
        }

        p->Pid = pid;

    Cleanup:
        for (int i = 0; i < p->BindCount; i++)
        {
            if (p->Binds[i].TreeFd >= 0)
            {
                ConfinedLibc.Close(p->Binds[i].TreeFd);
                p->Binds[i].TreeFd = -1;
            }
        }

        if (nsDirFd >= 0)
        {
            ConfinedLibc.Close(nsDirFd);
        }

        if (pidNsFd >= 0)
        {
            ConfinedLibc.Close(pidNsFd);
        }

        if (procCtx >= 0)
        {
            ConfinedLibc.Close(procCtx);
        }

        if (procMnt >= 0)
        {
            ConfinedLibc.Close(procMnt);
        }

        if (rootCtx >= 0)
        {
            ConfinedLibc.Close(rootCtx);
        }

        if (rootMnt >= 0)
        {
            ConfinedLibc.Close(rootMnt);
        }
    }
}
