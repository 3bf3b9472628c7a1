"""Algorithms of the package, by short name (as used in YAML ``run:`` and Tune).

Entries are ``"module:Class"`` strings imported on first use.
"""
from __future__ import annotations

import difflib
import importlib

# name -> (algorithm class path, config class path, one-line description)
ALGORITHMS = {
    "IPPO": ("rllib_coopai.algorithms.ippo:IPPO", "rllib_coopai.algorithms.ippo:IPPOConfig",
             "Independent PPO, one module per agent (baseline)"),
    "DCL": ("rllib_coopai.algorithms.dcl:DCL", "rllib_coopai.algorithms.dcl:DCLConfig",
            "Differentiable Commitment Learning in Markov Commitment Games (DCL / DCL-IC)"),
    "LIO": ("rllib_coopai.algorithms.lio:LIO", "rllib_coopai.algorithms.lio:LIOConfig",
            "Learning to Incentivize Others: agents pay each other through learned incentive heads"),
    "MetaGrad": ("rllib_coopai.algorithms.incentive_designer:MetaGrad",
                 "rllib_coopai.algorithms.incentive_designer:MetaGradConfig",
                 "Centralized incentive designer trained by meta-gradients through the agents' update"),
    "DualRLDesigner": ("rllib_coopai.algorithms.incentive_designer:DualRLDesigner",
                       "rllib_coopai.algorithms.incentive_designer:DualRLDesignerConfig",
                       "Centralized incentive designer as a PPO agent (dual-RL baseline)"),
    "IncentiveDesigner": ("rllib_coopai.algorithms.incentive_designer:IncentiveDesigner",
                          "rllib_coopai.algorithms.incentive_designer:IncentiveDesignerConfig",
                          "Alias: MetaGrad, or DualRLDesigner with designer: rl"),
    "AMD": ("rllib_coopai.algorithms.amd:AMD", "rllib_coopai.algorithms.amd:AMDConfig",
            "Adaptive mechanism design: a planner that shapes learners' rewards"),
    "LOLAExact": ("rllib_coopai.algorithms.lola:LOLAExact", "rllib_coopai.algorithms.lola:LOLAExactConfig",
                  "LOLA with exact values on iterated matrix games (opponent-learning awareness)"),
    "LOLAPG": ("rllib_coopai.algorithms.lola:LOLAPG", "rllib_coopai.algorithms.lola:LOLAPGConfig",
               "LOLA with policy-gradient estimates (coin games; correction 'none': naive PG)"),
    "AmTFT": ("rllib_coopai.algorithms.amtft:AmTFT", "rllib_coopai.algorithms.amtft:AmTFTConfig",
              "amTFT(w) / norm-adaptive amTFT(W): welfare-cooperative policies enforced by punishment"),
}


# Names kept for existing YAML files: (config key, {value: algorithm}, default value).
ALIASES = {"IncentiveDesigner": ("designer", {"metagrad": "MetaGrad", "rl": "DualRLDesigner"},
                                 "metagrad")}


def resolve_alias(name, config: dict):
    """``(algorithm name, config)`` with an alias (``ALIASES``) replaced by the algorithm its
    config key selects (the key is removed); other names pass unchanged."""
    if name not in ALIASES:
        return name, config
    key, choices, default = ALIASES[name]
    config = dict(config or {})
    value = config.pop(key, default)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: config key {key!r} must be one of {sorted(choices)} (a plain "
                         f"value, not a search space: use the algorithms {sorted(choices.values())} "
                         f"in separate experiments), got {value!r}")
    return choices[value], config


def _load(path: str):
    module, attr = path.split(":")
    return getattr(importlib.import_module(module), attr)


def available() -> list:
    """Names whose implementation is importable in this install."""
    out = []
    for name, (algo, _, _) in ALGORITHMS.items():
        try:
            _load(algo)
        except (ImportError, AttributeError):
            continue
        out.append(name)
    return out


def _check(name: str) -> str:
    if name not in ALGORITHMS:
        hint = difflib.get_close_matches(name, list(ALGORITHMS), n=1)
        extra = f" Did you mean {hint[0]!r}?" if hint else ""
        raise ValueError(f"unknown algorithm {name!r}. Known algorithms: {', '.join(available())}.{extra}")
    return name


def get_algorithm_class(name: str):
    return _load(ALGORITHMS[_check(name)][0])


def get_config_class(name: str):
    return _load(ALGORITHMS[_check(name)][1])


def describe(name: str) -> str:
    return ALGORITHMS[_check(name)][2]
