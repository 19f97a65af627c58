using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gofer.Hardening.Native;
using static Gofer.Hardening.Native.LinuxConstants;

namespace Gofer.Hardening;

/// <summary>
/// Starts a program confined the way runsc confines its gofer: private mount, PID, IPC, UTS
/// (and network) namespaces; a private read-only root holding only the exports and what the
/// program needs to run; pivot_root into it; capabilities reduced to the serving set; no new
/// privileges. The calling process itself stays where it was.
/// </summary>
/// <remarks>
/// .NET cannot run code between fork and exec, so the confinement is built on a dedicated
/// thread (namespaces, root and capability sets are per-thread state in Linux), which then
/// posix_spawns the child and ends. See README.md beside this file.
/// </remarks>
internal static partial class HardenedLauncher
{
    private static readonly Lock PrepareLock = new();
    private static readonly Lock LaunchLock = new();
    private static bool s_prepared;

    /// <summary>
    /// Confine and spawn. Throws <see cref="HardeningException"/> when confinement is impossible
    /// (not privileged, kernel too old, a source missing): never starts the child unconfined.
    /// </summary>
    public static unsafe HardenedChild Start(HardenedLaunchSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!OperatingSystem.IsLinux())
        {
            throw new HardeningException("hardened mode needs Linux (mount and PID namespaces, pivot_root)");
        }

        RequirePrivilege();
        PrepareConfiningCode();

