"""rllib_coopai: multi-agent incentive and commitment learning on Ray RLlib.

Importing the package registers every environment (``rllib_coopai.envs.names()``) with
``ray.tune.registry.register_env`` and every algorithm (``"IPPO"``, ``"DCL"``, ``"LIO"``,
``"IncentiveDesigner"``, ``"AMD"``) with ``ray.tune.register_trainable``.
"""
from __future__ import annotations

__version__ = "0.1.0"

from rllib_coopai import envs  # noqa: E402  (no Ray import)


def _env_creator(name):
    def create(env_config=None):
        from rllib_coopai.wrappers.rllib_env import RLlibParallelEnv

        return RLlibParallelEnv(envs.make(name, **dict(env_config or {})))

    create.__name__ = f"make_{name}"
    return create


def register_all() -> None:
    """(Re-)register the package's environments and algorithms with Ray Tune."""
    from ray.tune import register_trainable
    from ray.tune.registry import register_env

    from rllib_coopai import algorithms

    for name in envs.names():
        register_env(name, _env_creator(name))
    for name in algorithms.available():
        register_trainable(name, algorithms.get_algorithm_class(name))


register_all()

from rllib_coopai.algorithms.ippo import IPPO, IPPOConfig  # noqa: E402
from rllib_coopai.metrics import CoopMetricsCallback  # noqa: E402

__all__ = ["envs", "register_all", "IPPO", "IPPOConfig", "CoopMetricsCallback", "__version__"]
