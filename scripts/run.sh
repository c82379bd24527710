#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds gst-llava and runs the main job: the engine on the
# golden tiny model (10 frames -> text) on the best Vulkan device, then the element on a PNG
# sequence with the result printed from the bus.  MODEL=/path/to/llava-interleave-qwen-0.5b-hf
# runs a real model instead.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
build=${BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release
ninja -C "$build"

golden=${GOLDEN_DIR:-$(cd .. && pwd)/shared/golden/visible-a}
model=${MODEL:-$golden}
frames=()
for i in 00 01 02 03 04 05 06 07 08 09; do frames+=(--frames "$golden/frames/frame_$i.png"); done

echo "== llava-run on $(basename "$model")"
"$build/engine/tools/llava-run" --model "$model" "${frames[@]}" \
  --prompt "Describe what happens in this video." --max-new-tokens 12 --precision f32 --json

echo "== llavainterleave on a 30-frame PNG sequence (3 s windows)"
GST_PLUGIN_PATH="$build/gst" gst-launch-1.0 -m \
  multifilesrc location="$golden/window/clip_%02d.png" index=0 stop-index=29 \
    caps="image/png,framerate=10/1" ! pngdec ! videoconvert ! \
  llavainterleave model="$model" window-duration=3000000000 max-new-tokens=12 ! fakesink \
  2>&1 | grep -E "llava-result|ERROR|WARN" || true
