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
    out = tmp_path / "f.safetensors"
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, "forecast_csv.py"), "--epochs", "2",
                             "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "seasonal_naive" in result.stdout and out.exists()
