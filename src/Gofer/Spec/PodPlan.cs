namespace Gofer.Spec;

/// <summary>A volume shared by several containers of a pod (hint share=pod, type tmpfs): one master per pod.</summary>
public sealed record PodVolume(string Name, string Source, string Type, MountFlags Flags, IReadOnlyList<string> Options, IReadOnlyList<string> Containers);

/// <summary>
/// Plans for the containers of one pod. The first container is the pod's root container: its
/// annotations carry the hints for the whole pod (as with runsc, where the sandbox reads them from the
/// root container's spec). Each container still gets its own gofer FDs and its own plan; pod volumes are
/// listed once, with the containers that bind them.
/// </summary>
public sealed record PodPlan(IReadOnlyList<MountPlan> Containers, IReadOnlyList<PodVolume> Volumes)
{
    /// <summary>Plans each (name, bundle) with the root container's hints.</summary>
    public static PodPlan Create(IReadOnlyList<(string Name, OciBundle Bundle)> containers, PlanOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(containers);
        if (containers.Count == 0)
        {
            throw new SpecException("pod: at least one container is needed");
        }

        options ??= new PlanOptions();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var plans = new List<MountPlan>();
        IReadOnlyList<MountHint>? hints = options.Hints;
        foreach (var (name, bundle) in containers)
        {
            if (!names.Add(name))
            {
                throw new SpecException($"pod: container name \"{name}\" is used twice");
            }

            var plan = MountPlanner.Plan(bundle, options with { ContainerName = name, Hints = hints });
            hints ??= plan.Hints;
            plans.Add(plan);
        }

        var volumes = hints!
            .Where(h => h.ShouldShareMount)
            .Select(h => new PodVolume(
                h.Name,
                h.Source,
                h.Type,
                h.Flags,
                h.Options,
                plans.Where(p => p.Mounts.Any(m => m.SharedVolume == h.Name)).Select(p => p.ContainerName).ToList()))
            .ToList();
        return new PodPlan(plans, volumes);
    }
}
