#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in their own build
# directory and runs each for a bounded time.
#
#   tests/fuzz/run-fuzz.sh [SECONDS_PER_TARGET] [BUILD_DIR]
#
# Defaults: 20 s per target, build dir build-fuzz at the repository root.
# Exits non-zero when a target crashes (the reproducer is left in
# BUILD_DIR/fuzz-out/<target>/). Needs clang with libFuzzer (Debian 12:
# clang-14 pulls in libclang-rt-14-dev, which holds libclang_rt.fuzzer).
set -euo pipefail

secs="${1:-20}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${2:-$root/build-fuzz}"
shared="$root/../shared"

if [ ! -d "$build" ]; then
  CC=clang meson setup "$build" "$root" -Dfuzzing=true -Dtests=true \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined' \
    -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C "$build" tests/fuzz/fuzz-safetensors tests/fuzz/fuzz-config \
  tests/fuzz/fuzz-tokenizer

out="$build/fuzz-out"
rm -rf "$out"
mkdir -p "$out"/{safetensors,config,tokenizer}/{corpus,crash}

# Seeds: a small valid safetensors file, the real config files, some text.
seed_st="$out/safetensors/corpus/seed1"
hdr='{"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"__metadata__":{"format":"pt"}}'
printf "$(printf '\\x%02x' "${#hdr}")\\x00\\x00\\x00\\x00\\x00\\x00\\x00" > "$seed_st"
printf '%s' "$hdr" >> "$seed_st"
printf '\x80\x3f\x00\x40\x40\x40\x80\xc0\x00\x00\x80\x3f' >> "$seed_st"
for f in config.json preprocessor_config.json generation_config.json; do
  cp "$shared/golden/visible-a/$f" "$out/config/corpus/$f"
done
printf 'Hello world, <|im_start|>user\n<image>\nWhat is it?<|im_end|>\n' > "$out/tokenizer/corpus/t1"
printf "naïve café — 東京タワー 🙂 DON'T  \r\n\r\n  x12345" > "$out/tokenizer/corpus/t2"

export LLAVA_TOKENIZER_DIR="$shared/tokenizer"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for t in safetensors config tokenizer; do
  echo "== fuzz-$t for ${secs}s"
  if ! "$build/tests/fuzz/fuzz-$t" -max_total_time="$secs" -max_len=4096 \
      -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$out/$t/crash/" \
      -print_final_stats=1 "$out/$t/corpus" 2>"$out/$t/log.txt"; then
    echo "fuzz-$t FAILED; log: $out/$t/log.txt, reproducer in $out/$t/crash/"
    tail -40 "$out/$t/log.txt"
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$out/$t/log.txt" | tail -2
  fi
done
exit $status
