using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace ReSTE.Inference.Format
{
    /// <summary>Why a packed model file could not be read.</summary>
    public enum PackedModelError
    {
        /// <summary>Not a packed model (wrong magic).</summary>
        NotAPackedModel,
        /// <summary>Written in a format version this reader does not read.</summary>
        WrongVersion,
        /// <summary>Shorter than its header says.</summary>
        Truncated,
        /// <summary>A checksum does not match, or a length or value is impossible.</summary>
        Corrupt,
    }

    /// <summary>A packed model file that cannot be read, with the reason.</summary>
    public sealed class PackedModelFormatException : IOException
    {
        public PackedModelFormatException(PackedModelError error, string message) : base(message) { Error = error; }
        public PackedModelError Error { get; }
    }

    /// <summary>
    /// Reads and writes packed models (<c>.rbnn</c>), format versions 1 and 2. All integers and floats little-endian.
    /// A file is written in the lowest version that holds its ops: version 1 unless it has a binary Linear, an average
    /// pool, a padded max pool, or a grouped or dilated binary convolution (version 2), so that a model using only version 1's ops gives
    /// the same bytes, readable by older readers. This reader reads both.
    /// <code>
    /// header, 64 bytes
    ///    0  8  magic "RESTEBNN"
    ///    8  2  format version (1 or 2)
    ///   10  2  header size (64)
    ///   12  4  flags (0)
    ///   16  8  body length in bytes (the file is exactly header + body)
    ///   24  4  number of op records
    ///   28 12  input channels, height, width (u32 each)
    ///   40  4  CRC-32 of the body
    ///   44 16  reserved (0)
    ///   60  4  CRC-32 of header bytes 0..59
    /// body
    ///   metadata: u32 n, n × (string key, string value), u32 CRC-32 of the block   (string = u32 length + UTF-8)
    ///   n × op record: u8 kind, u16 name length, name (UTF-8), u32 payload length, payload,
    ///                  u32 CRC-32 of the record from its kind byte to the end of its payload
    /// payloads (f32[] arrays are raw little-endian floats; shapes come first)
    ///   1 Normalize      u32 C, f32[C] mean, f32[C] std
    ///   2 Conv2d         u32 in, out, kH, kW, stride, padding; u8 hasBias; f32[out·in·kH·kW] weight (OIHW); f32[out] bias
    ///   3 BinaryConv2d   u32 in, out, kH, kW, stride, padding; u8 flags (1 = binarizes activations, 2 = has zero mask,
    ///                    4 = grouped or dilated, version 2); if flag 4: u32 groups, u32 dilation;
    ///                    u32 s, f32[s] scale (s = 1 or out); u8[⌈n/8⌉] sign bits of the n OIHW weights (n =
    ///                    out·(in/groups)·kH·kW; bit i of the stream = bit i%8 of byte i/8, 1 = +1); if flag 2:
    ///                    u8[⌈n/8⌉] nonzero mask (0 = weight is 0)
    ///   4 ReLU           (empty)
    ///   5 BatchNorm      u32 C, f32 eps, f32[C] weight, f32[C] bias, f32[C] running mean, f32[C] running var
    ///   6 ResidualBegin  (empty)
    ///   7 ResidualEnd    u8 shortcut (0 identity, 1 option A), u32 stride, u32 pad before, u32 pad after
    ///   8 GlobalAvgPool  (empty)
    ///   9 Linear         u32 in, out; u8 hasBias; f32[out·in] weight; f32[out] bias
    ///  10 Hardtanh       f32 min, f32 max
    ///  11 MaxPool2d      u32 kernel, u32 stride [, u32 padding: version 2, only when not 0]   (output size rounded down)
    ///  12 ShortcutBranch (empty)   main path set aside; ops up to ResidualEnd run on the block's saved input
    /// version 2 only
    ///  13 BinaryLinear   u32 in, out; u8 flags (1 = binarizes activations, 2 = has zero mask, 4 = has bias);
    ///                    u32 s, f32[s] scale (s = 1 or out); u8[⌈n/8⌉] sign bits of the n = out·in weights ([out, in]);
    ///                    if flag 2: u8[⌈n/8⌉] nonzero mask; if flag 4: f32[out] bias
    ///  14 AvgPool2d      u32 kernel, u32 stride                        (no padding, output size rounded down)
    /// </code>
    /// </summary>
    public static class PackedModelFile
    {
        /// <summary>The newest format version this code writes and reads.</summary>
        public const ushort Version = 2;
        /// <summary>The oldest format version this code reads (and writes, for a model that needs nothing newer).</summary>
        public const ushort MinVersion = 1;

        /// <summary>
        /// The lowest format version that holds <paramref name="model"/>: 2 with a binary Linear, an average pool, a padded max pool or a
        /// grouped or dilated binary convolution, else 1.
        /// </summary>
        public static ushort RequiredVersion(PackedModel model)
        {
            ArgumentNullException.ThrowIfNull(model);
            foreach (var op in model.Ops)
                if (RequiredVersion(op) > 1) return 2;
            return 1;
        }

        static ushort RequiredVersion(DeployOp op) => op switch
        {
            BinaryLinearOp or AvgPool2dOp => 2,
            MaxPool2dOp { Padding: not 0 } => 2,
            BinaryConv2dOp b when b.Groups != 1 || b.Dilation != 1 => 2,
            _ => 1,
        };
        /// <summary>The size of the header.</summary>
        public const int HeaderSize = 64;
        /// <summary>The file's first 8 bytes.</summary>
        public static ReadOnlySpan<byte> Magic => "RESTEBNN"u8;
        /// <summary>The usual file extension.</summary>
        public const string Extension = ".rbnn";

        // ---------------------------------------------------------------- writing

        /// <summary>Writes <paramref name="model"/> to <paramref name="path"/>.</summary>
        public static void Save(PackedModel model, string path)
        {
            var bytes = ToBytes(model);
            File.WriteAllBytes(path, bytes);
        }

        /// <summary>Writes <paramref name="model"/> to <paramref name="stream"/>.</summary>
        public static void Write(PackedModel model, Stream stream) => stream.Write(ToBytes(model));

        /// <summary>The file's bytes.</summary>
        public static byte[] ToBytes(PackedModel model)
        {
            ArgumentNullException.ThrowIfNull(model);
            var body = new MemoryStream();
            var w = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true);

            long metaStart = body.Position;
            w.Write((uint)model.Metadata.Count);
            foreach (var (key, value) in model.Metadata) { WriteString(w, key); WriteString(w, value); }
            w.Flush();
            w.Write(Crc32.Compute(body.GetBuffer().AsSpan((int)metaStart, (int)(body.Position - metaStart))));

            foreach (var op in model.Ops)
            {
                w.Flush();
                long start = body.Position;
                w.Write((byte)op.Kind);
                var name = Encoding.UTF8.GetBytes(op.Name);
                if (name.Length > ushort.MaxValue) throw new ArgumentException($"Op name '{op.Name[..40]}…' is too long.");
                w.Write((ushort)name.Length); w.Write(name);
                var payload = Payload(op);
                w.Write((uint)payload.Length); w.Write(payload);
                w.Flush();
                w.Write(Crc32.Compute(body.GetBuffer().AsSpan((int)start, (int)(body.Position - start))));
            }
            w.Flush();

            var bodySpan = body.GetBuffer().AsSpan(0, (int)body.Length);
            var file = new byte[HeaderSize + bodySpan.Length];
            var h = file.AsSpan(0, HeaderSize);
            Magic.CopyTo(h);
            BinaryPrimitives.WriteUInt16LittleEndian(h[8..], RequiredVersion(model));
            BinaryPrimitives.WriteUInt16LittleEndian(h[10..], HeaderSize);
            BinaryPrimitives.WriteUInt32LittleEndian(h[12..], 0);
            BinaryPrimitives.WriteUInt64LittleEndian(h[16..], (ulong)bodySpan.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h[24..], (uint)model.Ops.Count);
            BinaryPrimitives.WriteUInt32LittleEndian(h[28..], (uint)model.InputChannels);
            BinaryPrimitives.WriteUInt32LittleEndian(h[32..], (uint)model.InputHeight);
            BinaryPrimitives.WriteUInt32LittleEndian(h[36..], (uint)model.InputWidth);
            BinaryPrimitives.WriteUInt32LittleEndian(h[40..], Crc32.Compute(bodySpan));
            BinaryPrimitives.WriteUInt32LittleEndian(h[60..], Crc32.Compute(h[..60]));
            bodySpan.CopyTo(file.AsSpan(HeaderSize));
            return file;
        }

        static void WriteString(BinaryWriter w, string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            w.Write((uint)bytes.Length); w.Write(bytes);
        }

        static void WriteFloats(BinaryWriter w, float[] values)
        {
            foreach (var v in values) w.Write(v);
        }

        static byte[] Payload(DeployOp op)
        {
            var ms = new MemoryStream();
            using (var w = new BinaryWriter(ms))
            {
                switch (op)
                {
                    case NormalizeOp n:
                        w.Write((uint)n.Mean.Length); WriteFloats(w, n.Mean); WriteFloats(w, n.Std);
                        break;
                    case Conv2dOp c:
                        w.Write((uint)c.InChannels); w.Write((uint)c.OutChannels); w.Write((uint)c.KernelH); w.Write((uint)c.KernelW);
                        w.Write((uint)c.Stride); w.Write((uint)c.Padding);
                        w.Write((byte)(c.Bias is null ? 0 : 1));
                        WriteFloats(w, c.Weight);
                        if (c.Bias is not null) WriteFloats(w, c.Bias);
                        break;
                    case BinaryConv2dOp b:
                        w.Write((uint)b.InChannels); w.Write((uint)b.OutChannels); w.Write((uint)b.KernelH); w.Write((uint)b.KernelW);
                        w.Write((uint)b.Stride); w.Write((uint)b.Padding);
                        bool extended = b.Groups != 1 || b.Dilation != 1;
                        w.Write((byte)((b.BinarizesActivations ? 1 : 0) | (b.Weight.NonZero is null ? 0 : 2) | (extended ? 4 : 0)));
                        if (extended) { w.Write((uint)b.Groups); w.Write((uint)b.Dilation); }
                        w.Write((uint)b.Scale.Length); WriteFloats(w, b.Scale);
                        w.Write(b.Weight.Signs);
                        if (b.Weight.NonZero is not null) w.Write(b.Weight.NonZero);
                        break;
                    case ReLUOp or ResidualBeginOp or GlobalAvgPoolOp or ShortcutBranchOp:
                        break;
                    case HardtanhOp t:
                        w.Write(t.Min); w.Write(t.Max);
                        break;
                    case BatchNormOp bn:
                        w.Write((uint)bn.Channels); w.Write(bn.Eps);
                        WriteFloats(w, bn.Weight); WriteFloats(w, bn.Bias); WriteFloats(w, bn.RunningMean); WriteFloats(w, bn.RunningVar);
                        break;
                    case MaxPool2dOp m:
                        w.Write((uint)m.Kernel); w.Write((uint)m.Stride);
                        if (m.Padding != 0) w.Write((uint)m.Padding);
                        break;
                    case AvgPool2dOp a:
                        w.Write((uint)a.Kernel); w.Write((uint)a.Stride);
                        break;
                    case BinaryLinearOp bl:
                        w.Write((uint)bl.InFeatures); w.Write((uint)bl.OutFeatures);
                        w.Write((byte)((bl.BinarizesActivations ? 1 : 0) | (bl.Weight.NonZero is null ? 0 : 2) | (bl.Bias is null ? 0 : 4)));
                        w.Write((uint)bl.Scale.Length); WriteFloats(w, bl.Scale);
                        w.Write(bl.Weight.Signs);
                        if (bl.Weight.NonZero is not null) w.Write(bl.Weight.NonZero);
                        if (bl.Bias is not null) WriteFloats(w, bl.Bias);
                        break;
                    case ResidualEndOp r:
                        w.Write((byte)r.Shortcut); w.Write((uint)r.Stride); w.Write((uint)r.PadBefore); w.Write((uint)r.PadAfter);
                        break;
                    case LinearOp l:
                        w.Write((uint)l.InFeatures); w.Write((uint)l.OutFeatures);
                        w.Write((byte)(l.Bias is null ? 0 : 1));
                        WriteFloats(w, l.Weight);
                        if (l.Bias is not null) WriteFloats(w, l.Bias);
                        break;
                    default:
                        throw new ArgumentException($"Op '{op.Name}' of type {op.GetType().Name} has no file encoding.");
                }
            }
            return ms.ToArray();
        }

        // ---------------------------------------------------------------- reading

        /// <summary>Reads the packed model at <paramref name="path"/>; see <see cref="FromBytes"/> for the errors.</summary>
        public static PackedModel Load(string path)
        {
            byte[] bytes;
            try { bytes = File.ReadAllBytes(path); }
            catch (FileNotFoundException) { throw new FileNotFoundException($"No packed model at '{path}'.", path); }
            try { return FromBytes(bytes); }
            catch (PackedModelFormatException e) { throw new PackedModelFormatException(e.Error, $"'{path}': {e.Message}"); }
        }

        /// <summary>Reads a packed model from <paramref name="stream"/> (to its end).</summary>
        public static PackedModel Read(Stream stream)
        {
            var ms = new MemoryStream();
            stream.CopyTo(ms);
            return FromBytes(ms.ToArray());
        }

        /// <summary>
        /// Parses a packed model. Throws <see cref="PackedModelFormatException"/> saying what is wrong: not a packed
        /// model, a format version other than <see cref="MinVersion"/>…<see cref="Version"/>, a file shorter (or longer) than its header says, or
        /// a checksum mismatch (naming the header, the metadata or the op record).
        /// </summary>
        public static PackedModel FromBytes(ReadOnlySpan<byte> file)
        {
            if (file.Length < Magic.Length)
            {
                if (Magic[..file.Length].SequenceEqual(file))
                    throw new PackedModelFormatException(PackedModelError.Truncated, $"Truncated packed model: {file.Length} bytes, shorter than the {HeaderSize}-byte header.");
                throw new PackedModelFormatException(PackedModelError.NotAPackedModel, "Not a ReSTE packed model: the file does not start with \"RESTEBNN\".");
            }
            if (!file[..8].SequenceEqual(Magic))
                throw new PackedModelFormatException(PackedModelError.NotAPackedModel, "Not a ReSTE packed model: the file does not start with \"RESTEBNN\".");
            if (file.Length < 10)
                throw new PackedModelFormatException(PackedModelError.Truncated, $"Truncated packed model: {file.Length} bytes, shorter than the {HeaderSize}-byte header.");
            ushort version = BinaryPrimitives.ReadUInt16LittleEndian(file[8..]);
            if (version < MinVersion || version > Version)
                throw new PackedModelFormatException(PackedModelError.WrongVersion,
                    $"Packed model format version {version}; this reader reads versions {MinVersion} to {Version}. Re-export the model with this version of ReSTE.");
            if (file.Length < HeaderSize)
                throw new PackedModelFormatException(PackedModelError.Truncated, $"Truncated packed model: {file.Length} bytes, shorter than the {HeaderSize}-byte header.");
            var h = file[..HeaderSize];
            uint headerCrc = BinaryPrimitives.ReadUInt32LittleEndian(h[60..]);
            if (Crc32.Compute(h[..60]) != headerCrc)
                throw new PackedModelFormatException(PackedModelError.Corrupt, "Corrupt packed model: the header checksum does not match.");
            if (BinaryPrimitives.ReadUInt16LittleEndian(h[10..]) != HeaderSize)
                throw new PackedModelFormatException(PackedModelError.Corrupt, $"Corrupt packed model: header size {BinaryPrimitives.ReadUInt16LittleEndian(h[10..])}, expected {HeaderSize}.");
            ulong bodyLength = BinaryPrimitives.ReadUInt64LittleEndian(h[16..]);
            uint opCount = BinaryPrimitives.ReadUInt32LittleEndian(h[24..]);
            uint c = BinaryPrimitives.ReadUInt32LittleEndian(h[28..]), hh = BinaryPrimitives.ReadUInt32LittleEndian(h[32..]),
                ww = BinaryPrimitives.ReadUInt32LittleEndian(h[36..]);
            uint bodyCrc = BinaryPrimitives.ReadUInt32LittleEndian(h[40..]);
            long actual = file.Length - HeaderSize;
            if ((ulong)actual < bodyLength)
                throw new PackedModelFormatException(PackedModelError.Truncated,
                    $"Truncated packed model: the header declares {bodyLength} body bytes ({(ulong)HeaderSize + bodyLength} in all), the file has {file.Length}.");
            if ((ulong)actual > bodyLength)
                throw new PackedModelFormatException(PackedModelError.Corrupt,
                    $"Corrupt packed model: {(ulong)actual - bodyLength} bytes after the end the header declares.");
            var body = file[HeaderSize..];

            var r = new Reader(body);
            var metadata = new Dictionary<string, string>();
            uint metaCount = r.U32("metadata");
            for (uint i = 0; i < metaCount; i++)
            {
                var key = r.String("metadata");
                var value = r.String("metadata");
                metadata[key] = value;
            }
            uint metaCrc = Crc32.Compute(body[..r.Position]);
            if (r.U32("metadata") != metaCrc)
                throw new PackedModelFormatException(PackedModelError.Corrupt, "Corrupt packed model: the metadata checksum does not match.");

            var ops = new List<DeployOp>((int)Math.Min(opCount, 4096));
            for (uint i = 0; i < opCount; i++)
            {
                int start = r.Position;
                string where = $"op record {i}";
                byte kind = r.U8(where);
                int nameLength = r.U16(where);
                var name = Encoding.UTF8.GetString(r.Bytes(nameLength, where));
                where = $"op record {i} ('{name}')";
                int payloadLength = checked((int)Math.Min(r.U32(where), int.MaxValue));
                var payload = r.Bytes(payloadLength, where);
                uint expected = Crc32.Compute(body[start..r.Position]);
                if (r.U32(where) != expected)
                    throw new PackedModelFormatException(PackedModelError.Corrupt, $"Corrupt packed model: the checksum of {where} does not match.");
                try
                {
                    var op = ParseOp((OpKind)kind, name, payload, where);
                    if (RequiredVersion(op) > version) throw new ArgumentException($"a {op.Kind} op needs format version {RequiredVersion(op)}, the file is version {version}.");
                    ops.Add(op);
                }
                catch (ArgumentException e)
                {
                    throw new PackedModelFormatException(PackedModelError.Corrupt, $"Corrupt packed model: {where} is invalid: {e.Message}");
                }
            }
            if (r.Position != body.Length)
                throw new PackedModelFormatException(PackedModelError.Corrupt, $"Corrupt packed model: {body.Length - r.Position} unread bytes after the last op record.");
            if (Crc32.Compute(body) != bodyCrc)
                throw new PackedModelFormatException(PackedModelError.Corrupt, "Corrupt packed model: the body checksum does not match.");
            if (c == 0 || hh == 0 || ww == 0 || c > int.MaxValue || hh > int.MaxValue || ww > int.MaxValue)
                throw new PackedModelFormatException(PackedModelError.Corrupt, $"Corrupt packed model: input shape {c}×{hh}×{ww}.");
            return new PackedModel((int)c, (int)hh, (int)ww, ops, metadata);
        }

        static DeployOp ParseOp(OpKind kind, string name, ReadOnlySpan<byte> payload, string where)
        {
            var r = new Reader(payload);
            DeployOp op;
            switch (kind)
            {
                case OpKind.Normalize:
                {
                    int n = r.Count(where);
                    op = new NormalizeOp(name, r.Floats(n, where), r.Floats(n, where));
                    break;
                }
                case OpKind.Conv2d:
                {
                    int i = r.Count(where), o = r.Count(where), kh = r.Count(where), kw = r.Count(where), s = r.Count(where), p = r.Count(where);
                    bool hasBias = r.U8(where) != 0;
                    var weight = r.Floats(Product(where, o, i, kh, kw), where);
                    op = new Conv2dOp(name, i, o, kh, kw, s, p, weight, hasBias ? r.Floats(o, where) : null);
                    break;
                }
                case OpKind.BinaryConv2d:
                {
                    int i = r.Count(where), o = r.Count(where), kh = r.Count(where), kw = r.Count(where), s = r.Count(where), p = r.Count(where);
                    byte flags = r.U8(where);
                    if ((flags & ~7) != 0) throw new ArgumentException($"unknown flags 0x{flags:X2}.");
                    int groups = 1, dilation = 1;
                    if ((flags & 4) != 0)
                    {
                        groups = r.Count(where); dilation = r.Count(where);
                        if (groups == 0 || i % groups != 0) throw new ArgumentException($"groups {groups} does not divide the {i} input channels.");
                    }
                    var scale = r.Floats(r.Count(where), where);
                    long n = (long)Product(where, o, i / groups, kh, kw);
                    int bytes = BitPacking.ByteCount(n);
                    var signs = r.Bytes(bytes, where).ToArray();
                    byte[]? mask = (flags & 2) != 0 ? r.Bytes(bytes, where).ToArray() : null;
                    op = new BinaryConv2dOp(name, i, o, kh, kw, s, p, (flags & 1) != 0, new SignBits(n, signs, mask), scale, groups, dilation);
                    break;
                }
                case OpKind.BinaryLinear:
                {
                    int i = r.Count(where), o = r.Count(where);
                    byte flags = r.U8(where);
                    if ((flags & ~7) != 0) throw new ArgumentException($"unknown flags 0x{flags:X2}.");
                    var scale = r.Floats(r.Count(where), where);
                    long n = (long)Product(where, o, i);
                    int bytes = BitPacking.ByteCount(n);
                    var signs = r.Bytes(bytes, where).ToArray();
                    byte[]? mask = (flags & 2) != 0 ? r.Bytes(bytes, where).ToArray() : null;
                    var bias = (flags & 4) != 0 ? r.Floats(o, where) : null;
                    op = new BinaryLinearOp(name, i, o, (flags & 1) != 0, new SignBits(n, signs, mask), scale, bias);
                    break;
                }
                case OpKind.AvgPool2d: op = new AvgPool2dOp(name, r.Count(where), r.Count(where)); break;
                case OpKind.ReLU: op = new ReLUOp(name); break;
                case OpKind.Hardtanh: op = new HardtanhOp(name, r.F32(where), r.F32(where)); break;
                case OpKind.BatchNorm:
                {
                    int n = r.Count(where);
                    float eps = r.F32(where);
                    op = new BatchNormOp(name, r.Floats(n, where), r.Floats(n, where), r.Floats(n, where), r.Floats(n, where), eps);
                    break;
                }
                case OpKind.ResidualBegin: op = new ResidualBeginOp(name); break;
                case OpKind.ResidualEnd:
                    op = new ResidualEndOp(name, (ShortcutKind)r.U8(where), r.Count(where), r.Count(where), r.Count(where));
                    break;
                case OpKind.GlobalAvgPool: op = new GlobalAvgPoolOp(name); break;
                case OpKind.MaxPool2d:
                {
                    int kernel = r.Count(where), stride = r.Count(where);
                    int padding = payload.Length > 8 ? r.Count(where) : 0;
                    if (padding == 0 && payload.Length > 8) throw new ArgumentException("a max pool's padding is recorded as 0 (it is recorded only when not 0).");
                    op = new MaxPool2dOp(name, kernel, stride, padding);
                    break;
                }
                case OpKind.ShortcutBranch: op = new ShortcutBranchOp(name); break;
                case OpKind.Linear:
                {
                    int i = r.Count(where), o = r.Count(where);
                    bool hasBias = r.U8(where) != 0;
                    var weight = r.Floats(Product(where, o, i), where);
                    op = new LinearOp(name, i, o, weight, hasBias ? r.Floats(o, where) : null);
                    break;
                }
                default:
                    throw new ArgumentException($"unknown op kind {(byte)kind}.");
            }
            if (r.Position != payload.Length) throw new ArgumentException($"{payload.Length - r.Position} unread payload bytes.");
            return op;
        }

        static int Product(string where, params int[] dims)
        {
            long p = 1;
            foreach (var d in dims) { p *= d; if (p > int.MaxValue) throw new ArgumentException($"{where}: tensor too large."); }
            return (int)p;
        }

        ref struct Reader
        {
            readonly ReadOnlySpan<byte> _data;
            public int Position;
            public Reader(ReadOnlySpan<byte> data) { _data = data; Position = 0; }

            ReadOnlySpan<byte> Take(long n, string where)
            {
                if (n < 0 || Position + n > _data.Length)
                    throw new PackedModelFormatException(PackedModelError.Corrupt,
                        $"Corrupt packed model: {where} needs {n} more bytes at offset {Position}, only {_data.Length - Position} remain.");
                var s = _data.Slice(Position, (int)n);
                Position += (int)n;
                return s;
            }

            public byte U8(string where) => Take(1, where)[0];
            public ushort U16(string where) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, where));
            public uint U32(string where) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, where));
            public float F32(string where) => BinaryPrimitives.ReadSingleLittleEndian(Take(4, where));
            public int Count(string where)
            {
                uint v = U32(where);
                if (v > int.MaxValue) throw new ArgumentException($"count {v} is out of range.");
                return (int)v;
            }
            public ReadOnlySpan<byte> Bytes(long n, string where) => Take(n, where);
            public string String(string where) => Encoding.UTF8.GetString(Take(U32(where), where));
            public float[] Floats(int n, string where)
            {
                var bytes = Take(4L * n, where);
                var result = new float[n];
                for (int i = 0; i < n; i++) result[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
                return result;
            }
        }
    }
}
