using System;
using System.IO;
using System.Linq;
using System.Threading;
using Xunit;

namespace ReSTE.Samples.Tests
{
    public sealed class CliTests
    {
        internal static (int Code, string Out, string Err) Run(params string[] args) => Run(default, args);

        internal static (int Code, string Out, string Err) Run(CancellationToken cancel, params string[] args)
        {
            var o = new StringWriter();
            var e = new StringWriter();
            int code = Program.Run(args, o, e, cancel);
            return (code, o.ToString(), e.ToString());
        }

        [Theory]
        [InlineData("train --epochs x", "--epochs")]
        [InlineData("train --epochs 0", "--epochs must be ≥ 1")]
        [InlineData("train --model resnet50", "unknown model 'resnet50'")]
        [InlineData("train --model resnet18-imagenet", "ImageNet definition")]
        [InlineData("train --dataset imagenet", "--dataset: 'imagenet' is not one of cifar10, cifar100, folder")]
        [InlineData("train --dataset folder --limit 5", "--limit applies to cifar10 and cifar100, not to --dataset folder")]
        [InlineData("train --image-size 64", "--image-size applies to --dataset folder only")]
        [InlineData("train --dataset cifar100 --model resnet34-imagenet", "ImageNet models take --dataset folder")]
        [InlineData("train --dataset folder --workers 0", "--workers must be ≥ 1")]
        [InlineData("eval --dataset folder --weights w.safetensors", "--dataset folder needs --data <folder>")]
        [InlineData("train --estimator magic", "unknown estimator 'magic'")]
        [InlineData("train --estimator STE --o-end 2", "--o-end applies to the ReSTE estimator only")]
        [InlineData("train --o-end 0.5", "--o-end must be a finite number ≥ 1")]
        [InlineData("train --device tpu", "'tpu' is not cpu, cuda or cuda:N")]
        [InlineData("train --epochs 3 --warmup 5", "--warmup 5 must be less than --epochs 3")]
        [InlineData("train --epochs 4 --warmup", "--warmup 5 must be less than --epochs 4")]
        [InlineData("train --warmup soon", "--warmup: 'soon' is not a number of epochs")]
        [InlineData("train --limit 0", "--limit must be ≥ 1")]
        [InlineData("train --test-limit 0", "--test-limit must be ≥ 1")]
        [InlineData("train --batch -4", "--batch must be ≥ 1")]
        [InlineData("train --bogus", "Unrecognized command or argument '--bogus'")]
        [InlineData("fly", "Unrecognized command or argument 'fly'")]
        [InlineData("eval", "exactly one of --checkpoint <path> and --weights <path>")]
        [InlineData("eval --checkpoint a --weights b", "exactly one of")]
        [InlineData("bench --steps 0", "--steps must be ≥ 1")]
        public void Wrong_arguments_get_one_line_and_the_usage(string args, string expected)
        {
            // Train cases name a data folder that does not exist: were validation to miss one, the run fails fast
            // (exit 1) instead of training on the whole data set.
            var argv = args.StartsWith("train", StringComparison.Ordinal) ? args.Split(' ').Append("--data").Append("/nonexistent/cifar").ToArray() : args.Split(' ');
            var (code, stdout, err) = Run(argv);
            Assert.Equal(2, code);
            Assert.Equal("", stdout);
            var lines = err.TrimEnd().Split('\n');
            Assert.Equal(2, lines.Length);
            Assert.StartsWith("ReSTE.Samples: ", lines[0]);
            Assert.Contains(expected, lines[0]);
            Assert.StartsWith("Usage: ReSTE.Samples", lines[1]);
        }

        [Theory]
        [InlineData("--warmup")]
        [InlineData("--warmup 3")]
        public void Warmup_alone_or_with_a_value_parses(string warmup)
        {
            var (code, _, err) = Run(("train --epochs 6 --data /nonexistent/cifar " + warmup).Split(' '));
            Assert.Equal(1, code); // past the arguments, stopped by the missing data
            Assert.Contains("/nonexistent/cifar", err);
        }

        [Fact]
        public void No_command_is_a_usage_error()
        {
            var (code, _, err) = Run();
            Assert.Equal(2, code);
            Assert.Contains("Usage: ReSTE.Samples <train|eval|bench|", err); // then sweep, compare and any later commands
        }

        [Fact]
        public void Help_lists_every_train_option()
        {
            var (code, stdout, _) = Run("train", "--help");
            Assert.Equal(0, code);
            foreach (var o in new[] { "--model", "--epochs", "--batch", "--estimator", "--o-end", "--a32", "--warmup", "--device", "--data", "--out", "--seed", "--limit", "--resume" })
                Assert.Contains(o, stdout);
        }

        [Fact]
        public void A_missing_data_folder_is_a_one_line_error()
        {
            var (code, stdout, err) = Run("train", "--data", "/nonexistent/cifar", "--epochs", "1");
            Assert.Equal(1, code);
            Assert.Contains("269,850 parameters, 267,264 binary", stdout);
            Assert.Contains("/nonexistent/cifar", err);
            Assert.Single(err.TrimEnd().Split('\n'));
        }

        [Fact]
        public void Bench_reports_a_rate()
        {
            var (code, stdout, err) = Run("bench", "--batch", "8", "--steps", "2", "--warmup-steps", "1");
            Assert.True(code == 0, err);
            Assert.Matches(@"bench: 2 training steps of 8 \(32×32\) on cpu: [0-9.]+ img/s", stdout);
        }
    }
}
