using Microsoft.Extensions.Logging;

namespace Gofer.Cli;

/// <summary>
/// An <see cref="ILoggerFactory"/> that builds the real one (the console logger) only when a message at an enabled
/// level is first logged. <c>LoggerFactory.Create</c> with the console provider sets up dependency injection, options
/// and a queue thread: several milliseconds of a NativeAOT <c>gofer serve</c> start, before it can listen. With
/// <c>--log-level Warning</c> a clean start logs nothing, so that cost is never paid.
/// </summary>
/// <remarks>
/// <paramref name="isEnabled"/> must be the same predicate the real factory filters with (see
/// <c>ServeCommand.IsEnabled</c>), so that <see cref="ILogger.IsEnabled"/> answers exactly as the real logger would
/// without building it.
/// </remarks>
internal sealed class DeferredLoggerFactory(Func<string, LogLevel, bool> isEnabled, Func<ILoggerFactory> create) : ILoggerFactory
{
    private readonly Lazy<ILoggerFactory> _real = new(create, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether the real factory has been built (a message was logged, a scope begun or a provider added).</summary>
    public bool IsCreated => _real.IsValueCreated;

    public ILogger CreateLogger(string categoryName) => new DeferredLogger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) => _real.Value.AddProvider(provider);

    public void Dispose()
    {
        // Flushes the console queue when something was logged; nothing to do otherwise.
        if (_real.IsValueCreated)
            _real.Value.Dispose();
    }

    private sealed class DeferredLogger(DeferredLoggerFactory owner, string category) : ILogger
    {
        private ILogger? _real;

        // Two threads may race here; both get a logger for the same category from the one real factory.
        private ILogger Real => _real ??= owner._real.Value.CreateLogger(category);

        public bool IsEnabled(LogLevel logLevel) => owner.IsEnabledFor(category, logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                Real.Log(logLevel, eventId, state, exception, formatter);
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => Real.BeginScope(state);
    }

    private bool IsEnabledFor(string category, LogLevel level) => level != LogLevel.None && isEnabled(category, level);
}
