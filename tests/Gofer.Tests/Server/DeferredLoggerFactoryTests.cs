using Gofer.Cli;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Gofer.Tests.Server;

/// <summary>serve's logger is built on the first enabled message only, and filters exactly as before.</summary>
public class DeferredLoggerFactoryTests
{
    [Fact]
    public void Nothing_is_built_until_an_enabled_message_is_logged()
    {
        int built = 0;
        var sink = new LogSink();
        using var factory = new DeferredLoggerFactory(
            (_, level) => level >= LogLevel.Warning,
            () =>
            {
                built++;
                var f = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(sink));
                return f;
            });
        var log = factory.CreateLogger("Gofer.Serve");

        Assert.False(log.IsEnabled(LogLevel.Information));
        log.LogInformation("not shown");
        Assert.False(factory.IsCreated);
        Assert.Equal(0, built);

        Assert.True(log.IsEnabled(LogLevel.Warning));
        log.LogWarning("shown {N}", 1);
        factory.CreateLogger("Gofer.Server").LogError("also shown");
        Assert.True(factory.IsCreated);
        Assert.Equal(1, built);
        Assert.Equal(["Gofer.Serve: shown 1", "Gofer.Server: also shown"], sink.Lines);
    }

    [Theory]
    [InlineData(LogLevel.Warning, false, "Gofer.Server", LogLevel.Information, false)]
    [InlineData(LogLevel.Warning, false, "Gofer.Server", LogLevel.Warning, true)]
    [InlineData(LogLevel.Warning, false, "Gofer.Server.Trace", LogLevel.Debug, false)]
    [InlineData(LogLevel.Warning, true, "Gofer.Server.Trace", LogLevel.Debug, true)]
    [InlineData(LogLevel.Warning, true, "Gofer.Server.Trace", LogLevel.Trace, false)]
    [InlineData(LogLevel.Warning, true, "Gofer.Server", LogLevel.Debug, false)]
    [InlineData(LogLevel.Information, false, "Gofer.Serve", LogLevel.Information, true)]
    [InlineData(LogLevel.Trace, true, "Gofer.Server.Trace", LogLevel.Trace, true)]
    [InlineData(LogLevel.None, true, "Gofer.Server.Trace", LogLevel.Debug, true)]
    [InlineData(LogLevel.None, false, "Gofer.Server", LogLevel.Critical, false)]
    [InlineData(LogLevel.Trace, false, "Gofer.Server", LogLevel.None, false)]
    public void Serve_filter_keeps_the_log_level_and_trace_rules(LogLevel logLevel, bool trace, string category, LogLevel level, bool expected)
    {
        Assert.Equal(expected, ServeCommand.IsEnabled(logLevel, trace, category, level));
        using var factory = ServeCommand.CreateLoggerFactory(logLevel, trace);
        Assert.Equal(expected, factory.CreateLogger(category).IsEnabled(level));
        Assert.False(factory.IsCreated);
    }

    private sealed class LogSink : ILoggerProvider
    {
        public List<string> Lines { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(LogSink owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (owner.Lines)
                    owner.Lines.Add(category + ": " + formatter(state, exception));
            }
        }
    }
}
