#!/usr/bin/env bash
# Annotates a live source with the model's description of each window.
#
#   pipelines/live-textoverlay.sh                  # videotestsrc, on screen
#   SOURCE="v4l2src device=/dev/video0" pipelines/live-textoverlay.sh
#   SINK=fakesink NUM_BUFFERS=100 pipelines/live-textoverlay.sh   # headless
#
# The text of a window exists only after the window (and the model) are
# done, so the video waits in a queue in front of textoverlay: the element
# reports window-duration + inference time as latency on its text pad, and
# the sink shows each frame with the text of its own window, that much later.
# Windows the model cannot keep up with are dropped (live mode) and counted.
set -euo pipefail
source "$(dirname "$0")/common.sh"

window=${WINDOW:-3000000000}                      # ns
source_el=${SOURCE:-videotestsrc is-live=true pattern=ball ${NUM_BUFFERS:+num-buffers=$NUM_BUFFERS}}
sink=${SINK:-autovideosink}

exec gst-launch-1.0 -e \
  $source_el ! videoconvert ! videoscale ! \
    video/x-raw,format=RGB,width=640,height=360 ! \
  llavainterleave name=llava model="$model" window-duration="$window" \
    prompt="${PROMPT:-Describe what happens in this video.}" max-new-tokens="${TOKENS:-32}" ! \
  queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! \
  textoverlay name=overlay wait-text=true valignment=bottom font-desc="Sans 14" ! \
  videoconvert ! $sink \
  llava.text_src ! queue ! overlay.text_sink
