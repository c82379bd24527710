# Sourced by the example pipelines: finds the plugin in the build tree (or an
# installed one) and a model (MODEL=…, default: the golden tiny model).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$root/build}
if [ -f "$build/gst/libgstllava.so" ]; then
  export GST_PLUGIN_PATH="$build/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
fi
golden=${GOLDEN_DIR:-$(cd "$root/.." && pwd)/shared/golden/visible-a}
model=${MODEL:-$golden}
if ! gst-inspect-1.0 llavainterleave >/dev/null 2>&1; then
  echo "llavainterleave not found: build first (meson setup build && ninja -C build)" >&2
  exit 1
fi
