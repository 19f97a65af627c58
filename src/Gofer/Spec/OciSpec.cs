using System.Text.Json.Serialization;

namespace Gofer.Spec;

// The subset of the OCI runtime spec (config.json) that mount planning reads.
// Unknown members (process, linux, hostname, ...) are ignored by the deserializer.

/// <summary>The OCI <c>config.json</c> document, as far as mounts are concerned.</summary>
public sealed class OciSpec
{
    [JsonPropertyName("ociVersion")]
    public string? OciVersion { get; set; }

    [JsonPropertyName("root")]
    public OciRoot? Root { get; set; }

    [JsonPropertyName("mounts")]
    public List<OciMount?>? Mounts { get; set; }

    [JsonPropertyName("annotations")]
    public Dictionary<string, string?>? Annotations { get; set; }
}

/// <summary>OCI <c>root</c>: the container's root filesystem.</summary>
public sealed class OciRoot
{
    [JsonPropertyName("path")]
    public string? Path { get; set; }

    [JsonPropertyName("readonly")]
    public bool Readonly { get; set; }
}

/// <summary>One OCI <c>mounts[]</c> entry.</summary>
public sealed class OciMount
{
    [JsonPropertyName("destination")]
    public string? Destination { get; set; }

    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("source")]
    public string? Source { get; set; }

    [JsonPropertyName("options")]
    public List<string?>? Options { get; set; }
}

// Source generation keeps the reader AOT-safe (no reflection over OciSpec at run time).
// Comments and trailing commas are tolerated because hand-written bundles have them.
[JsonSourceGenerationOptions(
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    WriteIndented = true)]
[JsonSerializable(typeof(OciSpec))]
internal sealed partial class OciSpecJsonContext : JsonSerializerContext;
