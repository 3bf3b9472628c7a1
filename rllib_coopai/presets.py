"""Tuned settings ("presets"): they live only in ``tuned_configs/<algorithm>/<name>.yaml``.

Python code that wants a preset (``make train``'s default DCL config, tests, benchmarks) reads the
same YAML file the ``rllib train -f`` command runs, so a preset is written down once::

    from rllib_coopai.presets import preset_config, preset_training
    cfg = preset_config("dcl/prisoners_dilemma_fast", seed=0)     # a checked AlgorithmConfig
    keys = preset_training("dcl/grid_game_fast")                  # its ``config:`` mapping

The directory is ``tuned_configs/`` of the source tree, or ``$RLLIB_COOPAI_TUNED_CONFIGS``.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

TUNED_CONFIGS_ENV = "RLLIB_COOPAI_TUNED_CONFIGS"


def tuned_configs_dir() -> str:
    path = os.environ.get(TUNED_CONFIGS_ENV) or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tuned_configs")
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"no tuned_configs directory at {path!r}: run from a source checkout of rllib_coopai or "
            f"set {TUNED_CONFIGS_ENV} to the directory")
    return path


def names() -> List[str]:
    """Every preset, as ``<algorithm dir>/<file name without .yaml>``."""
    root, out = tuned_configs_dir(), []
    for d in sorted(os.listdir(root)):
        sub = os.path.join(root, d)
        if os.path.isdir(sub):
            out += [f"{d}/{f[:-5]}" for f in sorted(os.listdir(sub)) if f.endswith(".yaml")]
    return out


def preset_path(name: str) -> str:
    """The YAML file of preset ``name`` (``"dcl/prisoners_dilemma_fast"``; ``.yaml`` optional)."""
    name = name[:-5] if name.endswith(".yaml") else name
    path = os.path.join(tuned_configs_dir(), name + ".yaml")
    if not os.path.isfile(path):
        import difflib

        known = names()
        hint = difflib.get_close_matches(name, known, n=1)
        raise ValueError(f"unknown preset {name!r}.{f' Did you mean {hint[0]!r}?' if hint else ''} "
                         f"Known presets: {', '.join(known)}")
    return path


def preset_spec(name: str) -> Tuple[str, Dict[str, Any]]:
    """``(experiment name, experiment mapping)`` of a preset file holding one experiment."""
    from rllib_coopai.cli.experiment import read_file

    path = preset_path(name)
    data = read_file(path)
    if "run" in data or "algo" in data:
        return os.path.splitext(os.path.basename(path))[0], data
    if len(data) != 1:
        raise ValueError(f"preset {name!r} holds {len(data)} experiments ({', '.join(data)}); "
                         "a preset is one experiment")
    return next(iter(data.items()))


def preset_training(name: str) -> Dict[str, Any]:
    """The preset's ``config:`` mapping (a copy)."""
    return dict(preset_spec(name)[1].get("config") or {})


def preset_config(name: str, seed: Optional[int] = None, **overrides):
    """A checked ``AlgorithmConfig`` of the preset (``overrides`` merge into its ``config:``)."""
    from rllib_coopai.cli.experiment import make_experiment

    exp_name, spec = preset_spec(name)
    exp = make_experiment(exp_name, spec, config_overrides=overrides or None, seed=seed,
                          source=preset_path(name))
    return exp.config
