namespace Gofer.Recording;

/// <summary>
/// Reads 9P messages out of a pcap or pcapng capture: <c>gofer serve --record</c> files, or captures of real
/// traffic (tshark/tcpdump on loopback, <c>-i any</c>, other hosts' 9P servers).
/// </summary>
internal static class P9CaptureReader
{
    /// <summary>Reads a whole capture file.</summary>
    /// <exception cref="CaptureFormatException">The file is not a capture or is damaged.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static P9Capture Read(string path, P9CaptureReaderOptions? options = null)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        return Read(stream, options);
    }

    /// <inheritdoc cref="Read(string, P9CaptureReaderOptions?)"/>
    public static P9Capture Read(Stream input, P9CaptureReaderOptions? options = null)
    {
        var extractor = new P9StreamExtractor(options ?? new P9CaptureReaderOptions());
        var frames = new List<P9Frame>();
        var file = CaptureFileReader.Open(input);
        long first = 0;
        long count = 0;
        while (file.TryRead(out CapturedPacket packet))
        {
            if (count++ == 0)
            {
                first = packet.TimestampNs;
            }

            extractor.OnPacket(packet, frames);
        }

        extractor.Finish();
        return new P9Capture
        {
            Frames = frames,
            Streams = extractor.Streams,
            Warnings = extractor.Warnings,
            FirstPacketNs = first,
            PacketCount = count,
        };
    }

    /// <summary>
    /// Streams the messages of a capture without holding them all (for large captures and fuzz-corpus
    /// extraction). Warnings go to <paramref name="warn"/>.
    /// </summary>
    public static IEnumerable<P9Frame> ReadFrames(Stream input, P9CaptureReaderOptions? options = null, Action<string>? warn = null)
    {
        var extractor = new P9StreamExtractor(options ?? new P9CaptureReaderOptions());
        var file = CaptureFileReader.Open(input);
        var batch = new List<P9Frame>();
        int warned = 0;
        while (file.TryRead(out CapturedPacket packet))
        {
            extractor.OnPacket(packet, batch);
            foreach (var frame in batch)
            {
                yield return frame;
            }

            batch.Clear();
            for (; warned < extractor.Warnings.Count; warned++)
            {
                warn?.Invoke(extractor.Warnings[warned]);
            }
        }

        extractor.Finish();
        for (; warned < extractor.Warnings.Count; warned++)
        {
            warn?.Invoke(extractor.Warnings[warned]);
        }
    }
}
