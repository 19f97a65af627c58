namespace Gofer.Spec;

/// <summary>
/// A bundle, option or plan that cannot be used. The message names the field and the reason,
/// e.g. <c>config.json: mounts[2].destination: must be an absolute path</c>; nothing is started.
/// </summary>
public sealed class SpecException : Exception
{
    public SpecException(string message)
        : base(message)
    {
    }

    public SpecException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public SpecException()
    {
    }

    /// <summary>The field the error is about (<c>mounts[2].destination</c>), when there is one.</summary>
    public string? Field { get; private init; }

    /// <summary>An error about one field of <c>config.json</c>.</summary>
    public static SpecException ConfigField(string field, string reason) =>
        new($"config.json: {field}: {reason}") { Field = field };
}
