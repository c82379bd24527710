#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds gst-llava and runs the whole test suite on the
# Vulkan device (lavapipe where there is no GPU).  Exit status: 0 only if every test passed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
build=${BUILD_DIR:-build-test}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=debugoptimized
fi
ninja -C "$build"

status=0
meson test -C "$build" --print-errorlogs --num-processes "${TEST_JOBS:-2}" --timeout-multiplier "${TIMEOUT_MULTIPLIER:-3}" || status=$?

# One plain summary line ('N passed, N failed') from meson's log.
python3 - "$build/meson-logs/testlog.json" <<'PY' || true
import json, sys
ok = bad = skip = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): ok += 1
    elif r == "SKIP": skip += 1
    else: bad += 1
print(f"{ok} passed, {bad} failed, {skip} skipped")
PY

if [ -x tests/fuzz/run-fuzz.sh ] && [ "${SKIP_FUZZ:-0}" != 1 ]; then
  tests/fuzz/run-fuzz.sh || status=1
fi
exit $status
