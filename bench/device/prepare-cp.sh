#!/usr/bin/env bash
# Assembles bench/target/device-cp/: the classes `bench model` (and scorer, index) need on the GPU machine, small enough
# to travel with the working tree and ../shared/gpu/prepare-device.sh's runtime (64 MiB in all): the engine's jars,
# picocli, Aparapi with its JNI jar reduced to its loader classes and the Linux x86-64 library, Lucene core and hnswlib (no Kafka, Jetty,
# MiniLM). Run from the project root after a build; then, on the device:
#   . .device/device-env.sh && java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
#     -cp 'bench/target/device-cp/*' dev.attend.bench.BenchMain model ...    (carry .device and bench/target/device-cp)
# With --http it adds what `bench model --over-http` needs besides (about 12 MiB): the server and lm jars, Javalin and
# the Jetty it runs on, Jackson, Kotlin's standard library, Micrometer with its Prometheus registry (text formats only),
# slf4j-simple, and leaves Lucene out (only bench index's Lucene baseline needs it): with .device's runtime and the
# working tree about 60 MiB of the 64 MiB a call carries.
set -euo pipefail
http=false
[ "${1:-}" = --http ] && http=true
root=$(git rev-parse --show-toplevel)
cd "$root"
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64} PATH=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin:$PATH
out=bench/target/device-cp
cp_file=$(mktemp)
mvn -B -q -ntp -o -pl bench dependency:build-classpath -Dmdep.outputFile="$cp_file"
rm -rf "$out" && mkdir -p "$out"
for jar in $(tr ':' '\n' < "$cp_file"); do
  name=$(basename "$jar")
  case $name in
    attend-*) # this checkout's build, not a copy some other build installed in the local repository
      module=${name#attend-}; module=${module%%-[0-9]*}
      jar="$root/$module/target/$name"
      [ -f "$jar" ] || { echo "prepare-cp.sh: $jar is missing: build first (mvn -o -DskipTests package)" >&2; exit 1; } ;;
  esac
  case $name in
    prometheus-metrics-exposition-formats-*) ;; # the protobuf format (6.7 MB unpacked): optional, text is served without it
    lucene-core-*) # bench index's Lucene baseline only (bench model runs without it): left out with --http, for room
      if ! $http; then cp "$jar" "$out/"; fi ;;
    attend-gpu-*|attend-index-*|attend-retrieval-*|picocli-*|aparapi-3*|bcel-*|hnswlib-core-*|slf4j-api-*) cp "$jar" "$out/" ;;
    attend-lm-*|attend-server-*|javalin-*|jetty-server-*|jetty-http-*|jetty-io-*|jetty-util-*|jetty-ee10-servlet-*|jetty-session-*|\
    jetty-security-*|jakarta.servlet-api-*|jackson-core-*|jackson-databind-*|jackson-annotations-*|kotlin-stdlib-*|micrometer-*|\
    prometheus-metrics-*|HdrHistogram-*|LatencyUtils-*|slf4j-simple-*)
      if $http; then cp "$jar" "$out/"; fi ;;
    aparapi-jni-*)
      tmp=$(mktemp -d)
      (cd "$tmp" && unzip -q "$jar" 'linux/libaparapi_x86_64.so' 'com/*' 'META-INF/*' && zip -qr "$root/$out/$(basename "$jar")" .)
      rm -rf "$tmp" ;;
  esac
done
cp bench/target/attend-bench-*.jar "$out/"
rm -f "$cp_file"
du -sh "$out"
