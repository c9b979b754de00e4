# Sourced by ./attend and bench/device/run-model.sh: JVM flags that depend on the CPU, in $ATTEND_CPU_FLAGS.
# Intel CPUs with AVX-512 lower their clock while 512-bit instructions run on many cores: on the H100 machine's
# 16-core Xeon, decode of 4 x 8 x 128K took 21.8-22.6 ms per token with them and 17.5-18.0 ms without
# (-XX:UseAVX=2), builds 13.5-16.4 s against 12.2-13.1 s. AMD's Zen 4 has no such penalty and its CPU top-k
# scans gain from 512 bits (ready 21.2-21.4 s with them, 28.5-31.4 s without): kept there. bench/RESULTS.md has the
# runs. ATTEND_AVX512=keep keeps 512-bit vectors on Intel too.
ATTEND_CPU_FLAGS=""
if [ "${ATTEND_AVX512:-}" != keep ] && [ -r /proc/cpuinfo ] && grep -q -m1 '^vendor_id.*GenuineIntel' /proc/cpuinfo \
    && grep -q -m1 '^flags.* avx512f' /proc/cpuinfo; then
  ATTEND_CPU_FLAGS="-XX:UseAVX=2"
fi
