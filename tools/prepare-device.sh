#!/usr/bin/env bash
# Prepares .device/ for a run on the GPU machine (see ../shared/device/README.md): this machine's .NET runtime,
# the samples app published WITHOUT the 600 MB CPU libtorch (the GPU machine's PyTorch provides libtorch with CUDA
# through LIBTORCH_PATH), and the launcher. The result is about 46 MB (measured), inside the 64 MiB a device call carries.
# Usage (from the repository root): tools/prepare-device.sh   then, in a device call carrying .device:
#   bash .device/on-device.sh dotnet .device/app/ReSTE.Samples.dll bench --device cuda --batch 256
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${RESTE_SHARED:-$root/../shared}
cd "$root"   # .device/ is ignored through .gitignore
rm -rf .device && mkdir -p .device
"$shared/device/pack-dotnet.sh" .device
dotnet publish samples/ReSTE.Samples -c Release -r linux-x64 --self-contained false -p:ReSTELibTorch=External -o .device/app
rm -f .device/app/*.pdb .device/app/*.xml
cp "$shared/device/on-device.sh" .device/
du -sh .device
