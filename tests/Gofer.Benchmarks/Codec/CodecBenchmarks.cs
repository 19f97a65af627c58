using System.Buffers;
using BenchmarkDotNet.Attributes;
using P9.Protocol.Wire;

namespace Gofer.Benchmarks.Codec;

/// <summary>The codec's hot paths must not allocate: decode in place, encode into a reused buffer writer.</summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private readonly byte[] _twalk = new byte[256];
    private readonly byte[] _tread = new byte[64];
    private readonly byte[] _twrite = new byte[8192];
    private readonly byte[] _fileData = new byte[4096];
    private readonly FixedBufferWriter _out = new(1 << 16);
    private readonly byte[][] _names = Enumerable.Range(0, 32).Select(i => System.Text.Encoding.UTF8.GetBytes($"file-{i:D4}.txt")).ToArray();
    private int _twalkLength, _treadLength, _twriteLength;

    [GlobalSetup]
    public void Setup()
    {
        _twalkLength = Twalk.Encode(_twalk, 1, 0, 1, new[] { "usr", "lib", "x86_64-linux-gnu", "libc.so.6" });
        _treadLength = Tread.Encode(_tread, 2, 1, 4096, 4096);
        _twriteLength = Twrite.Encode(_twrite, 3, 1, 0, new byte[4096]);
    }

    [Benchmark]
    public int DecodeTwalk()
    {
        Twalk.TryDecode(_twalk.AsSpan(0, _twalkLength), out var m);
        int n = 0;
        foreach (var name in m.Wnames)
            n += name.Length;
        return n + (int)m.Newfid;
    }

    [Benchmark]
    public ulong DecodeTread()
    {
        Tread.TryDecode(_tread.AsSpan(0, _treadLength), out var m);
        return m.Offset + m.Count + m.Fid;
    }

    [Benchmark]
    public int DecodeTwrite()
    {
        Twrite.TryDecode(_twrite.AsSpan(0, _twriteLength), out var m);
        return m.Data.Length + (int)m.Fid;
    }

    [Benchmark]
    public int EncodeRgetattr()
    {
        _out.Reset();
        Rgetattr.Encode(_out, 7, GetattrMask.Basic, new Qid(QidType.File, 1, 12345), 0x81A4, 1000, 1000, 1, 0, 4096, 4096, 8,
            1, 2, 3, 4, 5, 6, 0, 0, 0, 0);
        return _out.Written;
    }

    [Benchmark]
    public int EncodeRreadFillInPlace()
    {
        _out.Reset();
        var reply = ReplyWriter.BeginRread(_out, 8, _fileData.Length);
        _fileData.CopyTo(reply.Payload); // stands in for pread into the output
        reply.Commit(_fileData.Length);
        return _out.Written;
    }

    [Benchmark]
    public int EncodeRreaddir32Entries()
    {
        _out.Reset();
        var reply = ReplyWriter.BeginRreaddir(_out, 9, 8192 - 11);
        var dirents = new DirentWriter(reply.Payload);
        for (int i = 0; i < _names.Length; i++)
        {
            if (!dirents.TryAppend(new Qid(QidType.File, 0, (ulong)i), (ulong)(i + 1), DirentType.Regular, _names[i]))
                break;
        }
        reply.Commit(dirents.Written);
        return _out.Written;
    }
}

/// <summary>A reusable IBufferWriter over one array, so the benchmark measures the encoder, not the writer.</summary>
internal sealed class FixedBufferWriter(int capacity) : IBufferWriter<byte>
{
    private readonly byte[] _buffer = new byte[capacity];

    public int Written { get; private set; }

    public void Reset() => Written = 0;

    public void Advance(int count) => Written += count;

    public Memory<byte> GetMemory(int sizeHint = 0) => _buffer.AsMemory(Written);

    public Span<byte> GetSpan(int sizeHint = 0) => _buffer.AsSpan(Written);
}
