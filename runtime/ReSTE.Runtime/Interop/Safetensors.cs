using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Interop
{
    /// <summary>
    /// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header mapping each tensor's
    /// name to its dtype, shape and byte range (plus an optional string-to-string <c>__metadata__</c>), then the raw
    /// little-endian data. Reading gives CPU tensors; writing takes tensors on any device.
    /// </summary>
    public static class Safetensors
    {
        public const string MetadataKey = "__metadata__";
        const long MaxHeaderBytes = 100_000_000;

        static readonly Dictionary<string, ScalarType> DTypes = new()
        {
            ["F64"] = ScalarType.Float64, ["F32"] = ScalarType.Float32, ["F16"] = ScalarType.Float16, ["BF16"] = ScalarType.BFloat16,
            ["I64"] = ScalarType.Int64, ["I32"] = ScalarType.Int32, ["I16"] = ScalarType.Int16, ["I8"] = ScalarType.Int8,
            ["U8"] = ScalarType.Byte, ["BOOL"] = ScalarType.Bool,
        };

        static string DTypeName(ScalarType t)
        {
            foreach (var (name, type) in DTypes) if (type == t) return name;
            throw new NotSupportedException($"safetensors: tensors of type {t} are not supported.");
        }

        /// <summary>Writes <paramref name="tensors"/> (names sorted, as the reference library does) and metadata.</summary>
        public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        {
            using var stream = File.Create(path);
            Write(stream, tensors, metadata);
        }

        /// <summary>Writes the safetensors bytes to <paramref name="stream"/>.</summary>
        public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
        {
            var items = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
            var seen = new HashSet<string>();
            foreach (var (name, _) in items)
            {
                if (name == MetadataKey) throw new ArgumentException($"safetensors: '{MetadataKey}' is not a tensor name.");
                if (!seen.Add(name)) throw new ArgumentException($"safetensors: tensor '{name}' appears twice.");
            }
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing needs a little-endian host.");
            var header = new MemoryStream();
            // Contiguous CPU views of the tensors (the tensors themselves when they are so already), written straight
            // from their memory: a checkpoint is written at every training step on a CPU, so no copy is made of them.
            var datas = new List<Tensor>();
            try
            {
                using (var json = new Utf8JsonWriter(header))
                {
                    json.WriteStartObject();
                    if (metadata is { Count: > 0 })
                    {
                        json.WriteStartObject(MetadataKey);
                        foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(k, v);
                        json.WriteEndObject();
                    }
                    long offset = 0;
                    foreach (var (name, t) in items)
                    {
                        var cpu = t.detach().cpu().contiguous();
                        datas.Add(cpu);
                        long length = cpu.bytes.Length;
                        json.WriteStartObject(name);
                        json.WriteString("dtype", DTypeName(t.dtype));
                        json.WriteStartArray("shape");
                        foreach (var d in t.shape) json.WriteNumberValue(d);
                        json.WriteEndArray();
                        json.WriteStartArray("data_offsets");
                        json.WriteNumberValue(offset);
                        json.WriteNumberValue(offset + length);
                        json.WriteEndArray();
                        json.WriteEndObject();
                        offset += length;
                    }
                    json.WriteEndObject();
                }
                // The header is padded with spaces to a multiple of 8 so that the data is aligned.
                long headerLength = header.Length;
                long padded = (headerLength + 7) / 8 * 8;
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
                stream.Write(len);
                header.Position = 0;
                header.CopyTo(stream);
                for (long i = headerLength; i < padded; i++) stream.WriteByte((byte)' ');
                foreach (var d in datas) stream.Write(d.bytes);
            }
            finally
            {
                foreach (var d in datas) d.Dispose();
            }
        }

        /// <summary>Reads every tensor of the file at <paramref name="path"/> (as CPU tensors) and its metadata.</summary>
        public static SafetensorsFile Load(string path)
        {
            byte[] bytes;
            try { bytes = File.ReadAllBytes(path); }
            catch (FileNotFoundException) { throw new FileNotFoundException($"safetensors file '{path}' not found.", path); }
            return Read(bytes, path);
        }

        /// <summary>Parses safetensors bytes; <paramref name="name"/> names the source in errors.</summary>
        public static SafetensorsFile Read(byte[] bytes, string name)
        {
            if (bytes.Length < 8) throw new InvalidDataException($"safetensors '{name}': {bytes.Length} bytes is too short for a header.");
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            if (headerLength > MaxHeaderBytes || 8 + (long)headerLength > bytes.Length)
                throw new InvalidDataException($"safetensors '{name}': header length {headerLength} exceeds the file ({bytes.Length} bytes).");
            long dataStart = 8 + (long)headerLength;
            long dataLength = bytes.Length - dataStart;
            var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            try
            {
                using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"safetensors '{name}': the header is not a JSON object.");
                foreach (var prop in doc.RootElement.EnumerateObject())
                {
                    if (prop.Name == MetadataKey)
                    {
                        foreach (var m in prop.Value.EnumerateObject())
                            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                        continue;
                    }
                    var v = prop.Value;
                    if (v.ValueKind != JsonValueKind.Object)
                        throw new InvalidDataException($"safetensors '{name}': entry '{prop.Name}' is not an object with dtype, shape and data_offsets.");
                    var dtypeName = Field(v, "dtype", prop.Name, name).GetString() ?? "";
                    if (!DTypes.TryGetValue(dtypeName, out var dtype))
                        throw new InvalidDataException($"safetensors '{name}': tensor '{prop.Name}' has unsupported dtype '{dtypeName}'.");
                    var shape = Field(v, "shape", prop.Name, name).EnumerateArray().Select(e => e.GetInt64()).ToArray();
                    var offsets = Field(v, "data_offsets", prop.Name, name).EnumerateArray().Select(e => e.GetInt64()).ToArray();
                    if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength)
                        throw new InvalidDataException($"safetensors '{name}': tensor '{prop.Name}' has data offsets [{string.Join(", ", offsets)}] outside the {dataLength} data bytes.");
                    long count = 1;
                    foreach (var d in shape)
                    {
                        if (d < 0)
                            throw new InvalidDataException($"safetensors '{name}': tensor '{prop.Name}' has a negative dimension in shape [{string.Join(", ", shape)}].");
                        // Any size beyond the data bytes is wrong; checking as we go keeps the product from overflowing.
                        if (d > 0 && count > dataLength / d)
                            throw new InvalidDataException($"safetensors '{name}': tensor '{prop.Name}' of shape [{string.Join(", ", shape)}] is larger than the {dataLength} data bytes.");
                        count *= d;
                    }
                    long expected = count * ElementSize(dtype);
                    if (offsets[1] - offsets[0] != expected)
                        throw new InvalidDataException($"safetensors '{name}': tensor '{prop.Name}' of shape [{string.Join(", ", shape)}] {dtypeName} needs {expected} bytes, has {offsets[1] - offsets[0]}.");
                    var t = empty(shape, dtype);
                    if (expected > 0) t.bytes = bytes.AsSpan((int)(dataStart + offsets[0]), (int)expected);
                    tensors[prop.Name] = t;
                }
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                foreach (var t in tensors.Values) t.Dispose();
                throw new InvalidDataException($"safetensors '{name}': malformed header: {e.Message}", e);
            }
            catch
            {
                foreach (var t in tensors.Values) t.Dispose();
                throw;
            }
            return new SafetensorsFile(tensors, metadata);
        }

        static JsonElement Field(JsonElement entry, string field, string tensor, string file) =>
            entry.TryGetProperty(field, out var value) ? value
                : throw new InvalidDataException($"safetensors '{file}': tensor '{tensor}' has no '{field}'.");

        static long ElementSize(ScalarType t) => t switch
        {
            ScalarType.Float64 or ScalarType.Int64 => 8,
            ScalarType.Float32 or ScalarType.Int32 => 4,
            ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
            _ => 1,
        };
    }
    /// <summary>A safetensors file read into memory: CPU tensors by name, and the metadata.</summary>
    public sealed class SafetensorsFile : IDisposable
    {
        internal SafetensorsFile(Dictionary<string, Tensor> tensors, Dictionary<string, string> metadata) { Tensors = tensors; Metadata = metadata; }
        public IReadOnlyDictionary<string, Tensor> Tensors { get; }
        public IReadOnlyDictionary<string, string> Metadata { get; }
        public void Dispose() { foreach (var t in Tensors.Values) t.Dispose(); }
    }

}
