#!/usr/bin/env bash
# Prepare, on this machine, everything the GPU run needs and the GPU machine cannot fetch (it has
# no network): one archive, .carry/gpu-bench/gpu-bench.tar.xz (ignored; the device call carries
# it), holding
#   node/bin/node                   this machine's Node (20+, linux x64), stripped
#   node_modules/webgpu/            the npm `webgpu` package (Dawn), linux-x64 binary only
#   onnxruntime-web/                package.json and the WebGPU bundles with their .wasm, from node_modules
#   debs/                           the Vulkan loader (Debian's libvulkan1) and glvnd's libraries, unpacked there
#   app-sampling.mjs                the app's samplers (src/sampling), bundled for the whole-image runs
#   models/                         the ONNX files of the benched models (the tracked ones stay home:
#                                   training/scripts/slim_tree.py moves them out for the call), and for
#                                   each <id>@f16 its float16-compute file (python -m diffit.float16_graph)
# and prints the size that will travel. Usage: scripts/gpu-bench/prepare.sh [model ids, default the
# Fashion-MNIST three; <id>@f16 adds that model's float16-compute rows]. docs/gpu-bench.md has the whole sequence.
set -euo pipefail
cd "$(dirname "$0")/../.."
WEBGPU_VERSION=0.6.2 # the `webgpu` package measured on an H200 (issue 10)
if [ $# -gt 0 ]; then MODELS=("$@"); else
  read -r -a MODELS <<<"$(node -e "import('./scripts/gpu-bench/bench.mjs').then((m) => console.log(m.DEFAULT_MODELS.join(' ')))")"
fi
CARRY=.carry/gpu-bench
LIMIT=$((64 << 20)) # the device call's travelling tree

die() { echo "prepare: $*" >&2; exit 2; }
node -e 'process.exit(process.arch === "x64" && process.platform === "linux" && +process.versions.node.split(".")[0] >= 20 ? 0 : 1)' \
  || die "the GPU machine is linux x64 and the bench wants Node 20+: this node is $(node -p 'process.platform+" "+process.arch+" "+process.version')"
ORT=node_modules/onnxruntime-web
[ -f $ORT/package.json ] || die "no $ORT: run npm ci first"
command -v xz >/dev/null || die "xz is missing (apt-get install xz-utils)"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{node/bin,node_modules/webgpu,onnxruntime-web/dist,debs,models}

echo "node $(node --version) from $(command -v node)"
cp "$(readlink -f "$(command -v node)")" "$STAGE/node/bin/node"
strip "$STAGE/node/bin/node" 2>/dev/null || echo "  (strip not found: node travels with its symbols)"

echo "webgpu@$WEBGPU_VERSION from npm"
(cd "$STAGE" && npm pack --silent "webgpu@$WEBGPU_VERSION" >/dev/null)
tar xzf "$STAGE/webgpu-$WEBGPU_VERSION.tgz" -C "$STAGE/node_modules/webgpu" --strip-components=1 \
  package/package.json package/index.js package/LICENSE.md package/dist/linux-x64/dawn.node
rm "$STAGE/webgpu-$WEBGPU_VERSION.tgz"

echo "onnxruntime-web $(node -p "require('./$ORT/package.json').version") from $ORT"
cp $ORT/package.json "$STAGE/onnxruntime-web/"
# ort.bundle.min.mjs loads the .jsep glue and wasm, ort.webgpu.bundle.min.mjs the .asyncify ones
# (scripts/gpu-bench/bench.mjs BUNDLES); in Node a bundle imports its glue .mjs from beside it.
for f in ort.bundle.min.mjs ort-wasm-simd-threaded.jsep.{mjs,wasm} ort.webgpu.bundle.min.mjs ort-wasm-simd-threaded.asyncify.{mjs,wasm}; do
  cp "$ORT/dist/$f" "$STAGE/onnxruntime-web/dist/"
done

# The app's samplers for the whole-image runs (image-run.mjs): the machine has no node_modules.
node scripts/gpu-bench/image-run.mjs bundle "$PWD" "$STAGE/app-sampling.mjs" || die "bundling src/sampling failed"

# The Vulkan loader, and glvnd's libraries, which NVIDIA's Vulkan driver (libGLX_nvidia.so.0) needs to load:
# without them the H200 said "Could not get 'vkCreateInstance' via 'vk_icdGetInstanceProcAddr' for ICD
# libGLX_nvidia.so.0" and Dawn found no adapter (2026-11-27); with them (the device README's list) it ran.
DEBS=(libvulkan1 libglvnd0 libglx0 libegl1 libopengl0 libgl1 libgles2)
echo "${DEBS[*]} (amd64) from Debian"
APT=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64-lists)
mkdir -p /tmp/amd64-lists/partial
apt-get "${APT[@]}" update -qq >/dev/null
(cd "$STAGE/debs" && apt-get "${APT[@]}" download -qq "${DEBS[@]}" 2>/dev/null)
for deb in "${DEBS[@]}"; do ls "$STAGE"/debs/"${deb}"_*.deb >/dev/null || die "apt-get download $deb failed"; done

PYTHON=${PYTHON:-.venv/bin/python}
for id in "${MODELS[@]}"; do
  # The manifest's file of the id, and for <id>@f16 (bench.mjs parseModelId) the name of its float16-compute file.
  read -r file half <<<"$(node -e "import('./scripts/gpu-bench/bench.mjs').then((b) => {
    const { baseId, f16 } = b.parseModelId(process.argv[1]);
    const m = require('./public/models/manifest.json').models.find((e) => e.id === baseId);
    if (m) console.log(m.file, f16 ? b.f16File(m.file) : '');
  })" "$id")"
  [ -n "$file" ] || die "no model ${id%@f16} in public/models/manifest.json"
  [ -f "public/models/$file" ] || die "public/models/$file is missing (restore it: .venv/bin/python training/scripts/slim_tree.py back)"
  cp "public/models/$file" "$STAGE/models/"
  if [ -n "$half" ]; then # the network in float16, made here from the shipped file
    PYTHONPATH=training "$PYTHON" -m diffit.float16_graph "public/models/$file" "$STAGE/models/$half" \
      || die "python -m diffit.float16_graph failed for $file"
  fi
done
echo "models: ${MODELS[*]}"

mkdir -p $CARRY
rm -f $CARRY/gpu-bench.tar.xz
echo "packing (xz, about a minute)…"
tar cf - -C "$STAGE" . | xz -6 -T1 >$CARRY/gpu-bench.tar.xz.part
mv $CARRY/gpu-bench.tar.xz.part $CARRY/gpu-bench.tar.xz
printf '%s\n' "${MODELS[@]}" >$CARRY/models.txt

carry=$(du -cb $CARRY | tail -1 | cut -f1)
rest=$(.venv/bin/python training/scripts/slim_tree.py size)
total=$((carry + rest))
awk -v c="$carry" -v r="$rest" 'BEGIN { printf "travels: carry %.1f MiB + the slim tree %.1f MiB = %.1f MiB (limit 64 MiB)\n", c / 2^20, r / 2^20, (c + r) / 2^20 }'
[ "$total" -lt "$LIMIT" ] || die "that is over the device call's 64 MiB: bench fewer models"
