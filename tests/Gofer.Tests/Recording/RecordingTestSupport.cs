using Gofer.Recording;
using Microsoft.Extensions.Logging;

namespace Gofer.Tests.Recording;

/// <summary>A temporary directory removed at the end of the test.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("gofer-record-").FullName;

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

/// <summary>Collects log entries so tests can check what was logged, and how often.</summary>
internal sealed class ListLogger : ILogger
{
    public List<(LogLevel Level, EventId Id, string Message)> Entries { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (Entries)
        {
            Entries.Add((logLevel, eventId, formatter(state, exception)));
        }
    }
}

internal static class Recordings
{
    /// <summary>Records <paramref name="session"/> as one connection (lossless) and returns the file's path.</summary>
    public static string RecordOne(string dir, IEnumerable<(bool FromClient, byte[] Frame)> session, string? description = null)
    {
        var recorder = TrafficRecorder.Create(dir, new ListLogger(), new TrafficRecorderOptions { Overflow = RecordingOverflow.Block });
        using (var connection = recorder.OpenConnection(description))
        {
            foreach (var (fromClient, frame) in session)
            {
                if (fromClient)
                {
                    connection.Received(frame);
                }
                else
                {
                    connection.Sent(frame);
                }
            }
        }

        recorder.Dispose();
        return Assert.Single(Directory.GetFiles(dir, "*.pcapng"));
    }
}
