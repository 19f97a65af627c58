namespace P9.Protocol.Tests;

public class SmokeTests
{
    [Fact]
    public void Builds() => Assert.True(true);
}
