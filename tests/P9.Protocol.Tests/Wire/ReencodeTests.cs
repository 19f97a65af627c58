using P9.Protocol.Wire;

namespace P9.Protocol.Tests.Wire;

/// <summary>The span overloads re-encode decoded views byte for byte (a proxy or a test peer relies on this).</summary>
public class ReencodeTests
{
    [Fact]
    public void Decoded_twalk_names_reencode_identically()
    {
        var a = new byte[128];
        int n = Twalk.Encode(a, 3, 1, 2, new[] { "é", "", "x/y" });
        Assert.Equal(P9DecodeError.None, Twalk.TryDecode(a.AsSpan(0, n), out var m));
        Assert.Equal(n, Twalk.GetFrameSize(m.Wnames));
        var b = new byte[128];
        Assert.Equal(n, Twalk.Encode(b, m.Tag, m.Fid, m.Newfid, m.Wnames));
        Assert.True(a.AsSpan(0, n).SequenceEqual(b.AsSpan(0, n)));
        Assert.Equal(2, m.Wnames[0].Length); // "é" is two UTF-8 bytes: lengths are byte counts
        Assert.Equal(0, m.Wnames[1].Length);
    }

    [Fact]
    public void Empty_walk_clones()
    {
        var a = new byte[32];
        int n = Twalk.Encode(a, 1, 5, 6, ReadOnlySpan<string>.Empty);
        Assert.Equal(17, n);
        Assert.Equal(P9DecodeError.None, Twalk.TryDecode(a.AsSpan(0, n), out var m));
        Assert.Equal(0, m.Wnames.Count);
        int count = 0;
        foreach (var _ in m.Wnames)
            count++;
        Assert.Equal(0, count);
    }

    [Fact]
    public void Encoders_refuse_what_the_wire_cannot_carry()
    {
        var big = new byte[200_000];
        Assert.Throws<ArgumentException>(() => Twalk.Encode(big, 1, 0, 1, Enumerable.Repeat("a", 17).ToArray()));
        Assert.Throws<ArgumentException>(() => Tmkdir.Encode(big, 1, 0, new string('a', 70_000), 0, 0));
        Assert.Throws<ArgumentException>(() => Tclunk.Encode(new byte[10], 1, 0)); // destination too small
    }
}
