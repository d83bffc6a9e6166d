"""lstm.GlobalForecaster: one model of several series (the CLI's `lstm train --task forecast
--target a,b,c | --series-column id`), for pandas users: fit on a wide DataFrame (one column per
series) or a long one (a series id column and a value column) or a CSV path; predict() gives a
long DataFrame with every series' forecast, its interval and the model chosen per series."""
import io
import json
import os
import tempfile

from . import _lstm
from ._forecaster import _ForecasterBase, _checked_choice


class GlobalForecaster(_ForecasterBase):
    """A global model of several series with the CLI's defaults (hidden 64, 200 epochs with
    early stopping, validation on the last 20% of each series, each series normalised on its own
    training part). `model_choice` and `interval` are `lstm forecast`'s, applied per series."""

    _csv = None  # the fitted data as CSV text, to forecast after by default (set by fit())

    @staticmethod
    def _as_csv(data, targets, series_column, target):
        """(csv text or path, columns, series_column, value_column) for the engine."""
        if isinstance(data, (str, os.PathLike)):
            path = os.fspath(data)
            if not os.path.isfile(path):
                raise FileNotFoundError(2, "No such file", path)
            if series_column is None and not targets:
                raise ValueError("targets: fitting on a wide CSV file needs targets=[COLUMN, ...] "
                                 "(or series_column= and target= for a long one)")
            return None, path, list(targets or []), series_column or "", target or ""
        import pandas as pd
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"data: expected a CSV path or a pandas DataFrame, got {type(data).__name__}")
        if series_column is not None:
            if target is None:
                raise ValueError("target: a long DataFrame needs target=VALUE_COLUMN")
            frame = data.reset_index() if data.index.name is not None else data
            return frame.to_csv(index=False), None, [], str(series_column), str(target)
        columns = [str(c) for c in (targets if targets is not None else data.columns)]
        if len(columns) < 1:
            raise ValueError("targets: no series")
        keep_index = isinstance(data.index, pd.DatetimeIndex) or data.index.name is not None
        frame = data.rename(columns=str)[columns]
        return frame.to_csv(index=keep_index, index_label=data.index.name or "date"), None, columns, "", ""

    def fit(self, data, targets=None, series_column=None, target=None):
        """Trains one model on every series of `data`: a wide DataFrame (`targets`: its series
        columns, default all; a DatetimeIndex or a named index is the date), a long DataFrame
        (`series_column` and `target`, the value column; the first other column is the date) or
        a CSV path (wide with `targets`, long with `series_column` and `target`)."""
        text, path, columns, series_column, value_column = self._as_csv(data, targets, series_column, target)
        with tempfile.TemporaryDirectory() as directory:
            if text is not None:
                path = os.path.join(directory, "series.csv")
                with open(path, "w") as f:
                    f.write(text)
            self._model = _lstm.multi_series_fit(path, columns, series_column, value_column, "",
                                                  **self.options)
            with open(path) as f:
                self._csv = f.read()
        return self

    @property
    def series_names(self):
        return list(self._require_model().names)

    def _with_file(self, data, action):
        model = self._require_model()
        if data is None:
            if self._csv is None:
                raise ValueError("data: a loaded GlobalForecaster needs the series to forecast after")
            text = self._csv
        elif isinstance(data, (str, os.PathLike)):
            return action(model, os.fspath(data))
        elif model.is_long:  # a long DataFrame with the model's id, date and value columns
            text = (data.reset_index() if data.index.name is not None else data).to_csv(index=False)
        else:
            text = self._as_csv(data, model.names, None, None)[0]
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "series.csv")
            with open(path, "w") as f:
                f.write(text)
            return action(model, path)

    def predict(self, steps, data=None, model_choice=None, interval=None):
        """A long DataFrame, one row per series and step: the series id, the future date (or
        step), the value, `lower`, `upper` and `model` (what produced the numbers), as `lstm
        forecast` writes it. `data`: the series to forecast after (default: the fitted ones)."""
        import pandas as pd
        choice, level = _checked_choice(model_choice or self.model_choice,
                                        self.interval if interval is None else interval)
        csv = self._with_file(data, lambda m, path: m.forecast_csv(path, int(steps), choice, level))
        frame = pd.read_csv(io.StringIO(csv), dtype={0: str})
        return frame

    def evaluate(self, data=None, horizon=0):
        """`lstm eval`'s JSON as a dict: per series and aggregate metrics."""
        return json.loads(self._with_file(data, lambda m, path: m.evaluate_json(path, int(horizon))))

    def save(self, path):
        self._require_model().save(os.fspath(path))

    @classmethod
    def load(cls, path):
        forecaster = cls()
        forecaster._model = _lstm.multi_series_load(os.fspath(path))
        return forecaster
