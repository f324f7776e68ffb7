"""Backtests: what sensors would have done over recorded history (``vidsight sensors
backtest``, the console's "what would this have done")."""

from stream_processors.backtest.report import BacktestReport, RunFigures, SensorResult
from stream_processors.backtest.run import run_backtest
from stream_processors.backtest.settings import BacktestSettings

__all__ = ["BacktestReport", "BacktestSettings", "RunFigures", "SensorResult", "run_backtest"]
