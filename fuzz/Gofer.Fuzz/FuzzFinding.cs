namespace Gofer.Fuzz;

/// <summary>An invariant a target checks was broken (not a crash of the code under test, but just as much a
/// finding). Thrown out of the target so AFL records the input as a crash and replay reports it.</summary>
public sealed class FuzzFindingException : Exception
{
    public FuzzFindingException()
    {
    }

    public FuzzFindingException(string message)
        : base(message)
    {
    }

    public FuzzFindingException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>Deterministic choices derived from the input itself, so a crash file replays exactly (no clock, no
/// global Random): splitmix64 seeded with an FNV-1a hash of the bytes.</summary>
internal struct InputRandom
{
    private ulong _state;

    public InputRandom(ReadOnlySpan<byte> input)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in input)
            h = (h ^ b) * 1099511628211UL;
        _state = h;
    }

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A value in [min, max].</summary>
    public int Between(int min, int max) => min + (int)(Next() % (ulong)(max - min + 1));
}