        using var arena = new NativeArena();
        HardenedTree tree = HardenedTree.Build(spec);
        List<int> tempFds = [];
        void* fileActions = arena.Bytes(SpawnFileActionsSize);
        void* spawnAttributes = arena.Bytes(SpawnAttrSize);
        bool actionsReady = false, attributesReady = false;
        try
        {
            ConfinePlan* plan = arena.Alloc<ConfinePlan>();
            FillPlan(plan, spec, tree, arena);

            // Descriptors: dup each to a close-on-exec number above every one involved, then dup2 it
            // to its number in the child. Going through a copy keeps one mapping from clobbering
            // another's source, and dup2 onto the same number would leave FD_CLOEXEC set on older glibc.
            Check(Libc.SpawnFileActionsInit(fileActions), "posix_spawn_file_actions_init");
            actionsReady = true;
            int highest = Math.Max(2, spec.InheritedFds.Count == 0 ? 0 : spec.InheritedFds.Max(m => Math.Max(m.ChildFd, m.ParentFd)));
            if (spec.InheritedFds.Select(m => m.ChildFd).Distinct().Count() != spec.InheritedFds.Count)
            {
                throw new HardeningException("hardened mode: two descriptors map to the same number in the child");
            }

            foreach (FdMapping mapping in spec.InheritedFds)
            {
                int temp = Libc.Fcntl(mapping.ParentFd, F_DUPFD_CLOEXEC, highest + 1);
                if (temp < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    throw new HardeningException($"descriptor {mapping.ParentFd} to hand to the confined child is not open (errno {errno})") { Errno = errno };
                }

                tempFds.Add(temp);
                Check(Libc.SpawnFileActionsAddDup2(fileActions, temp, mapping.ChildFd), "posix_spawn_file_actions_adddup2");
            }

            // Nothing else crosses: close the gaps below the highest child descriptor (glibc ignores
            // closing a descriptor that is not open) and everything above it.
            int highestChild = spec.InheritedFds.Count == 0 ? -1 : spec.InheritedFds.Max(m => m.ChildFd);
            HashSet<int> childFds = [.. spec.InheritedFds.Select(m => m.ChildFd)];
            for (int fd = 0; fd < highestChild; fd++)
            {
                if (!childFds.Contains(fd))
                {
                    Check(Libc.SpawnFileActionsAddClose(fileActions, fd), "posix_spawn_file_actions_addclose");
                }
            }

            if (ConfinedLibc.SpawnFileActionsAddCloseFrom != null)
            {
                Check(ConfinedLibc.SpawnFileActionsAddCloseFrom(fileActions, highestChild + 1), "posix_spawn_file_actions_addclosefrom_np");
            }

            // Signals: the runtime ignores SIGPIPE and may block others; the child starts clean.
            Check(Libc.SpawnAttrInit(spawnAttributes), "posix_spawnattr_init");
            attributesReady = true;
            byte* signals = arena.Bytes(SigSetSize);
            _ = Libc.SigEmptySet(signals);
            Check(Libc.SpawnAttrSetSigMask(spawnAttributes, signals), "posix_spawnattr_setsigmask");
            byte* all = arena.Bytes(SigSetSize);
            _ = Libc.SigFillSet(all);
            Check(Libc.SpawnAttrSetSigDefault(spawnAttributes, all), "posix_spawnattr_setsigdefault");
            Check(Libc.SpawnAttrSetFlags(spawnAttributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF), "posix_spawnattr_setflags");
            plan->FileActions = fileActions;
            plan->SpawnAttributes = spawnAttributes;

            var thread = new Thread(ConfiningThreadMain, maxStackSize: 256 * 1024)
            {
                IsBackground = true,
                Name = "gofer-confine",
            };
            // One confinement at a time: the confining thread flips the process-wide dumpable
            // flag around the init's clone, and two of them interleaving could leave an init dumpable.
            lock (LaunchLock)
            {
                thread.Start((nint)plan);
                thread.Join();
            }

            if (plan->FailedStep != ConfineStep.None)
            {
                if (plan->InitPid > 0)
                {
                    HardenedChild.KillAndReap(plan->InitPid);
                }

                throw Explain(plan->FailedStep, plan->Errno);
            }

            return new HardenedChild(plan->Pid, plan->InitPid, tree.ExportPaths);
        }
        finally
        {
            foreach (int fd in tempFds)
            {
                _ = Libc.Close(fd);
            }

            if (actionsReady)
            {
                _ = Libc.SpawnFileActionsDestroy(fileActions);
            }

            if (attributesReady)
            {
                _ = Libc.SpawnAttrDestroy(spawnAttributes);
            }
        }
    }

    /// <summary>Refuse early, with a message that says what to do, when the caller cannot confine.</summary>
    public static void RequirePrivilege()
    {
        if (!Libc.ThreadHasEffective(Capability.SysAdmin) || !Libc.ThreadHasEffective(Capability.Setpcap))
        {
            throw new HardeningException(
                "hardened mode needs CAP_SYS_ADMIN and CAP_SETPCAP (run as root) to build a private mount namespace "
                + "and drop capabilities; refusing to serve unconfined. Run without --hardened to rely on "
                + "descriptor-based confinement alone.")
            { Errno = EPERM };
        }
    }

    // glibc x86-64/arm64: posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336,
    // sigset_t 128. Twice that leaves room for any libc whose layout is larger.
    private const int SpawnFileActionsSize = 160;
    private const int SpawnAttrSize = 672;
    private const int SigSetSize = 256;
    private const int InitStackSize = 64 * 1024;

    private static void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new HardeningException($"{call} failed (error {result})") { Errno = result };
        }
    }

    private static unsafe void FillPlan(ConfinePlan* plan, HardenedLaunchSpec spec, HardenedTree tree, NativeArena arena)
    {
        plan->UnshareFlags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
            | (spec.NewNetworkNamespace ? CLONE_NEWNET : 0);
        plan->MountProc = spec.MountProc ? 1 : 0;

        plan->BindCount = tree.Binds.Count;
        plan->Binds = arena.Alloc<BindOp>(tree.Binds.Count);
        for (int i = 0; i < tree.Binds.Count; i++)
        {
            HardenedTree.Bind b = tree.Binds[i];
            plan->Binds[i].Source = arena.Utf8(b.Source);
            plan->Binds[i].Target = arena.Utf8(b.Target.TrimStart('/'));
            plan->Binds[i].Attributes = b.Attributes;
            plan->Binds[i].Recursive = b.Recursive ? 1 : 0;
            plan->Binds[i].TreeFd = -1;
        }

        plan->TreeCount = tree.Nodes.Count;
        plan->Tree = arena.Alloc<TreeOp>(tree.Nodes.Count);
        for (int i = 0; i < tree.Nodes.Count; i++)
        {
            HardenedTree.Node n = tree.Nodes[i];
            plan->Tree[i].Kind = n.Kind;
            plan->Tree[i].Path = arena.Utf8(n.Path.TrimStart('/'));
            plan->Tree[i].LinkTarget = n.LinkTarget is null ? null : arena.Utf8(n.LinkTarget);
        }

        int lastCap = LastCapability();
        HashSet<int> keep = [.. spec.RetainedCapabilities.Select(c => (int)c)];
        List<int> drop = [.. Enumerable.Range(0, lastCap + 1).Where(c => !keep.Contains(c))];
        plan->DropCapabilityCount = drop.Count;
        plan->DropCapabilities = arena.Alloc<int>(drop.Count);
        for (int i = 0; i < drop.Count; i++)
        {
            plan->DropCapabilities[i] = drop[i];
        }

        if (spec.Seccomp && SeccompDenyList.BuildProgram() is { } filter)
        {
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }: 16 bytes on 64-bit.
            ulong* instructions = arena.Alloc<ulong>(filter.Length);
            filter.CopyTo(new Span<ulong>(instructions, filter.Length));
            byte* program = arena.Bytes(16);
            *(ushort*)program = (ushort)filter.Length;
            *(ulong**)(program + 8) = instructions;
            plan->SeccompProgram = program;
        }

        plan->Executable = arena.Utf8(tree.Executable);
        plan->Argv = arena.Utf8Vector(spec.Arguments);
        plan->Envp = arena.Utf8Vector(spec.Environment.Select(kv => kv.Key + "=" + kv.Value));

        plan->Empty = arena.Utf8(string.Empty);
        plan->Slash = arena.Utf8("/");
        plan->Dot = arena.Utf8(".");
        plan->ProcName = arena.Utf8("proc");
        plan->TmpfsName = arena.Utf8("tmpfs");
        plan->PidnsKey = arena.Utf8("pidns");
        plan->ModeKey = arena.Utf8("mode");
        plan->ModeValue = arena.Utf8("0755");
        plan->NamespaceDirectory = arena.Utf8("/proc/thread-self/ns");
        plan->PidForChildren = arena.Utf8("pid_for_children");
        plan->AttachPoint = arena.Utf8("/proc");

        // The init's stack: it only ever enters sigsuspend, a few hundred bytes deep. The
        // clone child has its own copy of this memory (no CLONE_VM); stacks grow down.
        byte* stack = arena.Bytes(InitStackSize);
        plan->InitStackTop = (byte*)(((nint)(stack + InitStackSize)) & ~(nint)15);
        byte* signals = arena.Bytes(SigSetSize);
        _ = Libc.SigFillSet(signals);
        plan->InitSignals = signals;
    }

    /// <summary>The highest capability number this kernel knows (40 on 6.x).</summary>
    private static int LastCapability()
    {
        try
        {
            string text = File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim();
            if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int last)
                && last is > 0 and < 64)
            {
                return last;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        // CAP_CHECKPOINT_RESTORE (40) is the last one Linux 6.x defines.
        return 40;
    }

    /// <summary>
    /// Make sure nothing the confining thread runs needs the JIT, the type loader or a class
    /// constructor after it has left the host's root.
    /// </summary>
    private static void PrepareConfiningCode()
    {
        lock (PrepareLock)
        {
            if (s_prepared)
            {
                return;
            }

            RuntimeHelpers.RunClassConstructor(typeof(ConfinedLibc).TypeHandle);
            foreach (string name in new[] { nameof(Confine), nameof(Fail), nameof(ConfiningThreadMain) })
            {
                MethodInfo method = typeof(HardenedLauncher).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)
                    ?? throw new InvalidOperationException($"{name} not found");
                RuntimeHelpers.PrepareMethod(method.MethodHandle);
            }

            s_prepared = true;
        }
    }

    private static HardeningException Explain(ConfineStep step, int errno)
    {
        string reason = Marshal.GetPInvokeErrorMessage(errno);
        string hint = (step, errno) switch
        {
            (ConfineStep.Unshare, EPERM) =>
                " hardened mode needs CAP_SYS_ADMIN in the host's user namespace (run as root); refusing to serve unconfined.",
            (ConfineStep.ProcConfigure, EINVAL) =>
                " this kernel's procfs has no 'pidns' option (Linux 6.15+ needed for a procfs of the child's PID namespace).",
            (ConfineStep.CloneTree or ConfineStep.ProcOpen or ConfineStep.RootOpen or ConfineStep.AttachTree, ENOSYS) =>
                " this kernel lacks the new mount API (open_tree/fsopen/move_mount, Linux 5.2+; mount_setattr 5.12+).",
            (ConfineStep.CloneTree, ENOENT) => " an export source or an exec-support path does not exist.",
            (ConfineStep.Spawn, ENOENT) => " the program, or its ELF interpreter or libraries, is not inside the private root.",
            _ => string.Empty,
        };
        return new HardeningException($"hardened mode: {step} failed: {reason} (errno {errno}).{hint}") { Errno = errno };
    }
}
