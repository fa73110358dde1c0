// Trains MyNet.BinaryNet on CIFAR-10 or on an image folder (one sub-folder per class), on the CPU or CUDA:
//   dotnet run -c Release -- cifar10 <folder with data_batch_*.bin or cifar-10-binary.tar.gz> [epochs] [limit]
//   dotnet run -c Release -- images <folder>/<class>/<image files> [epochs]
using MyNet;
using ReSTE.Runtime;
using ReSTE.Runtime.Data;
using ReSTE.Runtime.Layers;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

if (args.Length < 2 || args[0] is not ("cifar10" or "images"))
{
    Console.Error.WriteLine("usage: MyNet cifar10 <folder> [epochs] [limit] | MyNet images <folder> [epochs]");
    return 2;
}
int epochs = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 5;
int? limit = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : null;
var device = cuda.is_available() ? CUDA : CPU;

var (images, labels, classes) = args[0] == "cifar10" ? LoadCifar(args[1], limit) : LoadFolder(args[1]);
Console.WriteLine($"{images.shape[0]} images of {classes} classes on {device.type}");

torch.manual_seed(0);
var model = new BinaryNet(classes).to(device);
var optimizer = optim.Adam(model.parameters(), lr: 1e-3);
const int batch = 64;
long n = images.shape[0];
for (int epoch = 0; epoch < epochs; epoch++)
{
    model.SetBinaryProgress(epoch, epochs);                    // moves ReSTE's o from 1 towards OEnd
    model.train();
    using var epochScope = NewDisposeScope();
    var order = randperm(n);
    var total = zeros(1, device: device);                      // summed on the device: no host sync per step
    for (long start = 0; start < n; start += batch)
    {
        using var scope = NewDisposeScope();
        var idx = order[TensorIndex.Slice(start, Math.Min(start + batch, n))];
        var x = images.index_select(0, idx).to(device);
        var y = labels.index_select(0, idx).to(device);
        var loss = nn.functional.cross_entropy(model.call(x), y);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        total.add_(loss.detach() * idx.shape[0]);
    }
    Console.WriteLine($"epoch {epoch + 1}/{epochs}: loss {total.item<float>() / n:F4}");
}

model.eval();
using (no_grad())
{
    using var scope = NewDisposeScope();
    long correct = 0;
    for (long start = 0; start < n; start += 256)
    {
        var x = images[TensorIndex.Slice(start, Math.Min(start + 256, n))].to(device);
        var y = labels[TensorIndex.Slice(start, Math.Min(start + 256, n))].to(device);
        correct += model.call(x).argmax(1).eq(y).sum().item<long>();
    }
    Console.WriteLine($"training accuracy {100.0 * correct / n:F1}%");
}
model.save("MyNet.weights.dat");
Console.WriteLine("saved MyNet.weights.dat");
return 0;

static (Tensor Images, Tensor Labels, int Classes) LoadCifar(string folder, int? limit)
{
    var set = Cifar10.Load(folder, Cifar10Split.Train, limit);
    var x = tensor(set.Images, new long[] { set.Count, 3, 32, 32 }).to(float32).div_(255f);
    var y = tensor(set.Labels).to(int64);
    return (Normalize(x), y, Cifar10.Classes);
}

static (Tensor Images, Tensor Labels, int Classes) LoadFolder(string folder)
{
    if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"images: no folder '{folder}'.");
    var classDirs = Directory.GetDirectories(folder).OrderBy(d => d, StringComparer.Ordinal).ToArray();
    if (classDirs.Length < 2) throw new InvalidDataException($"images: '{folder}' needs one sub-folder per class (found {classDirs.Length}).");
    var pixels = new List<byte>();
    var labels = new List<long>();
    for (int c = 0; c < classDirs.Length; c++)
        foreach (var file in Directory.GetFiles(classDirs[c]).OrderBy(f => f, StringComparer.Ordinal))
        {
            using var decoded = SKBitmap.Decode(file) ?? throw new InvalidDataException($"images: '{file}' is not an image SkiaSharp can decode.");
            using var rgba = decoded.Resize(new SKImageInfo(32, 32, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKFilterMode.Linear));
            var bytes = rgba.Bytes;                            // RGBA, row-major
            for (int ch = 0; ch < 3; ch++)
                for (int p = 0; p < 32 * 32; p++) pixels.Add(bytes[p * 4 + ch]);
            labels.Add(c);
        }
    if (labels.Count == 0) throw new InvalidDataException($"images: no image files under '{folder}'.");
    var x = tensor(pixels.ToArray(), new long[] { labels.Count, 3, 32, 32 }).to(float32).div_(255f);
    return (Normalize(x), tensor(labels.ToArray()), classDirs.Length);
}

static Tensor Normalize(Tensor x)
{
    var mean = x.mean(new long[] { 0, 2, 3 }, keepdim: true);
    var std = x.std(new long[] { 0, 2, 3 }, keepdim: true, unbiased: false).clamp_min(1e-6);
    return (x - mean) / std;
}
