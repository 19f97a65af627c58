namespace Gofer.Spec;

/// <summary>
/// Hands out gofer FDs in the one order both sides agree on: rootfs first, then bind mounts in spec
/// order (before any sorting). Taking from an empty dispenser, or leaving FDs behind, is an error.
/// </summary>
public sealed class FdDispenser<T>
{
    private readonly IReadOnlyList<T> _fds;
    private int _next;

    public FdDispenser(IReadOnlyList<T> fds)
    {
        ArgumentNullException.ThrowIfNull(fds);
        _fds = fds;
    }

    /// <summary>FDs not yet taken.</summary>
    public int Remaining => _fds.Count - _next;

    /// <summary>Takes the next FD for <paramref name="what"/> (used in the error message).</summary>
    public T Take(string what)
    {
        if (_next >= _fds.Count)
        {
            throw new SpecException($"gofer FDs: missing an FD for {what} (only {_fds.Count} given)");
        }

        return _fds[_next++];
    }

    /// <summary>Fails when FDs are left over: every gofer FD must be consumed.</summary>
    public void CheckAllConsumed()
    {
        if (_next < _fds.Count)
        {
            throw new SpecException($"gofer FDs: {_fds.Count - _next} of {_fds.Count} FD(s) not consumed by any mount: {string.Join(",", _fds.Skip(_next))}");
        }
    }

    /// <summary>
    /// Pairs every gofer mount of <paramref name="plan"/> with an FD, in FD order, and checks that the
    /// counts match exactly.
    /// </summary>
    public static IReadOnlyList<(PlannedMount Mount, T Fd)> Assign(MountPlan plan, IReadOnlyList<T> fds)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var dispenser = new FdDispenser<T>(fds);
        var result = new List<(PlannedMount, T)>();
        foreach (var m in plan.GoferMounts)
        {
            result.Add((m, dispenser.Take(m.GoferIndex == 0 ? "the rootfs" : m.Destination)));
        }

        dispenser.CheckAllConsumed();
        return result;
    }
}
