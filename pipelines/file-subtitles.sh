#!/usr/bin/env bash
# Writes the description of each window of a video file as subtitles.
#
#   pipelines/file-subtitles.sh clip.mp4 clip.srt    # SubRip sidecar
#   pipelines/file-subtitles.sh clip.mp4 clip.vtt    # WebVTT sidecar
#   pipelines/file-subtitles.sh clip.mp4 clip.mkv    # video + subtitle track
#
# Without arguments: the golden 30-frame PNG clip (10 fps) to out.srt.
# File mode: every window is described; the decoder waits when the model is
# behind, so nothing is lost however slow the device.
set -euo pipefail
source "$(dirname "$0")/common.sh"

in=${1:-}
out=${2:-out.srt}
window=${WINDOW:-3000000000}                      # ns

if [ -z "$in" ]; then
  src=(multifilesrc location="$golden/window/clip_%02d.png" index=0 stop-index=29
       caps=image/png,framerate=10/1 ! pngdec)
else
  src=(filesrc location="$in" ! decodebin)
fi

element=(llavainterleave name=llava model="$model" mode=file window-duration="$window"
         prompt="${PROMPT:-Describe what happens in this video.}" max-new-tokens="${TOKENS:-32}")

case "$out" in
  *.srt) text=(llava.text_src ! queue ! srtenc ! filesink location="$out") ;;
  *.vtt) text=(llava.text_src ! queue ! webvttenc ! filesink location="$out") ;;
  *.mkv)
    # the subtitle track is muxed by time: the video waits in a queue for
    # the text of its window
    exec gst-launch-1.0 "${src[@]}" ! videoconvert ! "${element[@]}" ! \
      queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! \
      videoconvert ! jpegenc ! matroskamux name=mux ! filesink location="$out" \
      llava.text_src ! queue ! mux.subtitle_0 ;;
  *) echo "output must end in .srt, .vtt or .mkv" >&2; exit 1 ;;
esac

exec gst-launch-1.0 "${src[@]}" ! videoconvert ! "${element[@]}" ! fakesink "${text[@]}"
