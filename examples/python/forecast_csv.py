"""Forecasting a CSV series with lstm.Forecaster (what `lstm train --task forecast` and
`lstm forecast` do, from Python): fit, compare with the baselines, forecast, save.
Run:  PYTHONPATH=build/python /usr/bin/python3 examples/python/forecast_csv.py [--epochs N]
"""
import argparse
import os

import pandas as pd

import lstm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(ROOT, "data", "co2.csv"))
    parser.add_argument("--target", default="co2")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--out", default="co2_forecaster.safetensors")
    args = parser.parse_args()

    series = pd.read_csv(args.data)  # any pandas Series or DataFrame works too
    print(f"{args.data}: {len(series)} rows")
    forecaster = lstm.Forecaster(epochs=args.epochs, time_limit=args.time_limit)
    forecaster.fit(args.data, target=args.target)
    m = forecaster.metrics_
    print(f"stopped after {m['epochs']} epoch(s) ({m['stop']}); validation, original units:")
    for name in ("model", "naive", "seasonal_naive"):
        if name in m:
            print(f"  {name:15s} RMSE {m[name]['rmse']:.4f}  MAE {m[name]['mae']:.4f}  MASE {m[name]['mase']:.3f}")
    rolling = m["rolling"]
    if rolling:  # what `lstm train` prints: H-step forecasts from rolling origins, every method
        print(f"{rolling['horizon']}-step forecasts from {rolling['origins']} rolling origins:")
        for name, scores in rolling["models"].items():
            print(f"  {name:34s} MASE {scores['mase']:.3f}  sMAPE {scores['smape']:.2f}%  RMSE {scores['rmse']:.4f}")
        print(f"  best: {rolling['best']}; lstm forecast would use {rolling['chosen']}")
    # The next 10 weeks as `lstm forecast` writes them: the mean of the three models with the
    # lowest validation MASE (model_choice="combine"), and an 80% conformal interval.
    print(forecaster.predict(10).to_string())
    forecaster.save(args.out)
    print(f"saved to {args.out} (lstm forecast --model {args.out} reads it)")


if __name__ == "__main__":
    main()
