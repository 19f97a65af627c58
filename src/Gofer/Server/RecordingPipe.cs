using System.Buffers;
using System.IO.Pipelines;
using Gofer.Recording;

namespace Gofer.Server;

/// <summary>
/// A duplex pipe that tees a connection into an <see cref="IConnectionRecorder"/> (<c>gofer serve --record</c>).
/// Only built when recording is on, so the normal path pays nothing.
/// Input is recorded at <see cref="PipeReader.AdvanceTo(SequencePosition, SequencePosition)"/>, i.e. the bytes the
/// session consumed: a PipeReader hands the same unconsumed bytes back on every ReadAsync until they are consumed,
/// so recording at ReadAsync would duplicate every partial frame (src/Gofer/Recording/README.md). Output is
/// recorded at <see cref="PipeWriter.Advance"/>, the bytes committed for sending.
/// </summary>
internal sealed class RecordingPipe : IDuplexPipe
{
    public RecordingPipe(IDuplexPipe inner, IConnectionRecorder recorder)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(recorder);
        Input = new Reader(inner.Input, recorder);
        Output = new Writer(inner.Output, recorder);
    }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    private sealed class Reader(PipeReader inner, IConnectionRecorder recorder) : PipeReader
    {
        // The buffer of the last read: AdvanceTo positions point into it.
        private ReadOnlySequence<byte> _last;
        private bool _haveLast;

        public override bool TryRead(out ReadResult result)
        {
            bool ok = inner.TryRead(out result);
            if (ok)
                Remember(result);
            return ok;
        }

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            var result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
            Remember(result);
            return result;
        }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            if (_haveLast)
            {
                var taken = _last.Slice(_last.Start, consumed);
                if (!taken.IsEmpty)
                    recorder.Received(taken);
                _haveLast = false;
            }
            inner.AdvanceTo(consumed, examined);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        private void Remember(in ReadResult result)
        {
            _last = result.Buffer;
            _haveLast = true;
        }
    }

    private sealed class Writer(PipeWriter inner, IConnectionRecorder recorder) : PipeWriter
    {
        // The memory handed out by the last GetMemory/GetSpan: Advance(n) commits its first n bytes.
        private Memory<byte> _last;

        public override Memory<byte> GetMemory(int sizeHint = 0) => _last = inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

        public override void Advance(int bytes)
        {
            if (bytes > 0 && bytes <= _last.Length)
                recorder.Sent(_last.Span[..bytes]);
            _last = default;
            inner.Advance(bytes);
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }
}
