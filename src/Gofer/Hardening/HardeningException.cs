namespace Gofer.Hardening;

/// <summary>
/// Hardened mode could not confine the server. Hardened mode never falls back to serving
/// unconfined: the caller reports this and exits.
/// </summary>
internal sealed class HardeningException : Exception
{
    public HardeningException()
    {
    }

    public HardeningException(string message)
        : base(message)
    {
    }

    public HardeningException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The errno the failing call returned, 0 when the failure was not a syscall's.</summary>
    public int Errno { get; init; }
}
