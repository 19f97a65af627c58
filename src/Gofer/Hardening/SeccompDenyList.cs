using System.Runtime.InteropServices;
using Gofer.Hardening.Native;

namespace Gofer.Hardening;

/// <summary>
/// A seccomp-BPF filter that refuses (EPERM) the syscalls a file server never needs and an
/// attacker would want: escaping mounts and namespaces, reopening inodes by handle, reading
/// other processes, loading kernel code, and io_uring (whose operations bypass seccomp).
/// A deny-list, not runsc's allow-list: the .NET runtime's syscall set is large and changes
/// between versions, and a missing entry in an allow-list kills the server.
/// </summary>
internal static class SeccompDenyList
{
    // AUDIT_ARCH_X86_64 (linux/audit.h): EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
    private const uint AuditArchX8664 = 0xC000003E;

    // x86-64 numbers (arch/x86/entry/syscalls/syscall_64.tbl).
    private static readonly (string Name, int Number)[] X8664 =
    [
        ("adjtimex", 159), ("pivot_root", 155), ("chroot", 161), ("acct", 163),
        ("settimeofday", 164), ("mount", 165), ("umount2", 166), ("swapon", 167), ("swapoff", 168),
        ("reboot", 169), ("sethostname", 170), ("setdomainname", 171), ("iopl", 172), ("ioperm", 173),
        ("init_module", 175), ("delete_module", 176), ("quotactl", 179), ("ptrace", 101),
        ("clock_settime", 227), ("kexec_load", 246), ("add_key", 248), ("request_key", 249), ("keyctl", 250),
        ("unshare", 272), ("perf_event_open", 298), ("name_to_handle_at", 303), ("open_by_handle_at", 304),
        ("clock_adjtime", 305), ("setns", 308), ("process_vm_readv", 310), ("process_vm_writev", 311),
        ("finit_module", 313), ("kexec_file_load", 320), ("bpf", 321), ("userfaultfd", 323),
        ("io_uring_setup", 425), ("io_uring_enter", 426), ("io_uring_register", 427),
        ("open_tree", 428), ("move_mount", 429), ("fsopen", 430), ("fsconfig", 431), ("fsmount", 432),
        ("fspick", 433), ("pidfd_getfd", 438), ("mount_setattr", 442),
    ];

    /// <summary>The denied syscalls on this architecture, or null where no table exists yet.</summary>
    public static IReadOnlyList<(string Name, int Number)>? ForCurrentArchitecture() =>
        RuntimeInformation.ProcessArchitecture == Architecture.X64 ? X8664 : null;

    /// <summary>
    /// struct sock_filter[] (linux/filter.h: u16 code, u8 jt, u8 jf, u32 k) for the current
    /// architecture. Layout: check the architecture (kill on mismatch: a foreign-ABI syscall
    /// would be looked up in the wrong table), refuse the x32 ABI, refuse each listed number,
    /// allow the rest.
    /// </summary>
    public static ulong[]? BuildProgram()
    {
        IReadOnlyList<(string Name, int Number)>? denied = ForCurrentArchitecture();
        if (denied is null)
        {
            return null;
        }

        const ushort LdAbsW = 0x20;  // BPF_LD | BPF_W | BPF_ABS
        const ushort JeqK = 0x15;    // BPF_JMP | BPF_JEQ | BPF_K
        const ushort JgeK = 0x35;    // BPF_JMP | BPF_JGE | BPF_K
        const ushort RetK = 0x06;    // BPF_RET | BPF_K
        const uint RetAllow = 0x7fff0000;
        const uint RetKillProcess = 0x80000000;
        const uint RetErrnoEperm = 0x00050000 | LinuxConstants.EPERM;
        const uint X32SyscallBit = 0x40000000;
        int n = denied.Count;
        if (n > 250)
        {
            throw new InvalidOperationException("seccomp jump offsets are 8-bit");
        }

        // struct seccomp_data: int nr at offset 0, u32 arch at offset 4.
        List<ulong> program =
        [
            Insn(LdAbsW, 0, 0, 4),
            Insn(JeqK, 1, 0, AuditArchX8664),
            Insn(RetK, 0, 0, RetKillProcess),
            Insn(LdAbsW, 0, 0, 0),
            Insn(JgeK, (byte)(n + 1), 0, X32SyscallBit),
        ];
        for (int k = 0; k < n; k++)
        {
            program.Add(Insn(JeqK, (byte)(n - k), 0, (uint)denied[k].Number));
        }

        program.Add(Insn(RetK, 0, 0, RetAllow));
        program.Add(Insn(RetK, 0, 0, RetErrnoEperm));
        return [.. program];
    }

    private static ulong Insn(ushort code, byte jt, byte jf, uint k) =>
        code | ((ulong)jt << 16) | ((ulong)jf << 24) | ((ulong)k << 32);
}
