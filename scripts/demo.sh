#!/usr/bin/env bash
# The main job: build lstm; run a 2-layer bidirectional LSTM that PyTorch saved (examples/data)
# forward and backward through the CLI and check every number against PyTorch; then train a
# forecaster on the Mauna Loa CO2 series (data/co2.csv) for a minute and forecast a year ahead.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" --target lstm_cli lstm_python_package > /dev/null
# `import lstm` from Debian's python3 in any directory from now on.
cmake --install build --component python > /dev/null
lstm=build/lstm
data=examples/data
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== lstm info"
"$lstm" info "$data/demo_lstm.safetensors" | head -4
echo
echo "== lstm forward + backward through time on a batch of 4 sequences of lengths 20, 13, 1, 7"
"$lstm" forward --model "$data/demo_lstm.safetensors" --input "$data/demo_input.npy" \
  --lengths "$data/demo_lengths.npy" --output "$out/y.npy" --state-out "$out/state.safetensors" \
  --grad-output "$data/demo_grad_output.npy" --grads "$out/grads.safetensors"
echo "wrote y.npy, state.safetensors, grads.safetensors"
echo
echo "== compared with PyTorch 1.13 (max |difference| / max |PyTorch value|, per tensor)"
/usr/bin/python3 - "$out" "$data/demo_expected.safetensors" <<'PY'
import json, struct, sys
import numpy as np

def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    return {k: np.frombuffer(raw[base + v["data_offsets"][0]:base + v["data_offsets"][1]],
                             dtype="<f4").reshape(v["shape"]) for k, v in header.items()}

out, expected_path = sys.argv[1], sys.argv[2]
expected = read_safetensors(expected_path)
state = read_safetensors(out + "/state.safetensors")
grads = read_safetensors(out + "/grads.safetensors")
ours = {"output": np.load(out + "/y.npy"), "h": state["h"], "c": state["c"], "grad.input": grads["input"]}
ours.update({"grad." + k: v for k, v in grads.items() if k not in ("input", "h0", "c0")})
worst = 0.0
for name in sorted(expected):
    e, o = expected[name], ours[name]
    err = float(np.abs(e - o).max() / max(np.abs(e).max(), 1e-30))
    worst = max(worst, err)
    print(f"  {name:32s} {str(list(e.shape)):16s} {err:.1e}")
print(f"worst relative difference {worst:.1e}: " + ("matches PyTorch" if worst < 1e-5 else "MISMATCH"))
sys.exit(0 if worst < 1e-5 else 1)
PY
echo
echo "== import lstm: the same network from Python, against torch.nn.LSTM on the same weights"
/usr/bin/python3 - <<'PY'
import numpy as np, torch, lstm
torch.manual_seed(0)
ours, theirs = lstm.torch.LSTM(8, 16, num_layers=2), torch.nn.LSTM(8, 16, num_layers=2)
theirs.load_state_dict(ours.state_dict())
x = torch.randn(30, 4, 8)
difference = (ours(x)[0] - theirs(x)[0]).abs().max().item()
print(f"lstm {lstm.__file__}: max |lstm.torch.LSTM - torch.nn.LSTM| = {difference:.1e}")
PY
echo
echo "== the kernels in force on this CPU"
"$lstm" info --system
echo
echo "== lstm bench (LSTM, input 256, hidden 256, batch 32, 50 steps, forward + backward)"
"$lstm" bench --cell lstm --input-size 256 --hidden-size 256 --batch 32 --seq-len 50 --mode train
echo
echo "== lstm train --task forecast on weekly CO2 at Mauna Loa, 1958-2001 (one minute at most)"
"$lstm" train --task forecast --data data/co2.csv --target co2 --out "$out/co2.safetensors" --horizon 52 \
  --time-limit 60 --progress 2>&1 | awk '/^epoch/ { n++; if (n % 20 == 1) print; next } { print }'
echo
echo "== lstm forecast: the first weeks of 2002"
"$lstm" forecast --model "$out/co2.safetensors" --data data/co2.csv --steps 52 --output "$out/forecast.csv"
head -6 "$out/forecast.csv"
