using System.Runtime.InteropServices;
using System.Text;

namespace Gofer.Hardening.Native;

/// <summary>
/// Unmanaged memory for everything the confining thread reads: it must not allocate managed
/// objects or marshal strings once it has left the host namespaces. Freed all at once.
/// </summary>
internal sealed unsafe class NativeArena : IDisposable
{
    private readonly List<nint> _blocks = [];

    public T* Alloc<T>(int count = 1)
        where T : unmanaged
    {
        void* block = NativeMemory.AllocZeroed((nuint)Math.Max(count, 1), (nuint)sizeof(T));
        _blocks.Add((nint)block);
        return (T*)block;
    }

    public byte* Bytes(int size) => Alloc<byte>(size);

    /// <summary>A NUL-terminated UTF-8 copy of <paramref name="value"/>.</summary>
    public byte* Utf8(string value)
    {
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("a path or argument contains NUL", nameof(value));
        }

        int length = Encoding.UTF8.GetByteCount(value);
        byte* text = Bytes(length + 1);
        Encoding.UTF8.GetBytes(value, new Span<byte>(text, length));
        return text;
    }

    /// <summary>A NULL-terminated array of NUL-terminated strings (argv, envp).</summary>
    public byte** Utf8Vector(IEnumerable<string> values)
    {
        List<string> list = [.. values];
        byte** vector = (byte**)Alloc<nint>(list.Count + 1);
        for (int i = 0; i < list.Count; i++)
        {
            vector[i] = Utf8(list[i]);
        }

        return vector;
    }

    public void Dispose()
    {
        foreach (nint block in _blocks)
        {
            NativeMemory.Free((void*)block);
        }

        _blocks.Clear();
    }
}
