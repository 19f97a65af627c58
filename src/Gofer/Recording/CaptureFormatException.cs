namespace Gofer.Recording;

/// <summary>A capture file that is not pcap/pcapng, or is damaged: the typed error for bad input to the reader.</summary>
public sealed class CaptureFormatException : Exception
{
    public CaptureFormatException()
    {
    }

    public CaptureFormatException(string message)
        : base(message)
    {
    }

    public CaptureFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
