using Gofer.Hardening;
using static Gofer.Hardening.Native.LinuxConstants;

namespace Gofer.Tests.Hardening;

public sealed class MountOptionsTests
{
    [Fact]
    public void Options_set_and_clear_flags_in_order()
    {
        Assert.Equal(MS_RDONLY | MS_NOSUID, MountOptions.ToFlags(["ro", "nosuid"]));
        Assert.Equal(MS_BIND | MS_REC, MountOptions.ToFlags(["rbind"]));
        Assert.Equal(0UL, MountOptions.ToFlags(["ro", "rw"]));
        // runsc's table XOR-ed clearing options: "rw" on a read-write mount turned MS_RDONLY on.
        Assert.Equal(0UL, MountOptions.ToFlags(["rw"]));
        Assert.Equal(0UL, MountOptions.ToFlags(["nodev", "dev", "suid", "exec"], MS_NOEXEC));
        Assert.Equal(MS_NOATIME, MountOptions.ToFlags(["unknown-option", "noatime"]));
    }

    [Fact]
    public void Exports_from_OCI_options_keep_hardened_defaults_unless_turned_off()
    {
        HardenedExport plain = HardenedExport.FromMountOptions("/src", []);
        Assert.False(plain.ReadOnly);
        Assert.True(plain.NoSuid && plain.NoDev && plain.NoExec && plain.Recursive);

        HardenedExport ro = HardenedExport.FromMountOptions("/src", ["bind", "ro"]);
        Assert.True(ro.ReadOnly);
        Assert.False(ro.Recursive);

        HardenedExport relaxed = HardenedExport.FromMountOptions("/src", ["rbind", "dev", "suid", "exec", "ro", "rw"]);
        Assert.False(relaxed.ReadOnly || relaxed.NoDev || relaxed.NoSuid || relaxed.NoExec);
        Assert.True(relaxed.Recursive);

        Assert.True(HardenedExport.FromMountOptions("/src", ["rw"], forceReadOnly: true).ReadOnly);
        Assert.Equal(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, ro.MountAttributes);
    }

    [Fact]
    public void Dotnet_root_is_found_from_the_runtime_directory()
    {
        Assert.Equal("/usr/share/dotnet", ConfinedProgram.DotnetRootOf("/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.1/"));
        Assert.Null(ConfinedProgram.DotnetRootOf("/opt/app/"));
    }
}
