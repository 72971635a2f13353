#!/usr/bin/env bash
# Makes the copies of TorchSharp's libLibTorchSharp.so in a build's output load on a libstdc++ older than GCC 13's
# (Debian 12 has GCC 12's, which stops at GLIBCXX_3.4.30). That library needs GLIBCXX_3.4.32 for one symbol only,
# std::ios_base_library_init(); libtorch's own libraries need nothing newer. Each copy is patched in place of the
# output file (never the NuGet cache: the patched file replaces the output's directory entry):
#   1. the symbol loses its version (patchelf --clear-symbol-version),
#   2. libmldefense_glibcxx_compat.so, which defines it, becomes a needed library found through rpath $ORIGIN,
#   3. the GLIBCXX_3.4.32 need is marked weak (weaken_version_need), as ld.so refuses a missing non-weak version.
# Usage: fix-libtorchsharp.sh TOOLS_DIR LIBRARY...   (TOOLS_DIR: where the compat library and the tool are built)
# Does nothing where the system's libstdc++ has GLIBCXX_3.4.32, or for a copy already patched. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$1"; shift
compat=libmldefense_glibcxx_compat.so

# awk reads all of ldconfig's output (no early exit): under pipefail, ldconfig killed by SIGPIPE would end the script.
libstdcxx="$( { /sbin/ldconfig -p 2>/dev/null || true; } | awk '/libstdc\+\+\.so\.6 \(libc6,x86-64\)/ && !found {print $NF; found = 1}')"
if [ -n "$libstdcxx" ] && grep -q GLIBCXX_3.4.32 "$libstdcxx"; then exit 0; fi
[ $# -gt 0 ] || exit 0

command -v g++ >/dev/null || { echo "MLDefense: g++ is needed to make TorchSharp load on this libstdc++ (Debian package: g++)" >&2; exit 1; }
command -v patchelf >/dev/null || { echo "MLDefense: patchelf is needed to make TorchSharp load on this libstdc++ (Debian package: patchelf)" >&2; exit 1; }

mkdir -p "$tools"
if [ ! -f "$tools/$compat" ] || [ "$here/ios_base_library_init.cpp" -nt "$tools/$compat" ]; then
  g++ -shared -fPIC -O2 -o "$tools/$compat.tmp" "$here/ios_base_library_init.cpp" && mv -f "$tools/$compat.tmp" "$tools/$compat"
fi
if [ ! -x "$tools/weaken_version_need" ] || [ "$here/weaken_version_need.cpp" -nt "$tools/weaken_version_need" ]; then
  g++ -O2 -o "$tools/weaken_version_need.tmp" "$here/weaken_version_need.cpp" && mv -f "$tools/weaken_version_need.tmp" "$tools/weaken_version_need"
fi

for library in "$@"; do
  [ -f "$library" ] || continue
  folder="$(dirname "$library")"
  cmp -s "$tools/$compat" "$folder/$compat" || cp -f "$tools/$compat" "$folder/$compat"
  if patchelf --print-needed "$library" | grep -qx "$compat"; then continue; fi
  work="$library.mldefense-tmp"
  cp -f "$library" "$work"
  patchelf --clear-symbol-version _ZSt21ios_base_library_initv "$work"
  patchelf --add-needed "$compat" "$work"
  patchelf --set-rpath '$ORIGIN' "$work"
  "$tools/weaken_version_need" "$work" GLIBCXX_3.4.32
  mv -f "$work" "$library"
done
