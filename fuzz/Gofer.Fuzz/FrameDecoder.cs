// Written by hand from the message list of Messages.g.cs (one line per 9P2000.L message).
using P9.Protocol.Wire;

namespace Gofer.Fuzz;

/// <summary>Decodes one whole frame with the TryDecode of the message its type byte names, and renders the decoded
/// message (ToString reads every field, so a decoder that accepted a frame it cannot walk would throw here).</summary>
internal static class FrameDecoder
{
    /// <summary>Returns the decode error (None for a good frame); <paramref name="text"/> is the message's trace line
    /// when it decoded, else null. Types without a .L decoder give UnknownType.</summary>
    public static P9DecodeError Decode(ReadOnlySpan<byte> frame, P9MessageType type, out string? text)
    {
        text = null;
        switch (type)
        {
            case P9MessageType.Tversion: { var e = Tversion.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rversion: { var e = Rversion.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tauth: { var e = Tauth.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rauth: { var e = Rauth.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tattach: { var e = Tattach.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rattach: { var e = Rattach.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rlerror: { var e = Rlerror.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tflush: { var e = Tflush.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rflush: { var e = Rflush.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Twalk: { var e = Twalk.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rwalk: { var e = Rwalk.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tread: { var e = Tread.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rread: { var e = Rread.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Twrite: { var e = Twrite.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rwrite: { var e = Rwrite.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tclunk: { var e = Tclunk.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rclunk: { var e = Rclunk.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tremove: { var e = Tremove.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rremove: { var e = Rremove.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tstatfs: { var e = Tstatfs.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rstatfs: { var e = Rstatfs.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tlopen: { var e = Tlopen.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rlopen: { var e = Rlopen.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tlcreate: { var e = Tlcreate.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rlcreate: { var e = Rlcreate.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tsymlink: { var e = Tsymlink.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rsymlink: { var e = Rsymlink.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tmknod: { var e = Tmknod.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rmknod: { var e = Rmknod.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Trename: { var e = Trename.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rrename: { var e = Rrename.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Treadlink: { var e = Treadlink.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rreadlink: { var e = Rreadlink.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tgetattr: { var e = Tgetattr.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rgetattr: { var e = Rgetattr.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tsetattr: { var e = Tsetattr.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rsetattr: { var e = Rsetattr.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Txattrwalk: { var e = Txattrwalk.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rxattrwalk: { var e = Rxattrwalk.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Txattrcreate: { var e = Txattrcreate.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rxattrcreate: { var e = Rxattrcreate.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Treaddir: { var e = Treaddir.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rreaddir: { var e = Rreaddir.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tfsync: { var e = Tfsync.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rfsync: { var e = Rfsync.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tlock: { var e = Tlock.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rlock: { var e = Rlock.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tgetlock: { var e = Tgetlock.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rgetlock: { var e = Rgetlock.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tlink: { var e = Tlink.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rlink: { var e = Rlink.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tmkdir: { var e = Tmkdir.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rmkdir: { var e = Rmkdir.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Trenameat: { var e = Trenameat.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Rrenameat: { var e = Rrenameat.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Tunlinkat: { var e = Tunlinkat.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            case P9MessageType.Runlinkat: { var e = Runlinkat.TryDecode(frame, out var m); if (e == P9DecodeError.None) text = m.ToString(); return e; }
            default:
                return P9DecodeError.UnknownType;
        }
    }
}
