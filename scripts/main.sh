#!/usr/bin/env bash
# Sets everything up, builds, and runs the main job. Until the defended pipeline exists, the main job is the
# engine benchmark: MLDefense against PyTorch (Debian's python3-torch, the same libtorch) on MIAED's C1.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh main
dotnet build src/MLDefense.Cli -c Release --nologo -v quiet
dotnet run --no-build -c Release --project src/MLDefense.Cli -- bench engine --quick "$@"
