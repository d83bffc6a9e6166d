"""lstm.GlobalForecaster: one model of three related series from a wide and a long DataFrame
gives the same forecasts as `lstm forecast` on the same data and seed (the CLI is the
reference); evaluate() has per-series and aggregate metrics; save/load round-trips; bad input."""
import os
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import lstm

CLI = os.environ.get("LSTM_CLI") or shutil.which("lstm")
needs_cli = pytest.mark.skipif(CLI is None, reason="the lstm CLI is not built (LSTM_CLI)")


def wide_frame(rows=72):
    t = np.arange(rows)
    shape = np.sin(2 * np.pi * t / 12) + 0.05 * np.random.default_rng(0).standard_normal((3, rows))
    data = {name: level + scale * shape[k] for k, (name, level, scale)
            in enumerate([("a", 10, 1), ("b", 50, 5), ("c", 300, 20)])}
    index = pd.date_range("2000-01-01", periods=rows, freq="MS", name="date")
    return pd.DataFrame(data, index=index).round(6)


def long_frame(wide):
    return wide.reset_index().melt(id_vars="date", var_name="id", value_name="value")[["id", "date", "value"]]


OPTIONS = dict(hidden_size=8, epochs=3, seed=3)


@needs_cli
def test_wide_and_long_frames_match_the_cli(tmp_path):
    wide = wide_frame()
    forecaster = lstm.GlobalForecaster(**OPTIONS).fit(wide)
    assert forecaster.series_names == ["a", "b", "c"]
    predicted = forecaster.predict(6)
    assert list(predicted.columns) == ["series", "date", "value", "lower", "upper", "model"]
    assert len(predicted) == 18 and list(predicted["series"][:1]) == ["a"]
    long_predicted = lstm.GlobalForecaster(**OPTIONS).fit(long_frame(wide), series_column="id", target="value").predict(6)
    assert list(long_predicted.columns) == ["id", "date", "value", "lower", "upper", "model"]
    np.testing.assert_array_equal(predicted["value"].to_numpy(), long_predicted["value"].to_numpy())
    # The CLI on the same data and seed.
    wide.to_csv(tmp_path / "wide.csv", index_label="date")
    subprocess.run([CLI, "train", "--task", "forecast", "--data", str(tmp_path / "wide.csv"), "--target", "a,b,c",
                    "--out", str(tmp_path / "m.safetensors"), "--epochs", "3", "--hidden", "8", "--seed", "3",
                    "--quiet"], check=True)
    subprocess.run([CLI, "forecast", "--model", str(tmp_path / "m.safetensors"), "--data", str(tmp_path / "wide.csv"),
                    "--steps", "6", "--quiet", "--output", str(tmp_path / "f.csv")], check=True, capture_output=True)
    expected = pd.read_csv(tmp_path / "f.csv")
    np.testing.assert_allclose(predicted["value"].to_numpy(), expected["value"].to_numpy(), rtol=1e-7)
    assert list(predicted["model"]) == list(expected["model"])

    report = forecaster.evaluate(horizon=6)
    assert report["series_count"] == 3 and [s["series"] for s in report["series"]] == ["a", "b", "c"]
    assert report["aggregate"]["rolling"]["models"]["lstm"]["series"] == 3
    forecaster.save(tmp_path / "g.safetensors")
    loaded = lstm.GlobalForecaster.load(tmp_path / "g.safetensors")
    with pytest.raises(ValueError, match="needs the series"):
        loaded.predict(3)
    again = loaded.predict(6, data=wide)
    np.testing.assert_array_equal(again["value"].to_numpy(), predicted["value"].to_numpy())


def test_bad_input():
    wide = wide_frame(30)
    with pytest.raises(ValueError, match="series 'tiny'.*too short"):
        frame = long_frame(wide_frame())
        tiny = pd.DataFrame({"id": "tiny", "date": frame["date"][:8], "value": 1.0})
        lstm.GlobalForecaster(**OPTIONS).fit(pd.concat([frame, tiny]), series_column="id", target="value")
    with pytest.raises(ValueError, match="target"):
        lstm.GlobalForecaster(**OPTIONS).fit(long_frame(wide), series_column="id")
    with pytest.raises(ValueError, match="not fitted"):
        lstm.GlobalForecaster().predict(3)
