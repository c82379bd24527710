#!/usr/bin/env bash
# Installs every Debian 12 package that gst-llava needs to build, test and run on lavapipe.
# Usage: sudo scripts/setup.sh   (idempotent; does nothing when everything is installed)
set -euo pipefail

packages=(
  build-essential pkg-config meson ninja-build
  glslang-tools libvulkan-dev libvulkan1 mesa-vulkan-drivers vulkan-tools
  libglib2.0-dev libjson-glib-dev liborc-0.4-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-x
  libpng-dev libjpeg-dev libopenblas-dev
  clang libclang-rt-14-dev valgrind
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
