#!/usr/bin/env bash
# Installs what MLDefense needs from Debian's archive, only when it is missing (idempotent, non-interactive).
#   scripts/setup.sh test   build + test dependencies: g++ and patchelf (the build fixes TorchSharp's native library for
#                           Debian 12's libstdc++), dataset-fashion-mnist (read by tests), chromium (renders the report in a
#                           test), python3-torch (PyTorch 1.13.1: the reference attacks the tests compare with)
#   scripts/setup.sh main   build dependencies and dataset-fashion-mnist (the main job's data)
#   scripts/setup.sh bench  the test set (python3-torch is also the speed reference of `mldefense bench`)
set -euo pipefail

packages=(g++ patchelf dataset-fashion-mnist)
case "${1:-test}" in
  main) ;;
  test|bench) packages+=(chromium python3-torch) ;;
  *) echo "usage: scripts/setup.sh test|main|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "MLDefense setup: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "MLDefense setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v dotnet >/dev/null || { echo "MLDefense setup: the .NET 10 SDK is required (dotnet was not found on PATH)" >&2; exit 1; }
