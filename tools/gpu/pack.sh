#!/usr/bin/env bash
# npm run bench:gpu — prepare, on this machine, everything a GPU machine without Node, Deno or a
# browser needs to run the bench (tools/gpu/run.sh there). Writes three folders that git ignores:
#   .rt/       the bench, parity and summary bundled into single files (esbuild; tfjs inside, the
#              npm `webgpu` shim beside them), the peer script, the cuBLAS timer
#   .rt-node/  Node and Dawn's dawn.node, stripped and xz-compressed (about 25 MB)
#   .rt-deno/  Deno (wgpu), xz-compressed (about 29 MB)
#   .gl/       the Vulkan loader and libglvnd (the NVIDIA ICD needs it) as Debian packages (apt-get download; skipped without apt-get)
# A device call carries .rt, .gl and one of .rt-node / .rt-deno (the lab's device tool sends at most
# 64 MiB; a machine without that limit can carry both and run `run.sh all`).
set -euo pipefail
cd "$(dirname "$0")/../.."
for d in .rt .rt-node .rt-deno .gl; do grep -qxF "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >> .git/info/exclude; done
rm -rf .rt .rt-node .rt-deno && mkdir -p .rt/a/b .rt/node_modules/webgpu .rt-node .rt-deno .gl

# Bundled at depth 3 (.rt/a/b) so shaders.node.ts finds ../../../shaders and catalogue.ts ../../public.
bundle() {
  npx esbuild "$1" --bundle --platform=node --format=esm --target=node20 --minify --log-level=warning \
    --external:webgpu --outfile="$2" \
    --banner:js="import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);"
}
bundle src/cli/bench.ts .rt/a/b/bench.mjs
bundle src/cli/parity.ts .rt/a/b/parity.mjs
bundle src/cli/bench-gpu.ts .rt/a/b/summary.mjs
cp node_modules/webgpu/index.js node_modules/webgpu/package.json .rt/node_modules/webgpu/
peer=../shared/tools/peer_rl_step.py
if [ -f "$peer" ]; then cp "$peer" .rt/; else echo "pack: $peer not found: the peer step will be skipped" >&2; fi

xzc() { # strip $1's symbols (when `strip` is installed) and compress it to $2 with xz's x86 filter
  local tmp; tmp=$(mktemp); strip -o "$tmp" "$1" 2>/dev/null || cp "$1" "$tmp"
  if command -v xz >/dev/null; then xz --x86 --lzma2=preset=9e -T1 -c "$tmp" > "$2"
  else python3 -c "import lzma,shutil,sys; shutil.copyfileobj(open(sys.argv[1],'rb'), lzma.open(sys.argv[2],'wb',filters=[{'id':lzma.FILTER_X86},{'id':lzma.FILTER_LZMA2,'preset':9|lzma.PRESET_EXTREME}]))" "$tmp" "$2"; fi
  rm -f "$tmp"
}
# In parallel: each takes about a minute.
xzc "$(command -v node)" .rt-node/node.xz & xzc node_modules/webgpu/dist/linux-x64/dawn.node .rt-node/dawn.node.xz &
xzc node_modules/deno/deno .rt-deno/deno.xz & wait

if command -v apt-get >/dev/null && ! ls .gl/libglvnd0_*.deb >/dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2) || echo "pack: could not download the Vulkan loader and libglvnd into .gl" >&2
fi
du -sh .rt .rt-node .rt-deno .gl
cat <<'MSG'

On the GPU machine, from the repo root (each part well inside 8 minutes):
  bash tools/gpu/run.sh dawn    # carries .rt .rt-node .gl: bench + parity under Node/Dawn, the peer, cuBLAS
  bash tools/gpu/run.sh wgpu    # carries .rt .rt-deno .gl: bench + parity under Deno/wgpu
  bash tools/gpu/run.sh all     # both, when everything can travel at once
Each writes into $OUT (default out/gpu) and ends with gpu-summary.md / .json over what is there.
MSG
