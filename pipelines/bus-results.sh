#!/usr/bin/env bash
# Prints every result from the bus: one "llava-result" element message per
# window, with the text, the window, the sampled frames' timestamps, token
# counts, timings and the stats (gst-launch-1.0 -m prints bus messages).
#
#   pipelines/bus-results.sh                 # the golden PNG clip
#   pipelines/bus-results.sh clip.mp4
set -euo pipefail
source "$(dirname "$0")/common.sh"

in=${1:-}
if [ -z "$in" ]; then
  src=(multifilesrc location="$golden/window/clip_%02d.png" index=0 stop-index=29
       caps=image/png,framerate=10/1 ! pngdec)
else
  src=(filesrc location="$in" ! decodebin)
fi

gst-launch-1.0 -m "${src[@]}" ! videoconvert ! \
  llavainterleave model="$model" window-duration="${WINDOW:-3000000000}" \
    max-new-tokens="${TOKENS:-12}" ! fakesink 2>&1 |
  grep -E 'llava-result|ERROR|WARNING'
