#!/usr/bin/env bash
# Installs the Debian packages lstm needs to build, test and benchmark. Idempotent.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libopenblas-dev            # the BLAS behind every GEMM
  libgtest-dev               # unit tests
  libcli11-dev               # command-line parsing
  nlohmann-json3-dev         # safetensors headers, metadata, JSON output
  python3-numpy python3-torch  # reference data generation and interop tests
  libdnnl-dev                # oneDNN, the peer in bench/
  chromium fonts-dejavu-core # the report test renders an HTML report headless
  python3-dev pybind11-dev python3-pybind11  # the Python module (import lstm)
  python3-pytest             # the Python tests and bench/test_bench_tools.py
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
