using System.Collections.Concurrent;

namespace Gofer.HostFs;

/// <summary>
/// qid.path for a (st_dev, st_ino) pair, unique across the whole export even when it spans several host
/// devices (bind mounts, subvolumes): the Linux client derives st_ino from qid.path, so two objects must
/// never share one and hard links must (QEMU's multidevs problem, 9P reference §1.5, §3.4, §4.3).
/// Layout: bits 63..48 = a per-export device index (first device seen = 0), bits 47..0 = st_ino.
/// Inodes that do not fit 48 bits (some filesystems hash them) and devices beyond the 65 535th go to a
/// fallback table under index 0xFFFF with a sequential number, so nothing is ever truncated.
/// </summary>
internal sealed class QidMap
{
    private const int InoBits = 48;
    private const ulong InoMask = (1UL << InoBits) - 1;
    private const int FallbackIndex = 0xFFFF;

    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<(ulong Dev, ulong Ino), ulong> _fallback = new();
    private ulong[] _devices = [];
    private long _nextFallback;

    public ulong PathOf(ulong dev, ulong ino)
    {
        int index = IndexOf(dev);
        if (index < FallbackIndex && ino <= InoMask)
        {
            return ((ulong)index << InoBits) | ino;
        }

        return _fallback.GetOrAdd((dev, ino), static (_, self) => self.NextFallback(), this);
    }

    private ulong NextFallback()
    {
        ulong seq = (ulong)Interlocked.Increment(ref _nextFallback);
        return ((ulong)FallbackIndex << InoBits) | (seq & InoMask);
    }

    private int IndexOf(ulong dev)
    {
        // Lock-free read of an append-only array: exports see a handful of devices.
        ulong[] devices = Volatile.Read(ref _devices);
        for (int i = 0; i < devices.Length; i++)
        {
            if (devices[i] == dev)
            {
                return i;
            }
        }

        lock (_gate)
        {
            devices = _devices;
            int i = Array.IndexOf(devices, dev);
            if (i >= 0)
            {
                return i;
            }

            if (devices.Length >= FallbackIndex)
            {
                return FallbackIndex;
            }

            var grown = new ulong[devices.Length + 1];
            devices.CopyTo(grown, 0);
            grown[^1] = dev;
            Volatile.Write(ref _devices, grown);
            return devices.Length;
        }
    }
}
