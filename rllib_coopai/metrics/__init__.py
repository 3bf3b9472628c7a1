"""Episode callbacks and welfare functions."""
from rllib_coopai.metrics.callbacks import CoopMetricsCallback
from rllib_coopai.metrics.welfare import (
    egalitarian_welfare,
    equality,
    nash_welfare,
    social_welfare,
    utilitarian_welfare,
)

__all__ = [
    "CoopMetricsCallback",
    "social_welfare",
    "utilitarian_welfare",
    "egalitarian_welfare",
    "nash_welfare",
    "equality",
]
