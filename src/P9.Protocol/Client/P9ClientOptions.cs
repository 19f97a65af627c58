namespace P9.Protocol.Client;

public sealed class P9ClientOptions
{
    /// <summary>The msize we ask for; the session uses min(ours, the server's). Linux's default is 512 KiB; diod caps at 64 KiB.</summary>
    public uint MaxMessageSize { get; init; } = 1024 * 1024;

    /// <summary>Most ordinary requests in flight at once (tags). Callers beyond this wait for a tag; internal Tflush
    /// and Tclunk requests are not counted, so cancellation never waits for a tag.</summary>
    public int MaxRequestsInFlight { get; init; } = 1024;

    /// <summary>The version string sent in Tversion.</summary>
    public string Version { get; init; } = Wire.P9Constants.Version;
}
