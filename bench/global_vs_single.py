"""Run by hand: a global model of S short related series (one seasonal shape, each with its own
level, scale and noise) against one model per series, same settings, scored by `lstm eval`'s
rolling-origin MASE at 6 steps; the per-series models also with S times the epochs (as many
gradient steps as the global model). Usage: global_vs_single.py LSTM_CLI [series] [rows] [epochs]"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

cli = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 10
rows = int(sys.argv[3]) if len(sys.argv) > 3 else 60
epochs = sys.argv[4] if len(sys.argv) > 4 else "60"
rng = np.random.default_rng(0)
t = np.arange(rows)
shape = np.sin(2 * np.pi * t / 12) + 0.5 * np.cos(4 * np.pi * t / 12)
names = [f"s{k}" for k in range(count)]
values = {n: rng.uniform(10, 100) + rng.uniform(1, 10) * (shape + 0.3 * rng.standard_normal(rows)) for n in names}
common = ["--epochs", epochs, "--hidden", "16", "--threads", "1", "--quiet", "--season", "12"]


def evaluate(model, data):
    out = subprocess.run([cli, "eval", "--model", model, "--data", data, "--horizon", "6"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


with tempfile.TemporaryDirectory() as d:
    wide = os.path.join(d, "wide.csv")
    with open(wide, "w") as f:
        f.write("date," + ",".join(names) + "\n")
        for k in range(rows):
            f.write(f"{2000 + k // 12}-{k % 12 + 1:02d}-01," + ",".join(f"{values[n][k]:.6f}" for n in names) + "\n")
    subprocess.run([cli, "train", "--task", "forecast", "--data", wide, "--all-columns", "--out",
                    os.path.join(d, "g.safetensors")] + common, check=True)
    report = evaluate(os.path.join(d, "g.safetensors"), wide)
    global_mase = [s["rolling"]["models"]["lstm"]["mase"] for s in report["series"]]
    snaive = [s["rolling"]["models"]["seasonal-naive"]["mase"] for s in report["series"]]
    results = {}
    for label, run_epochs in (("same epochs", epochs), ("x S epochs", str(int(epochs) * count))):
        single = []
        for n in names:
            args = common[:]
            args[1] = run_epochs
            subprocess.run([cli, "train", "--task", "forecast", "--data", wide, "--target", n, "--out",
                            os.path.join(d, "s.safetensors")] + args, check=True, stderr=subprocess.DEVNULL)
            single.append(evaluate(os.path.join(d, "s.safetensors"), wide)["rolling"]["models"]["lstm"]["mase"])
        results[label] = single
    print(f"{count} series x {rows} rows, {epochs} epochs: mean 6-step rolling MASE global {np.mean(global_mase):.3f}, "
          f"seasonal-naive {np.mean(snaive):.3f}; " + "; ".join(
              f"per-series models ({label}) {np.mean(single):.3f}, global better on "
              f"{sum(g < s for g, s in zip(global_mase, single))} of {count}" for label, single in results.items()))
