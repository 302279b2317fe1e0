#!/usr/bin/env bash
# The GPU machine's half of docs/gpu-bench.md (the device call runs `bash scripts/gpu-bench/device.sh`
# with .carry/gpu-bench carried): unpacks what scripts/gpu-bench/prepare.sh packed, puts the Vulkan
# loader on the library path and NVIDIA's Vulkan driver in VK_DRIVER_FILES, and runs the bench.
# Results, log and GPU name go to $OUT (./gpu-bench-out where OUT is unset). Further arguments go to
# scripts/gpu-bench/bench.mjs (a CPU smoke test: --allow-fallback-adapter --runs 1 --warmup 0).
set -uo pipefail
cd "$(dirname "$0")/../.."
CARRY=.carry/gpu-bench
OUT=${OUT:-$PWD/gpu-bench-out}
mkdir -p "$OUT"
[ -f $CARRY/gpu-bench.tar.xz ] || { echo "device: no $CARRY/gpu-bench.tar.xz: run scripts/gpu-bench/prepare.sh and carry $CARRY" >&2; exit 2; }
T=$(mktemp -d /tmp/gpu-bench.XXXXXX)
tar xJf $CARRY/gpu-bench.tar.xz -C "$T" || exit 2
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f $ICD ]; then
  # On the NVIDIA machine, the device README's way: the loader and glvnd's libraries into /, then ldconfig
  # (NVIDIA's Vulkan driver, libGLX_nvidia.so.0, loads libGLdispatch from the system's library path).
  for deb in "$T"/debs/*.deb; do dpkg -x "$deb" /; done
  ldconfig
else
  # Elsewhere (the CPU smoke test) in a folder of its own, leaving the system alone.
  for deb in "$T"/debs/*.deb; do dpkg -x "$deb" "$T/root"; done
  export LD_LIBRARY_PATH="$T/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f $ICD ]; then export VK_DRIVER_FILES=$ICD; fi
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"; } | tee "$OUT/nvidia-smi.txt"
"$T/node/bin/node" scripts/gpu-bench/bench.mjs --model-dir "$T/models" --ort "$T/onnxruntime-web/dist" \
  --webgpu "$T/node_modules/webgpu" --models "$(paste -sd, $CARRY/models.txt)" --python "${PYTHON:-python3}" \
  --out "$OUT/gpu-results.json" --sampling "$T/app-sampling.mjs" "$@" 2>&1 | tee "$OUT/gpu-bench.log"
status=${PIPESTATUS[0]}
rm -rf "$T"
exit "$status"
