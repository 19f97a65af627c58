using System.CommandLine;
using Gofer.Spec;

namespace Gofer.Cli;

internal static class PlanCommand
{
    public static Command Create()
    {
        var bundle = new Option<string>("--bundle") { Description = "OCI bundle directory (with config.json).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the plan as JSON." };
        var overlay = new Option<string>("--overlay2")
        {
            Description = "Overlay: none, root:memory or all:memory (optionally ,size=N).",
            DefaultValueFactory = _ => "none",
        };
        var fileAccess = new Option<string>("--file-access")
        {
            Description = "File access for the rootfs: exclusive (default) or shared.",
            DefaultValueFactory = _ => "exclusive",
        };
        fileAccess.AcceptOnlyFromAmong("exclusive", "shared");

        var command = new Command("plan", "Print the mount plan of an OCI bundle.") { bundle, json, overlay, fileAccess };
        command.SetAction(parseResult =>
        {
            try
            {
                var options = new PlanOptions
                {
                    Overlay = OverlayConfig.Parse(parseResult.GetValue(overlay)),
                    RootFileAccess = parseResult.GetValue(fileAccess) == "shared" ? FileAccessType.Shared : FileAccessType.Exclusive,
                };
                var plan = MountPlanner.ResolveDestinations(MountPlanner.Plan(parseResult.GetValue(bundle)!, options));
                Console.Out.Write(parseResult.GetValue(json) ? MountPlanText.ToJson(plan) + "\n" : MountPlanText.ToTable(plan));
                return 0;
            }
            catch (SpecException e)
            {
                Console.Error.WriteLine($"gofer plan: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
