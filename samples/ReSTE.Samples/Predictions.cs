using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using ReSTE.Runtime.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ReSTE.Samples
{
    /// <summary>
    /// <c>eval --predictions FILE</c>: each test example's label, prediction and logits as CSV, and the per-class
    /// accuracy and confusion matrix for the console. Reads each batch's logits to the host (evaluation, not the
    /// training step).
    /// </summary>
    public sealed class Predictions
    {
        Predictions(int classes, IReadOnlyList<string>? names)
        {
            Classes = classes;
            Names = names ?? Enumerable.Range(0, classes).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
            Confusion = new long[classes, classes];
        }

        public int Classes { get; }
        public IReadOnlyList<string> Names { get; }
        /// <summary>[label, prediction] counts.</summary>
        public long[,] Confusion { get; }
        public long Count { get; private set; }
        public double Loss { get; private set; }
        public double Top1 { get; private set; }
        public double Top5 { get; private set; }

        static string Csv(string s) => s.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

        /// <summary>Evaluates <paramref name="model"/> on <paramref name="data"/> and writes <paramref name="file"/> (atomically).</summary>
        public static Predictions Run(nn.Module<Tensor, Tensor> model, IBatchSource data, int batchSize, IReadOnlyList<string>? classNames, string file)
        {
            // File names need one image per row in order: not when unreadable files may be left out.
            var files = data is ImageFolderSource { Options.SkipUnreadable: false } f ? f.Files : null;
            model.eval();
            using var noGrad = no_grad();
            Predictions? p = null;
            double lossSum = 0, top1 = 0, top5 = 0;
            long index = 0;
            var full = Path.GetFullPath(file);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            var tmp = full + ".tmp";
            using (var w = new StreamWriter(tmp, false, new UTF8Encoding(false)))
            {
                using var reader = data.Open(BatchPass.Evaluation(batchSize));
                while (true)
                {
                    using var scope = NewDisposeScope();
                    if (!reader.Next(out var x, out var y)) break;
                    var output = model.forward(x).to(ScalarType.Float32);
                    int k = (int)output.shape[1];
                    if (p is null)
                    {
                        if (classNames is not null && classNames.Count != k)
                            throw new InvalidDataException($"The model has {k} outputs and the data {classNames.Count} classes.");
                        p = new Predictions(k, classNames);
                        w.Write(files is not null ? "index,file,label,prediction" : "index,label,prediction");
                        for (int c = 0; c < k; c++) w.Write($",logit_{c}");
                        w.Write('\n');
                    }
                    lossSum += nn.functional.cross_entropy(output, y, reduction: nn.Reduction.Sum).to(ScalarType.Float64).cpu().item<double>();
                    var logits = output.cpu().data<float>().ToArray();
                    var labels = y.cpu().data<long>().ToArray();
                    for (int i = 0; i < labels.Length; i++, index++)
                    {
                        int label = (int)labels[i];
                        var row = new ReadOnlySpan<float>(logits, i * k, k);
                        int pred = 0;
                        for (int c = 1; c < k; c++) if (row[c] > row[pred]) pred = c;
                        int higher = 0;
                        for (int c = 0; c < k; c++) if (row[c] > row[label] || row[c] == row[label] && c < label) higher++;
                        if (pred == label) top1++;
                        if (higher < 5) top5++;
                        p.Confusion[label, pred]++;
                        var sb = new StringBuilder();
                        sb.Append(index.ToString(CultureInfo.InvariantCulture)).Append(',');
                        if (files is not null) sb.Append(Csv(files[(int)index])).Append(',');
                        sb.Append(label.ToString(CultureInfo.InvariantCulture)).Append(',').Append(pred.ToString(CultureInfo.InvariantCulture));
                        foreach (var v in row) sb.Append(',').Append(v.ToString("R", CultureInfo.InvariantCulture));
                        w.Write(sb.Append('\n').ToString());
                    }
                }
            }
            File.Move(tmp, full, overwrite: true);
            if (p is null) throw new InvalidDataException("The test set holds no images.");
            p.Count = index;
            p.Loss = lossSum / index;
            p.Top1 = 100 * top1 / index;
            p.Top5 = 100 * top5 / index;
            return p;
        }

        /// <summary>Per-class accuracy; the confusion matrix in full up to 20 classes, else its largest off-diagonal cells.</summary>
        public void WriteReport(TextWriter o)
        {
            string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
            int width = Math.Max(5, Names.Max(n => n.Length));
            o.WriteLine($"{"class".PadRight(width)}  images  correct  accuracy");
            for (int c = 0; c < Classes; c++)
            {
                long n = 0;
                for (int j = 0; j < Classes; j++) n += Confusion[c, j];
                string acc = n == 0 ? "-" : F(100.0 * Confusion[c, c] / n) + "%";
                o.WriteLine($"{Names[c].PadRight(width)}  {n,6}  {Confusion[c, c],7}  {acc,8}");
            }
            if (Classes <= 20)
            {
                o.WriteLine("confusion matrix (rows: label, columns: predicted class index):");
                int cell = Math.Max(5, (int)Math.Log10(Math.Max(1, Count)) + 2);
                o.WriteLine("".PadRight(width) + string.Concat(Enumerable.Range(0, Classes).Select(j => j.ToString(CultureInfo.InvariantCulture).PadLeft(cell))));
                for (int c = 0; c < Classes; c++)
                    o.WriteLine(Names[c].PadRight(width) +
                                string.Concat(Enumerable.Range(0, Classes).Select(j => Confusion[c, j].ToString(CultureInfo.InvariantCulture).PadLeft(cell))));
            }
            else
            {
                var worst = new List<(long N, int L, int P)>();
                for (int c = 0; c < Classes; c++)
                    for (int j = 0; j < Classes; j++)
                        if (c != j && Confusion[c, j] > 0) worst.Add((Confusion[c, j], c, j));
                o.WriteLine($"confusion matrix: {Classes}×{Classes} (in the CSV's label and prediction columns); most frequent confusions:");
                foreach (var (n, l, pr) in worst.OrderByDescending(t => t.N).ThenBy(t => t.L).ThenBy(t => t.P).Take(20))
                    o.WriteLine($"  {Names[l]} → {Names[pr]}: {n}");
            }
        }
    }
}
