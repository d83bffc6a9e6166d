"""The scripts in examples/python run and succeed (each checks its own result)."""
import os
import subprocess
import sys

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python")


def test_swap_nn_lstm():
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, "swap_nn_lstm.py"), "--steps", "20", "--hidden", "32"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lstm.torch.LSTM" in result.stdout


def test_forecast_csv(tmp_path):
    # The first 300 weeks of data/co2.csv: the rolling-origin validation of the whole series
    # (40 origins, every classical method refitted at each) takes half a minute.
    with open(os.path.join(EXAMPLES, "..", "..", "data", "co2.csv")) as f:
        (tmp_path / "co2.csv").write_text("".join(f.readlines()[:301]))
    out = tmp_path / "f.safetensors"
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, "forecast_csv.py"), "--epochs", "2",
                             "--data", str(tmp_path / "co2.csv"), "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "seasonal_naive" in result.stdout and "rolling origins" in result.stdout and out.exists()
    assert "lower" in result.stdout and "upper" in result.stdout
