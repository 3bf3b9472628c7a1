"""Episode callbacks and welfare functions."""
from rllib_coopai.metrics.callbacks import CoopMetricsCallback
from rllib_coopai.metrics.designer import DesignerMetricsCallback
from rllib_coopai.metrics.welfare import (
    egalitarian_welfare,
    equality,
    get_welfare,
    inequity_averse_agent_rewards,
    inequity_averse_welfare,
    kalai_smorodinsky_welfare,
    nash_welfare,
    normalized_score,
    social_welfare,
    utilitarian_welfare,
)

__all__ = [
    "CoopMetricsCallback",
    "DesignerMetricsCallback",
    "social_welfare",
    "utilitarian_welfare",
    "egalitarian_welfare",
    "nash_welfare",
    "kalai_smorodinsky_welfare",
    "inequity_averse_welfare",
    "inequity_averse_agent_rewards",
    "normalized_score",
    "get_welfare",
    "equality",
]
