#!/usr/bin/env bash
# On a machine with a GPU and none of Node, Deno or a browser: run what tools/gpu/pack.sh prepared.
#   bash tools/gpu/run.sh dawn|wgpu|all
# Needs python3 (to unpack xz, and for the peer: torch + transformers + peft) and an NVIDIA (or
# other Vulkan) driver. Results go to $OUT (default out/gpu), at most 8 files per part: run.log,
# bench-<rt>.json/.txt, parity-<rt>.txt, peer.jsonl, cublas.json, gpu-summary.json/.md. Every part
# has its own time limit, so one that hangs cannot take the rest with it.
set -uo pipefail
cd "$(dirname "$0")/../.."
part=${1:-all}
OUT=${OUT:-out/gpu}; mkdir -p "$OUT"
T0=$(date +%s)
say() { echo "[gpu $(( $(date +%s) - T0 ))s] $*" | tee -a "$OUT/run.log"; }
unxz() { python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$1" "$2" && chmod +x "$2"; }

# The Vulkan loader and the GL dispatch libraries the NVIDIA ICD needs (libglvnd), from the carried .debs.
for f in .gl/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done; ldconfig 2>/dev/null
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
say "$(nvidia-smi --query-gpu=name,driver_version,clocks.sm,memory.total --format=csv,noheader 2>&1)"

run_rt() { # $1 = dawn|wgpu; $2... = the runtime's command prefix
  local rt=$1; shift
  say "bench ($rt)"
  timeout 270 "$@" .rt/a/b/bench.mjs --no-cpu ${BENCH_ARGS:-} --out "$OUT/bench-$rt.json" > "$OUT/bench-$rt.txt" 2>&1; say "bench ($rt) rc $?"
  say "parity ($rt)"
  for m in hf-qwen2-tiny hf-llama-tiny; do
    timeout 45 "$@" .rt/a/b/parity.mjs tests/fixtures/$m --backend webgpu >> "$OUT/parity-$rt.txt" 2>&1; say "parity $m ($rt) rc $?"
  done
}

if [ "$part" = dawn ] || [ "$part" = all ]; then
  unxz .rt-node/node.xz /tmp/node
  mkdir -p .rt/node_modules/webgpu/dist/linux-x64 && unxz .rt-node/dawn.node.xz .rt/node_modules/webgpu/dist/linux-x64/dawn.node
  run_rt dawn /tmp/node
  if [ -f .rt/peer_rl_step.py ] && [ "${PEER:-1}" = 1 ]; then
    say "peer (PyTorch + PEFT)"; timeout 120 env PYTHONUNBUFFERED=1 python3 .rt/peer_rl_step.py > "$OUT/peer.jsonl" 2>&1; say "peer rc $?"
  fi
  say "cuBLAS at the bench's matmul shapes"
  timeout 45 python3 tools/gpu/cublas.py "$OUT/bench-dawn.json" > "$OUT/cublas.json" 2>> "$OUT/run.log"; say "cublas rc $?"
fi
if [ "$part" = wgpu ] || [ "$part" = all ]; then
  unxz .rt-deno/deno.xz /tmp/deno
  run_rt wgpu /tmp/deno run -A
fi
runner=$( [ -x /tmp/node ] && echo /tmp/node || echo "/tmp/deno run -A" )
$runner .rt/a/b/summary.mjs --dir "$OUT" && cat "$OUT/gpu-summary.md"
say done
