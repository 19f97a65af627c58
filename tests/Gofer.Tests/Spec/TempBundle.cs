using Gofer.Spec;

namespace Gofer.Tests.Spec;

/// <summary>A bundle in a temporary directory: rootfs/ plus whatever source directories a test asks for.</summary>
internal sealed class TempBundle : IDisposable
{
    public TempBundle(params string[] sourceDirs)
    {
        Directory = Path.Combine(Path.GetTempPath(), "gofer-spec-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "rootfs"));
        foreach (var d in sourceDirs)
        {
            System.IO.Directory.CreateDirectory(Path.Combine(Directory, d));
        }
    }

    public string Directory { get; }

    public string RootPath => Path.Combine(Directory, "rootfs");

    public string PathOf(string relative) => Path.Combine(Directory, relative);

    /// <summary>Writes config.json from a mounts array (JSON text) and optional annotations (JSON object text).</summary>
    public TempBundle WithConfig(string mountsJson = "[]", string annotationsJson = "{}", bool readonlyRoot = false)
    {
        var ro = readonlyRoot ? "true" : "false";
        File.WriteAllText(
            Path.Combine(Directory, "config.json"),
            $$"""{ "ociVersion": "1.0.2", "root": { "path": "rootfs", "readonly": {{ro}} }, "mounts": {{mountsJson}}, "annotations": {{annotationsJson}} }""");
        return this;
    }

    public MountPlan Plan(PlanOptions? options = null) => MountPlanner.Plan(Directory, options);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
