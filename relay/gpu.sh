#!/usr/bin/env bash
# The accelerator leg of the training relay: one command on the device machine.
#
#   bash relay/gpu.sh MINUTES [INIT] [EXTRA pconv train flags...]
#
# Unpacks whatever .device-data/pack-*.tar pieces have arrived (relay/pack.sh; pieces from
# earlier calls on the same warm machine stay), fine-tunes INIT (default: the shipped
# weights) with the full paper loss in bf16 + channels_last for MINUTES, exports fp16
# weights, measures throughput and validates on the packed validation set, and leaves in
# $OUT (at most 8 files): candidate.safetensors, metrics.jsonl, train.log, eval.md, speed.json.
# EVAL_PAIRS=N sets the short eval's pairs per bin (default 10; 0 skips it). RESUME=1 continues
# the run the previous call left on the same warm machine (its last.pt, the same flags) instead
# of starting from INIT, to spend what is left of the device time.
# Without $OUT (a CPU trial run) it writes to .device-data/out.
set -uo pipefail
cd "$(dirname "$0")/.."
fail() { echo "relay/gpu.sh: $*" | tee -a "$out/train.log" >&2; exit 1; }
minutes=${1:?usage: relay/gpu.sh MINUTES [INIT] [pconv train flags...]}
init=${2:-weights/pconv-small256-v5.safetensors}
shift $(($# < 2 ? $# : 2))
out=${OUT:-.device-data/out}
data=/tmp/pconv-data
run=/tmp/pconv-run
evaldir=/tmp/pconv-eval
if [ "${RESUME:-0}" = 1 ]; then
  [ -f "$run/last.pt" ] || { echo "relay/gpu.sh: RESUME=1 but no $run/last.pt on this machine" >&2; exit 1; }
  start=(--resume "$run/last.pt")
else
  rm -rf "$run" # a warm machine keeps the last call's run: never export that one by mistake
  start=(--finetune "$init")
fi
rm -rf "$evaldir"
mkdir -p "$data" "$out"
for piece in .device-data/pack-*.tar; do
  [ -e "$data/.$(basename "$piece")" ] || { tar -xf "$piece" -C "$data" && touch "$data/.$(basename "$piece")"; }
done
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
pconv() { python3 -m pconv_cli "$@"; }
cores=$(nproc)
workers=$((cores > 4 ? cores - 2 : 1))
echo "data: $(find "$data/train" -type f | wc -l) training photos; $workers loader workers" | tee "$out/train.log"
# timeout's TERM makes pconv train save last.pt and exit cleanly (tested in tests/test_train.py).
timeout --signal=TERM "${minutes}m" python3 -m pconv_cli train "$data/train" "${start[@]}" -o "$run" \
  --size 256 --batch-size 32 --lr 1e-4 --precision auto --workers "$workers" --steps 1000000 \
  --val "$data/val/bsds500-val" --val-masks "$data/masks/nvidia-irregular-dev" \
  --val-every 500 --save-every 250 --sample-every 100000 --log-every 20 "$@" 2>&1 | tee -a "$out/train.log"
[ -f "$run/last.pt" ] || fail "training wrote no checkpoint"
best=$run/best.pt
[ -f "$best" ] || best=$run/last.pt
pconv export "$best" -o "$out/candidate.safetensors" --half --overwrite || fail "export failed"
cp "$run/metrics.jsonl" "$out/metrics.jsonl"
python3 relay/speed.py "$run/metrics.jsonl" "$out/candidate.safetensors" >"$out/speed.json" || fail "speed.py failed"
cat "$out/speed.json"
if [ "${EVAL_PAIRS:-10}" -gt 0 ]; then # EVAL_PAIRS=0 spends no device time on it
  timeout 150 python3 -m pconv_cli eval "$data/val/bsds500-val" --masks "$data/masks/nvidia-irregular-dev" \
    -w "$out/candidate.safetensors" -w "$init" --baselines telea --pairs-per-bin "${EVAL_PAIRS:-10}" --border none \
    -o "$evaldir" --figure-pairs 0 || fail "the short eval failed or ran out of time (the weights are in \$OUT)"
  cp "$evaldir/results.md" "$out/eval.md"
fi
ls -la "$out"
