#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds gst-llava and runs the whole test suite on the
# Vulkan device (lavapipe where there is no GPU), then the same suite under ASan/UBSan/LSan,
# then the fuzz targets for a bounded time.  Exit status: 0 only if everything passed.
# SKIP_SANITIZERS=1 / SKIP_FUZZ=1 leave those parts out.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
build=${BUILD_DIR:-build-test}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=debugoptimized
fi
ninja -C "$build"

status=0
passed=0
failed=0

# Counts meson's results in the JSON logs of a build dir ('OK' passes; SKIP is
# reported separately, never as a pass; no log at all counts as a failure).
count_meson () {
  local dir=$1 ok bad skip
  read -r ok bad skip < <(python3 - "$dir"/meson-logs/testlog*.json <<'PY'
import json, sys
ok = bad = skip = 0
for path in sys.argv[1:]:
    try:
        for line in open(path):
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"): ok += 1
            elif r == "SKIP": skip += 1
            else: bad += 1
    except FileNotFoundError:
        bad += 1
print(ok, bad, skip)
PY
)
  echo "$2: $ok passed, $bad failed, $skip skipped"
  passed=$((passed + ok))
  failed=$((failed + bad))
}

echo "== tests"
meson test -C "$build" --print-errorlogs --num-processes "${TEST_JOBS:-2}" \
  --timeout-multiplier "${TIMEOUT_MULTIPLIER:-3}" || status=$?
count_meson "$build" tests

# The same suite again under AddressSanitizer + UBSan + LeakSanitizer.
if [ "${SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== sanitizers (ASan + UBSan + LSan)"
  scripts/test-sanitizers.sh build-asan || status=1
  count_meson build-asan sanitizers
fi

# libFuzzer targets (safetensors header, config JSON, tokenizer), bounded time.
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzzing"
  if tests/fuzz/run-fuzz.sh; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    status=1
  fi
fi

[ "$failed" -eq 0 ] || status=1
echo "total: $passed passed, $failed failed"
exit $status
