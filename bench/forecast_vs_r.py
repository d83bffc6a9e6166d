#!/usr/bin/python3
"""Forecasting benchmark, run by hand: lstm's defaults against R forecast's ets(), auto.arima(),
thetaf(), M4's Comb and seasonal-naive on R's `datasets` series, the last H values held out
(M4 horizons: monthly 18, quarterly 8, yearly 6).

    Rscript bench/forecast_vs_r.R /tmp/fbench          # needs r-base-core, r-cran-forecast
    /usr/bin/python3 bench/forecast_vs_r.py --lstm build/lstm --dir /tmp/fbench [--time-limit 120]

For each series: `lstm train --task forecast` on the training part (defaults, --time-limit),
then `lstm forecast --steps H` with each --model-choice (combine is the default). Prints one row
per series (RMSE relative to seasonal-naive, and MASE) and a summary: geometric-mean RMSE
ratios against each R method, mean MASE, and the 80% intervals' coverage of the held-out values.
"""
import argparse
import csv
import math
import os
import subprocess
import sys
from collections import defaultdict


def read_r_forecasts(path):
    table = defaultdict(lambda: defaultdict(list))  # series -> method -> [H]
    meta = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            table[row["series"]][row["method"]].append(float(row["value"]))
            meta[row["series"]] = (int(row["frequency"]), int(row["horizon"]))
    return table, meta


def train_values(path):
    with open(path) as f:
        return [float(row["value"]) for row in csv.DictReader(f)]


def mase_scale(y, lag):
    return sum(abs(y[t] - y[t - lag]) for t in range(lag, len(y))) / (len(y) - lag)


def rmse(actual, forecast):
    return math.sqrt(sum((a - f) ** 2 for a, f in zip(actual, forecast)) / len(actual))


def mae(actual, forecast):
    return sum(abs(a - f) for a, f in zip(actual, forecast)) / len(actual)


def run_lstm(args, name, horizon, work):
    data = os.path.join(args.dir, name + "_train.csv")
    model = os.path.join(work, name + ".safetensors")
    if not (args.reuse and os.path.exists(model)):
        extra = args.train_args.replace("{H}", str(horizon)).split()
        subprocess.run([args.lstm, "train", "--task", "forecast", "--data", data, "--target",
                        "value", "--out", model, "--time-limit", str(args.time_limit),
                        "--threads", str(args.threads), "--quiet"] + extra, check=True,
                       stderr=subprocess.DEVNULL)
    results = {}
    for choice in ("combine", "best", "lstm"):
        out = os.path.join(work, f"{name}_{choice}.csv")
        subprocess.run([args.lstm, "forecast", "--model", model, "--data", data, "--steps",
                        str(horizon), "--output", out, "--model-choice", choice, "--quiet",
                        "--threads", str(args.threads)], check=True, stderr=subprocess.DEVNULL)
        with open(out) as f:
            rows = list(csv.DictReader(f))
        results[choice] = {
            "mean": [float(r["value"]) for r in rows],
            "lower": [float(r["lower"]) if r["lower"] else math.nan for r in rows],
            "upper": [float(r["upper"]) if r["upper"] else math.nan for r in rows],
            "model": rows[0]["model"],
        }
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lstm", default="build/lstm")
    parser.add_argument("--dir", default="/tmp/fbench")
    parser.add_argument("--time-limit", type=float, default=120)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--series", default="", help="comma-separated subset")
    parser.add_argument("--train-args", default="", help="extra options for lstm train ({H}: the series' horizon)")
    parser.add_argument("--work", default="lstm", help="subdirectory of --dir for the models")
    parser.add_argument("--reuse", action="store_true",
                        help="keep models already trained in --work (re-run only the forecasts)")
    args = parser.parse_args()
    table, meta = read_r_forecasts(os.path.join(args.dir, "r_forecasts.csv"))
    work = os.path.join(args.dir, args.work)
    os.makedirs(work, exist_ok=True)
    names = [n for n in table if not args.series or n in args.series.split(",")]
    r_methods = ["ets", "arima", "theta", "comb", "snaive"]
    ours = ["combine", "best", "lstm"]
    log_ratios = defaultdict(list)  # (ours, r method) -> [log RMSE ratio]
    mase = defaultdict(list)
    inside = total = 0
    print(f"{'series':15s} {'H':>3s}  RMSE / seasonal-naive: "
          + " ".join(f"{m:>7s}" for m in ours + r_methods[:-1]) + "   chosen by combine")
    for name in names:
        frequency, horizon = meta[name]
        y = train_values(os.path.join(args.dir, name + "_train.csv"))
        scale = mase_scale(y, frequency if frequency > 1 else 1)
        actual = table[name]["actual"]
        forecasts = {m: table[name][m] for m in r_methods}
        lstm = run_lstm(args, name, horizon, work)
        for choice in ours:
            forecasts[choice] = lstm[choice]["mean"]
        errors = {m: rmse(actual, f) for m, f in forecasts.items()}
        for m, f in forecasts.items():
            mase[m].append(mae(actual, f) / scale)
        for o in ours:
            for r in r_methods:
                log_ratios[(o, r)].append(math.log(errors[o] / errors[r]))
        band = lstm["combine"]
        for a, lo, hi in zip(actual, band["lower"], band["upper"]):
            if not math.isnan(lo):
                total += 1
                inside += lo <= a <= hi
        print(f"{name:15s} {horizon:3d}  {'':22s} "
              + " ".join(f"{errors[m] / errors['snaive']:7.3f}" for m in ours + r_methods[:-1])
              + f"   {band['model']}")
        sys.stdout.flush()
    print("\ngeometric-mean RMSE ratio (ours / R's; < 1: ours better)")
    print(f"{'':10s}" + "".join(f"{r:>9s}" for r in r_methods))
    for o in ours:
        print(f"{o:10s}" + "".join(
            f"{math.exp(sum(log_ratios[(o, r)]) / len(log_ratios[(o, r)])):9.3f}"
            for r in r_methods))
    print("\nmean MASE: " + "  ".join(f"{m} {sum(v) / len(v):.3f}" for m, v in mase.items()))
    if total:
        print(f"80% intervals (combine) covered {inside} of {total} held-out values "
              f"({100.0 * inside / total:.1f}%)")


if __name__ == "__main__":
    main()
