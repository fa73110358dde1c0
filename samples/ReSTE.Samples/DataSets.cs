using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using ReSTE.Runtime.Data;
using static TorchSharp.torch;

namespace ReSTE.Samples
{
    /// <summary>The data sets of <c>train</c> and <c>eval</c> (<c>--dataset</c>) as batch sources on a device.</summary>
    public sealed class DataSets : IDisposable
    {
        readonly List<IDisposable> _owned = new();

        DataSets(IBatchSource? train, IBatchSource test, int classes, IReadOnlyList<string>? classNames, string description)
        {
            Train = train; Test = test; Classes = classes; ClassNames = classNames; Description = description;
        }

        public IBatchSource? Train { get; }
        public IBatchSource Test { get; }
        public int Classes { get; }
        public IReadOnlyList<string>? ClassNames { get; }
        public string Description { get; }

        /// <summary>What a folder source is read with (--image-size, --workers, --skip-unreadable).</summary>
        public sealed record FolderSettings(int ImageSize, int? Workers, bool SkipUnreadable)
        {
            /// <summary>Evaluation resizes the shorter side to 256/224 of the crop first (256 for 224), as the reference.</summary>
            public ImageFolderOptions Options() => new()
            {
                Size = ImageSize,
                ResizeSize = (int)Math.Round(ImageSize * 256.0 / 224, MidpointRounding.AwayFromZero),
                Workers = Workers ?? Environment.ProcessorCount,
                SkipUnreadable = SkipUnreadable,
            };
        }

        /// <summary>The number of classes of <paramref name="dataset"/> at <paramref name="path"/> (for folders: train/'s sub-folders), known before loading.</summary>
        public static int ClassCount(string dataset, string path) => dataset switch
        {
            "cifar10" => Cifar10.Classes,
            "cifar100" => Cifar100.FineClasses,
            "folder" => Directory.Exists(Path.Combine(path, "train"))
                ? Math.Max(1, Directory.GetDirectories(Path.Combine(path, "train")).Length)
                : throw new DirectoryNotFoundException($"--data '{path}' has no train/ folder (an image folder data set holds train/<class>/… and val/<class>/…)."),
            _ => throw new ArgumentException($"Unknown dataset '{dataset}'; expected cifar10, cifar100 or folder."),
        };

        static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

        /// <summary>
        /// Loads <paramref name="dataset"/> from <paramref name="path"/>: the training split when <paramref name="withTrain"/>,
        /// and the test split (for folders, <c>val/</c>, with the class list of <paramref name="classNames"/>, else that of
        /// <c>train/</c> when present, else its own).
        /// </summary>
        public static DataSets Load(string dataset, string path, Device device, bool withTrain, int? limit, int? testLimit,
            FolderSettings folder, IReadOnlyList<string>? classNames = null)
        {
            switch (dataset)
            {
                case "cifar10":
                case "cifar100":
                {
                    bool c100 = dataset == "cifar100";
                    Cifar10Set Split(Cifar10Split s, int? n) => c100 ? Cifar100.Load(path, s, n).Fine : Cifar10.Load(path, s, n);
                    var trainSet = withTrain ? Split(Cifar10Split.Train, limit) : null;
                    var testSet = Split(Cifar10Split.Test, testLimit);
                    var train = trainSet is null ? null : new DeviceCifar(trainSet, device);
                    var test = new DeviceCifar(testSet, device);
                    var d = new DataSets(train, test, c100 ? Cifar100.FineClasses : Cifar10.Classes, null,
                        $"{path}: {(train is null ? "" : $"{N(train.Count)} training, ")}{N(test.Count)} test images on {device}");
                    if (train is not null) d._owned.Add(train);
                    d._owned.Add(test);
                    return d;
                }
                case "folder":
                {
                    var options = folder.Options();
                    string trainDir = Path.Combine(path, "train"), valDir = Path.Combine(path, "val");
                    if (!Directory.Exists(valDir))
                        throw new DirectoryNotFoundException($"--data '{path}' has no val/ folder (an image folder data set holds train/<class>/… and val/<class>/…).");
                    ImageFolderSource? train = null;
                    if (withTrain || classNames is null && Directory.Exists(trainDir))
                    {
                        if (!Directory.Exists(trainDir))
                            throw new DirectoryNotFoundException($"--data '{path}' has no train/ folder (an image folder data set holds train/<class>/… and val/<class>/…).");
                        train = new ImageFolderSource(trainDir, device, options, classNames);
                    }
                    var names = classNames ?? train?.ClassNames;
                    var test = new ImageFolderSource(valDir, device, options, names);
                    var d = new DataSets(withTrain ? train : null, test, test.ClassNames.Count, test.ClassNames,
                        $"{path}: {(withTrain ? $"{N(train!.Count)} training, " : "")}{N(test.Count)} validation images in {test.ClassNames.Count} classes, " +
                        $"{options.Size}×{options.Size} crops, {options.Workers} decoding thread{(options.Workers == 1 ? "" : "s")}, on {device}");
                    return d;
                }
                default:
                    throw new ArgumentException($"Unknown dataset '{dataset}'; expected cifar10, cifar100 or folder.");
            }
        }

        public void Dispose()
        {
            foreach (var d in _owned) d.Dispose();
        }
    }
}
