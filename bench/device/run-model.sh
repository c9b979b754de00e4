#!/usr/bin/env bash
# On the GPU machine (through `device`/`run`, carrying .device and bench/target/device-cp): the PyTorch anchor of
# ../shared/gpu/llama8b_shape_anchor.py for each --tokens given in ANCHOR_TOKENS (when a copy of the script is in
# .device-anchor/, which ../shared does not travel to), then `bench model` with the arguments given, its JSON and log
# in $OUT (LOG names the log, default model.log; CP_FIRST puts jars before the class path, e.g. another build's index
# jar for a same-lease baseline; JAVA_OPTS adds JVM flags, e.g. a flight recording into $OUT). Example:
#   ANCHOR_TOKENS="32768 131072" bench/device/run-model.sh --tokens 131072 --dtype float16 --scorer opencl --json model.json
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
out=${OUT:-/tmp/attend-device}
mkdir -p "$out"
. .device/device-env.sh
export LD_PRELOAD=$PWD/.device/jre/lib/libjsig.so
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee "$out/gpu.txt"
if [ -f .device-anchor/llama8b_shape_anchor.py ]; then
  for t in ${ANCHOR_TOKENS:-}; do
    python3 .device-anchor/llama8b_shape_anchor.py --tokens "$t" 2>&1 | tee "$out/anchor-$t.txt"
  done
fi
args=()
for a in "$@"; do
  case $a in
    *.json) args+=("$out/$(basename "$a")") ;;  # reports land in $OUT, which comes back
    *) args+=("$a") ;;
  esac
done
. conf/cpu-flags.sh
java @conf/jvm.options $ATTEND_CPU_FLAGS ${HEAP:--Xmx100g} ${JAVA_OPTS:-} -cp "${CP_FIRST:+$CP_FIRST:}bench/target/device-cp/*" \
  dev.attend.bench.BenchMain model "${args[@]}" 2>&1 | tee "$out/${LOG:-model.log}"
