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
  python3-pandas             # DataFrames in and out of lstm.Forecaster / GlobalForecaster, and their tests
  libprotobuf-dev libonnx-dev  # ONNX import/export (the generated ONNX protobuf classes)
  python3-onnx libonnx-testdata nodejs  # ONNX checks: test models, operator test data, onnxruntime-node
  libopenmpi-dev openmpi-bin  # data-parallel training (lstm train under mpiexec) and its tests
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

# onnxruntime-node from npm, outside the repository so that fresh clones reuse it: the ONNX export
# check runs our exports in it. ONNXRUNTIME_NODE_INSTALL=skip: the CPU binaries ship in the npm
# package; its install script would only fetch GPU extras from a host we cannot reach.
npm_dir="${LSTM_NPM_DIR:-/opt/lstm-npm}"
if [ ! -f "$npm_dir/node_modules/onnxruntime-node/package.json" ]; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  if ! command -v npm >/dev/null; then
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends npm
  fi
  $sudo_cmd mkdir -p "$npm_dir"
  [ -f "$npm_dir/package.json" ] || echo '{"name": "lstm-npm-tools", "private": true}' | $sudo_cmd tee "$npm_dir/package.json" >/dev/null
  (cd "$npm_dir" && $sudo_cmd env ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund onnxruntime-node@1.30.0)
fi
