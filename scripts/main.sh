#!/usr/bin/env bash
# The main job, from a fresh Debian machine: installs what is missing, builds, and runs `mldefense defend` — classifier A
# and the defended pipeline SAEC -> AE-GAN+sr -> classifier A -> MIAED trained on Fashion-MNIST (Debian's
# dataset-fashion-mnist), attacked with FGSM and PGD, evaluated, saved to defended.zip, reloaded and used — then renders
# results/report.html from its results. About 9 minutes on 2 idle CPU cores; pass --full for the papers' training (hours on
# a CPU), or any other `mldefense defend` option (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh main
# libtorch's OpenMP threads spin while they wait for each other; when more threads than cores are busy (the test
# projects run in parallel, or the machine is shared) the spinning starves the work: one AE-GAN epoch on 1,000 images
# took 32.8 s with spinning and 2.8 s without on a loaded 2-core machine. A caller's own setting wins.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
dotnet build src/MLDefense.Cli -c Release --nologo -v quiet
mldefense() { dotnet run --no-build -c Release --project src/MLDefense.Cli -- "$@"; }
for arg in "$@"; do
  case "$arg" in -h|--help|-\?) mldefense defend --help; exit 0 ;; esac
done
mkdir -p results
mldefense defend --output defended.zip --json results/defend.json --images results/defend.png "$@"
mldefense report --input results/defend.json --output results/report.html --title "MLDefense: the defended pipeline on Fashion-MNIST"
