#!/usr/bin/env bash
# Pack the training photos and the validation set into pieces that fit one device call.
#
#   bash relay/pack.sh [SHARED_DATA]   (default ../shared/data)
#
# Writes .device-data/pack-00.tar (validation photos + NVIDIA dev masks + the first training
# photos), pack-01.tar, ... each small enough to travel beside the tracked tree inside a
# call's 64 MiB (the tree is measured: 36 MiB once the ONNX model shipped, so pieces of 26
# MiB). .device-data/ is git-ignored; name it in `carry`.
# The order is seeded and fixed, so any first K pieces are a stable random subset.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
out=.device-data
tracked=$(git ls-files -z | xargs -0 cat | wc -c)
limit=$((62 * 1024 * 1024 - tracked))
mkdir -p "$out"
rm -f "$out"/pack-*.tar
list=$(mktemp)
# Validation first (piece 0), then the training photos in a seeded shuffle.
export LC_ALL=C # one sort order on every machine
(cd "$data" && find val/bsds500-val masks/nvidia-irregular-dev -type f | sort) >"$list"
(cd "$data" && find train -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort |
  shuf --random-source=<(yes pconv-relay)) >>"$list"
piece=0 size=0 batch=()
flush() {
  [ ${#batch[@]} -gt 0 ] || return 0
  tar -cf "$out/pack-$(printf %02d $piece).tar" -C "$data" "${batch[@]}"
  piece=$((piece + 1)) size=0 batch=()
}
while IFS= read -r f; do
  s=$(stat -c %s "$data/$f")
  if [ $((size + s + 4096)) -gt $limit ]; then flush; fi
  batch+=("$f")
  size=$((size + s + 1024))
done <"$list"
flush
rm -f "$list"
ls -la "$out"/pack-*.tar >&2
