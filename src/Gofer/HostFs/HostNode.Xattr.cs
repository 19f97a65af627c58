using Gofer.HostFs.Native;

namespace Gofer.HostFs;

internal sealed partial class HostNode
{
    // XATTR_NAME_MAX.
    private const int XattrNameMax = 255;

    /// <summary>
    /// Txattrwalk (get): with an empty <paramref name="dest"/> reports the exact value size (the size
    /// probe Rxattrwalk needs); otherwise copies the value (ERANGE if it does not fit). Values are
    /// capped at MaxXattrValue. All xattr calls go through "/proc/self/fd/N" with the following variants:
    /// the magic link resolves to the node's own inode and stops there, even for a symlink node.
    /// </summary>
    public unsafe Errno GetXattr(ReadOnlySpan<byte> name, Span<byte> dest, out int size)
    {
        size = 0;
        Errno e = XattrName(name, out XattrNameBuffer cname);
        if (e != Errno.None)
        {
            return e;
        }

        if (dest.Length > _export.Options.MaxXattrValue)
        {
            dest = dest[.._export.Options.MaxXattrValue];
        }

        return WithProcPath(static (path, state) =>
        {
            fixed (byte* v = state.Dest)
            {
                nint n = Libc.getxattr(path, state.Name, v, (nuint)state.Dest.Length);
                return (n < 0 ? ErrnoExtensions.Last() : Errno.None, n < 0 ? 0 : (int)n);
            }
        }, new XattrState(&cname, dest), out size);
    }

    /// <summary>Txattrwalk with an empty name (list): NUL-separated names, exact size with an empty buffer.</summary>
    public unsafe Errno ListXattr(Span<byte> dest, out int size)
    {
        size = 0;
        if (_disposed)
        {
            return Errno.EBADF; // used after clunk: an error for the client, not an exception
        }

        if (dest.Length > _export.Options.MaxXattrValue)
        {
            dest = dest[.._export.Options.MaxXattrValue];
        }

        return WithProcPath(static (path, state) =>
        {
            fixed (byte* v = state.Dest)
            {
                nint n = Libc.listxattr(path, v, (nuint)state.Dest.Length);
                return (n < 0 ? ErrnoExtensions.Last() : Errno.None, n < 0 ? 0 : (int)n);
            }
        }, new XattrState(null, dest), out size);
    }

    /// <summary>
    /// The setxattr a Tclunk of a Txattrcreate fid performs. Flags: 0, XATTR_CREATE (1), XATTR_REPLACE (2);
    /// others EINVAL. Values above MaxXattrValue are E2BIG.
    /// </summary>
    public unsafe Errno SetXattr(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, uint flags)
    {
        Errno e = XattrName(name, out XattrNameBuffer cname);
        if (e != Errno.None)
        {
            return e;
        }

        if ((flags & ~(P9L.XattrCreate | P9L.XattrReplace)) != 0 || flags == (P9L.XattrCreate | P9L.XattrReplace))
        {
            return Errno.EINVAL;
        }

        if (value.Length > _export.Options.MaxXattrValue)
        {
            return Errno.E2BIG;
        }

        if (_export.ReadOnly)
        {
            return Errno.EROFS;
        }

        fixed (byte* v = value)
        {
            var state = new XattrState(&cname, default) { Value = v, ValueLength = value.Length, Flags = (int)flags };
            return WithProcPath(static (path, s) =>
            {
                int r = Libc.setxattr(path, s.Name, s.Value, (nuint)s.ValueLength, s.Flags);
                return (r == 0 ? Errno.None : ErrnoExtensions.Last(), 0);
            }, state, out _);
        }
    }

    /// <summary>The removexattr a Tclunk of a Txattrcreate fid with attr_size 0 performs.</summary>
    public unsafe Errno RemoveXattr(ReadOnlySpan<byte> name)
    {
        Errno e = XattrName(name, out XattrNameBuffer cname);
        if (e != Errno.None)
        {
            return e;
        }

        if (_export.ReadOnly)
        {
            return Errno.EROFS;
        }

        return WithProcPath(static (path, s) =>
        {
            int r = Libc.removexattr(path, s.Name);
            return (r == 0 ? Errno.None : ErrnoExtensions.Last(), 0);
        }, new XattrState(&cname, default), out _);
    }

    private Errno XattrName(ReadOnlySpan<byte> name, out XattrNameBuffer buffer)
    {
        buffer = default;
        if (_disposed)
        {
            return Errno.EBADF; // used after clunk: an error for the client, not an exception
        }

        if (name.IsEmpty || name.IndexOf((byte)0) >= 0)
        {
            return Errno.EINVAL;
        }

        if (name.Length > XattrNameMax)
        {
            return Errno.ERANGE; // what setxattr(2)/getxattr(2) say for an over-long name
        }

        name.CopyTo(buffer);
        buffer[name.Length] = 0;
        return Errno.None;
    }

    private unsafe delegate (Errno Error, int Size) XattrCall(byte* procPath, XattrState state);

    private unsafe Errno WithProcPath(XattrCall call, XattrState state, out int size)
    {
        size = 0;
        Span<byte> proc = stackalloc byte[ProcFdPath.BufferSize];
        SafeFd path = PathFd;
        bool added = false;
        try
        {
            path.DangerousAddRef(ref added);
            ProcFdPath.WriteFull(path.RawValue, proc);
            fixed (byte* p = proc)
            {
                (Errno e, size) = call(p, state);
                return e;
            }
        }
        finally
        {
            if (added)
            {
                path.DangerousRelease();
            }
        }
    }

    [System.Runtime.CompilerServices.InlineArray(XattrNameMax + 1)]
    private struct XattrNameBuffer
    {
        private byte _element0;
    }

    private unsafe ref struct XattrState
    {
        public XattrState(XattrNameBuffer* name, Span<byte> dest)
        {
            Name = (byte*)name;
            Dest = dest;
        }

        public byte* Name;
        public Span<byte> Dest;
        public byte* Value;
        public int ValueLength;
        public int Flags;
    }
}
