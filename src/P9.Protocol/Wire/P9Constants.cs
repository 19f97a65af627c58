namespace P9.Protocol.Wire;

/// <summary>Protocol constants from the 9P2000.L grammar (linux include/net/9p/9p.h).</summary>
public static class P9Constants
{
    /// <summary>size[4] type[1] tag[2].</summary>
    public const int HeaderSize = 7;
    public const ushort NoTag = 0xFFFF;
    public const uint NoFid = 0xFFFFFFFF;
    public const uint NoUid = 0xFFFFFFFF;
    /// <summary>Most names in a Twalk, most qids in an Rwalk.</summary>
    public const int MaxWalkElements = 16;
    /// <summary>Headroom clients reserve for Tread/Twrite/Treaddir headers: payload ≤ msize − 24.</summary>
    public const int IoHeaderSize = 24;
    public const string Version = "9P2000.L";
}
