#!/bin/bash
# Install the Debian 12 packages pof needs, only those missing (idempotent).
# As root it installs them; otherwise it prints the exact command to run and fails.
# Called first by ./jobs/quickstart.sh and ./tests/run.sh.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang-format zlib1g-dev
  clang-14 libclang-rt-14-dev clang-tidy-14 cppcheck iproute2 procps util-linux
  libopenmpi-dev openmpi-bin
  libdnnl-dev
  libpetsc-real-dev libslepc-real-dev
  libhdf5-openmpi-dev hdf5-tools
  libcmocka-dev libjansson-dev
  python3-numpy python3-h5py python3-matplotlib python3-torch python3-scipy
  slurm-wlm munge
  dataset-fashion-mnist
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing Debian packages: ${missing[*]}" >&2
  echo "setup: run as root:  $cmd" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
