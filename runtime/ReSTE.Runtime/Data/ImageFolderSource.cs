using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Runtime.Data
{
    /// <summary>How an <see cref="ImageFolderSource"/> reads and transforms its images. The defaults are the reference's ImageNet recipe.</summary>
    public sealed record ImageFolderOptions
    {
        /// <summary>The side of the square images produced (training crop and evaluation crop): 224 for ImageNet.</summary>
        public int Size { get; init; } = 224;
        /// <summary>Evaluation: the shorter side is resized to this before the central crop of <see cref="Size"/> (256 for 224).</summary>
        public int ResizeSize { get; init; } = 256;
        /// <summary>Training: RandomResizedCrop's area fraction range; the reference uses (0.08, 1.25).</summary>
        public double ScaleMin { get; init; } = 0.08;
        public double ScaleMax { get; init; } = 1.25;
        /// <summary>Training: RandomResizedCrop's aspect-ratio range (3/4, 4/3).</summary>
        public double RatioMin { get; init; } = 3.0 / 4;
        public double RatioMax { get; init; } = 4.0 / 3;
        /// <summary>Training: flip left-right with probability ½.</summary>
        public bool HorizontalFlip { get; init; } = true;
        /// <summary>Per-channel normalisation (RGB), applied on the device.</summary>
        public IReadOnlyList<float> Mean { get; init; } = new[] { 0.485f, 0.456f, 0.406f };
        public IReadOnlyList<float> Std { get; init; } = new[] { 0.229f, 0.224f, 0.225f };
        /// <summary>Decoding threads (default: the machine's cores).</summary>
        public int Workers { get; init; } = Environment.ProcessorCount;
        /// <summary>Batches decoded ahead of the step, at most (default: 2 per worker). Each holds B×3×Size×Size bytes.</summary>
        public int? Prefetch { get; init; }
        /// <summary>
        /// A file that cannot be decoded is left out of its batch and counted (<see cref="ImageFolderSource.Skipped"/>)
        /// instead of stopping the run with an error naming it.
        /// </summary>
        public bool SkipUnreadable { get; init; }
        /// <summary>The file extensions read (case-insensitive); other files are ignored.</summary>
        public IReadOnlyList<string> Extensions { get; init; } = new[] { ".jpg", ".jpeg", ".png" };

        public void Validate()
        {
            if (Size < 1) throw new ArgumentOutOfRangeException(nameof(Size), Size, $"ImageFolderOptions.Size must be ≥ 1, not {Size}.");
            if (ResizeSize < Size) throw new ArgumentOutOfRangeException(nameof(ResizeSize), ResizeSize, $"ImageFolderOptions.ResizeSize ({ResizeSize}) must be ≥ Size ({Size}).");
            if (!(ScaleMin > 0) || !(ScaleMax >= ScaleMin) || double.IsInfinity(ScaleMax))
                throw new ArgumentOutOfRangeException(nameof(ScaleMin), ScaleMin, $"ImageFolderOptions.ScaleMin/ScaleMax must satisfy 0 < min ≤ max, not ({ScaleMin}, {ScaleMax}).");
            if (!(RatioMin > 0) || !(RatioMax >= RatioMin) || double.IsInfinity(RatioMax))
                throw new ArgumentOutOfRangeException(nameof(RatioMin), RatioMin, $"ImageFolderOptions.RatioMin/RatioMax must satisfy 0 < min ≤ max, not ({RatioMin}, {RatioMax}).");
            if (Mean.Count != 3 || Std.Count != 3 || Std.Any(s => !(s > 0)))
                throw new ArgumentException("ImageFolderOptions.Mean and Std need 3 values (RGB), every Std > 0.", nameof(Mean));
            if (Workers < 1) throw new ArgumentOutOfRangeException(nameof(Workers), Workers, $"ImageFolderOptions.Workers must be ≥ 1, not {Workers}.");
            if (Prefetch is < 1) throw new ArgumentOutOfRangeException(nameof(Prefetch), Prefetch, $"ImageFolderOptions.Prefetch must be ≥ 1, not {Prefetch}.");
            if (Extensions.Count == 0) throw new ArgumentException("ImageFolderOptions.Extensions is empty.", nameof(Extensions));
        }
    }

    /// <summary>
    /// Images in class folders, <c>root/&lt;class&gt;/…/&lt;image&gt;</c> (ImageNet's train and val layout): classes
    /// are the sub-folders in ordinal order (or a given class list, so that a validation folder uses the training
    /// folder's indices), images every JPEG/PNG below them in ordinal path order. Worker threads decode and transform
    /// whole batches ahead of the step (a bounded queue); training batches get RandomResizedCrop + flip with
    /// randomness from (seed, epoch, image), evaluation batches Resize + CenterCrop; batches travel as uint8 in pinned
    /// memory (CUDA) and are normalised on the device. An image that cannot be decoded is an error naming the file,
    /// raised on the training thread (a worker never crashes and the reader never hangs), or, with
    /// <see cref="ImageFolderOptions.SkipUnreadable"/>, left out and counted.
    /// </summary>
    public sealed class ImageFolderSource : IBatchSource
    {
        readonly string[] _files;
        readonly int[] _labels;
        readonly string[] _classes;
        readonly float[] _mean, _std;
        long _skipped;
        readonly List<string> _skippedFiles = new();

        public ImageFolderSource(string root, Device device, ImageFolderOptions? options = null, IReadOnlyList<string>? classNames = null)
        {
            Options = options ?? new ImageFolderOptions();
            Options.Validate();
            Device = device;
            Root = root;
            if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Image folder '{root}' not found.");
            var folders = Directory.GetDirectories(root).Select(Path.GetFileName).Select(n => n!).OrderBy(n => n, StringComparer.Ordinal).ToArray();
            if (folders.Length == 0) throw new InvalidDataException($"Image folder '{root}' has no class folders (expected {root}/<class>/<image>).");
            Dictionary<string, int> index;
            if (classNames is not null)
            {
                _classes = classNames.ToArray();
                index = new Dictionary<string, int>(StringComparer.Ordinal);
                for (int i = 0; i < _classes.Length; i++) index[_classes[i]] = i;
                var unknown = folders.Where(f => !index.ContainsKey(f)).ToList();
                if (unknown.Count > 0)
                    throw new InvalidDataException($"Image folder '{root}' has class folder{(unknown.Count == 1 ? "" : "s")} {string.Join(", ", unknown.Take(5).Select(u => $"'{u}'"))}{(unknown.Count > 5 ? ", …" : "")} that the class list ({_classes.Length} classes) lacks.");
            }
            else
            {
                _classes = folders;
                index = folders.Select((f, i) => (f, i)).ToDictionary(p => p.f, p => p.i, StringComparer.Ordinal);
            }
            var exts = new HashSet<string>(Options.Extensions.Select(e => e.StartsWith('.') ? e : "." + e), StringComparer.OrdinalIgnoreCase);
            var files = new List<string>();
            var labels = new List<int>();
            var empty = new List<string>();
            foreach (var folder in folders)
            {
                var found = Directory.EnumerateFiles(Path.Combine(root, folder), "*", SearchOption.AllDirectories)
                    .Where(f => exts.Contains(Path.GetExtension(f))).OrderBy(f => f, StringComparer.Ordinal).ToList();
                if (found.Count == 0) empty.Add(folder);
                files.AddRange(found);
                labels.AddRange(Enumerable.Repeat(index[folder], found.Count));
            }
            if (empty.Count > 0)
                throw new InvalidDataException($"Image folder '{root}': class folder{(empty.Count == 1 ? "" : "s")} {string.Join(", ", empty.Take(5).Select(e => $"'{e}'"))} hold{(empty.Count == 1 ? "s" : "")} no {string.Join("/", exts)} files.");
            _files = files.ToArray();
            _labels = labels.ToArray();
            _mean = Options.Mean.ToArray();
            _std = Options.Std.ToArray();
        }

        public string Root { get; }
        public Device Device { get; }
        public ImageFolderOptions Options { get; }
        public int Count => _files.Length;
        public IReadOnlyList<string> ClassNames => _classes;
        IReadOnlyList<string>? IBatchSource.ClassNames => _classes;
        /// <summary>The image files by index, and their labels.</summary>
        public IReadOnlyList<string> Files => _files;
        public IReadOnlyList<int> Labels => _labels;
        /// <summary>Files left out because they could not be decoded (with <see cref="ImageFolderOptions.SkipUnreadable"/>), counted over every pass.</summary>
        public long Skipped => Interlocked.Read(ref _skipped);
        public IReadOnlyList<string> SkippedFiles { get { lock (_skippedFiles) return _skippedFiles.ToArray(); } }

        /// <summary>
        /// Image <paramref name="index"/> as a pass would give it, uint8 CHW (3, Size, Size): the training transform
        /// with the randomness of (seed, epoch, index) when <paramref name="train"/>, else the evaluation transform.
        /// </summary>
        public byte[] Transform(int index, bool train, long seed = 0, int epoch = 0)
        {
            var buffer = new byte[3 * Options.Size * Options.Size];
            TransformInto(index, train, seed, epoch, buffer);
            return buffer;
        }

        void TransformInto(int index, bool train, long seed, int epoch, Span<byte> output)
        {
            var image = ImageDecoding.Decode(_files[index]);
            int s = Options.Size;
            if (train)
            {
                var rng = new SplitMix64(BatchSources.Mix(seed, epoch, index));
                var o = Options;
                var box = ImageDecoding.RandomResizedCropBox(image.Width, image.Height, ref rng, o.ScaleMin, o.ScaleMax, o.RatioMin, o.RatioMax);
                bool flip = o.HorizontalFlip && (rng.Next() >> 63) == 1;
                ImageDecoding.ResizeBox(image, box, s, s, flip, output);
            }
            else ImageDecoding.ResizeCenterCrop(image, Options.ResizeSize, s, output);
        }

        public IBatchReader Open(BatchPass pass) => new Reader(this, pass);

        /// <summary>One batch from a worker: pixels (uint8 N×3×S×S) and labels, or the error that stopped it.</summary>
        sealed class Produced
        {
            public byte[]? Pixels;
            public Tensor? Pinned;
            public long[] Labels = Array.Empty<long>();
            public int Count;
            public Exception? Error;

            public void Release()
            {
                Pinned?.Dispose(); Pinned = null;
                if (Pixels is not null) { ArrayPool<byte>.Shared.Return(Pixels); Pixels = null; }
            }
        }

        sealed class Reader : IBatchReader
        {
            readonly ImageFolderSource _s;
            readonly BatchPass _pass;
            readonly int[] _order;
            readonly int _prefetch;
            readonly object _lock = new();
            readonly Dictionary<int, Produced> _ready = new();
            readonly Thread[] _threads;
            readonly bool _pin;
            readonly Tensor _mean, _std;
            int _nextToProduce, _nextToConsume;
            bool _stop;

            public Reader(ImageFolderSource s, BatchPass pass)
            {
                _s = s; _pass = pass;
                Steps = BatchSources.BatchCount(s.Count, pass.BatchSize);
                if (pass.FirstStep < 0 || pass.FirstStep > Steps)
                    throw new ArgumentOutOfRangeException(nameof(pass), pass.FirstStep, $"The first step must lie in [0, {Steps}].");
                _order = pass.Shuffle ? BatchSources.HostPermutation(s.Count, pass.Seed, pass.Epoch) : Enumerable.Range(0, s.Count).ToArray();
                _nextToProduce = _nextToConsume = pass.FirstStep;
                int workers = Math.Min(s.Options.Workers, Math.Max(1, Steps - pass.FirstStep));
                _prefetch = Math.Max(s.Options.Prefetch ?? 2 * s.Options.Workers, 1);
                _pin = s.Device.type == DeviceType.CUDA;
                using (var scope = NewDisposeScope())
                {
                    _mean = tensor(s._mean, new long[] { 1, 3, 1, 1 }).to(s.Device).DetachFromDisposeScope();
                    _std = tensor(s._std, new long[] { 1, 3, 1, 1 }).to(s.Device).DetachFromDisposeScope();
                }
                _threads = new Thread[workers];
                for (int i = 0; i < workers; i++)
                {
                    _threads[i] = new Thread(Work) { IsBackground = true, Name = $"ImageFolderSource worker {i}" };
                    _threads[i].Start();
                }
            }

            public int Steps { get; }

            void Work()
            {
                while (true)
                {
                    int step;
                    lock (_lock)
                    {
                        while (!_stop && _nextToProduce < Steps && _nextToProduce >= _nextToConsume + _prefetch) Monitor.Wait(_lock);
                        if (_stop || _nextToProduce >= Steps) return;
                        step = _nextToProduce++;
                    }
                    Produced p;
                    try { p = Produce(step); }
                    catch (Exception e) { p = new Produced { Error = e }; }
                    lock (_lock)
                    {
                        if (_stop) { p.Release(); return; }
                        _ready[step] = p;
                        Monitor.PulseAll(_lock);
                    }
                }
            }

            Produced Produce(int step)
            {
                int b = _pass.BatchSize, start = step * b, n = Math.Min(b, _s.Count - start);
                int image = 3 * _s.Options.Size * _s.Options.Size;
                var p = new Produced { Pixels = ArrayPool<byte>.Shared.Rent(n * image) };
                var labels = new List<long>(n);
                try
                {
                    int kept = 0;
                    for (int i = 0; i < n; i++)
                    {
                        lock (_lock) if (_stop) break;
                        int index = _order[start + i];
                        try
                        {
                            _s.TransformInto(index, _pass.Augment, _pass.Seed, _pass.Epoch, p.Pixels.AsSpan(kept * image, image));
                        }
                        catch (InvalidDataException) when (_s.Options.SkipUnreadable)
                        {
                            Interlocked.Increment(ref _s._skipped);
                            lock (_s._skippedFiles) _s._skippedFiles.Add(_s._files[index]);
                            continue;
                        }
                        labels.Add(_s._labels[index]);
                        kept++;
                    }
                    p.Count = kept;
                    p.Labels = labels.ToArray();
                    if (kept == 0 && n > 0)
                        throw new InvalidDataException($"Image folder '{_s.Root}': every image of batch {step} was unreadable and skipped ({n} files, e.g. '{_s._files[_order[start]]}').");
                    if (_pin && kept > 0)
                    {
                        // One copy into page-locked memory here, so that the step's copy to the GPU does not block.
                        using var scope = NewDisposeScope();
                        var shared = tensor(p.Pixels, new long[] { p.Pixels.Length }, dtype: ScalarType.Byte).narrow(0, 0, (long)kept * image);
                        p.Pinned = shared.reshape(kept, 3, _s.Options.Size, _s.Options.Size).pin_memory().DetachFromDisposeScope();
                        ArrayPool<byte>.Shared.Return(p.Pixels);
                        p.Pixels = null;
                    }
                    return p;
                }
                catch
                {
                    p.Release();
                    throw;
                }
            }

            public bool Next(out Tensor x, out Tensor y)
            {
                x = null!; y = null!;
                Produced p;
                lock (_lock)
                {
                    if (_nextToConsume >= Steps) return false;
                    while (!_ready.ContainsKey(_nextToConsume)) Monitor.Wait(_lock);
                    p = _ready[_nextToConsume];
                    _ready.Remove(_nextToConsume);
                    _nextToConsume++;
                    Monitor.PulseAll(_lock);
                }
                try
                {
                    if (p.Error is not null)
                        throw p.Error is InvalidDataException ide
                            ? new InvalidDataException(ide.Message, ide)
                            : new InvalidOperationException($"Image folder '{_s.Root}': reading batch {_nextToConsume - 1} failed: {p.Error.Message}", p.Error);
                    int s = _s.Options.Size;
                    var dev = _s.Device;
                    using (var scope = NewDisposeScope())
                    {
                        Tensor raw = p.Pinned is not null
                            ? p.Pinned.to(dev, non_blocking: true)
                            : tensor(p.Pixels!, new long[] { p.Pixels!.Length }, dtype: ScalarType.Byte).narrow(0, 0, (long)p.Count * 3 * s * s).reshape(p.Count, 3, s, s).to(dev);
                        var xf = raw.to(ScalarType.Float32).div_(255f).sub_(_mean).div_(_std);
                        var labels = tensor(p.Labels, new long[] { p.Count }, dtype: ScalarType.Int64);
                        var yl = _pin ? labels.pin_memory().to(dev, non_blocking: true) : labels.to(dev);
                        x = xf.MoveToOuterDisposeScope();
                        y = yl.MoveToOuterDisposeScope();
                    }
                    return true;
                }
                finally { p.Release(); }
            }

            public void Dispose()
            {
                lock (_lock) { _stop = true; Monitor.PulseAll(_lock); }
                foreach (var t in _threads) t.Join();
                lock (_lock)
                {
                    foreach (var p in _ready.Values) p.Release();
                    _ready.Clear();
                }
                _mean.Dispose(); _std.Dispose();
            }
        }
    }
}
