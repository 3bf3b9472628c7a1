"""Every YAML file in tuned_configs/ (globbed now, so files added later are covered) parses with
the CLI's loader, names its source table in a comment, builds its algorithm and runs one training
iteration on the smallest setting (tiny batches, num_env_runners=0, via the CLI's override
mechanism: ``load_experiments(..., config_overrides=...)``)."""
import glob
import os

import pytest

import rllib_coopai  # noqa: F401
from rllib_coopai.cli.experiment import make_experiment, read_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = sorted(glob.glob(os.path.join(ROOT, "tuned_configs", "**", "*.yaml"), recursive=True)
               + glob.glob(os.path.join(ROOT, "tuned_configs", "**", "*.yml"), recursive=True))

# Batch-like keys are shrunk (never grown) where a file sets them; resources always go local.
SHRINK = {"train_batch_size_per_learner": 64, "train_batch_size": 64, "minibatch_size": 32,
          "num_epochs": 1, "episodes_per_iteration": 1, "batch_size": 64}
ALWAYS = {"num_env_runners": 0, "num_learners": 0, "num_gpus_per_learner": 0,
          "evaluation_interval": None}


def smoke_overrides(cfg):
    out = dict(ALWAYS)
    for key, small in SHRINK.items():
        value = cfg.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = min(value, small)
    return out


def test_the_ippo_baselines_exist():
    names = {os.path.relpath(f, os.path.join(ROOT, "tuned_configs")) for f in FILES}
    for env in ("prisoners_dilemma", "grid_game", "escape_room", "cleanup"):
        assert f"ippo/{env}.yaml" in names


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_tuned_config_builds_and_trains_one_iteration(path, ray_session):
    head = open(path, encoding="utf-8").read().splitlines()
    comments = [ln for ln in head if ln.lstrip().startswith("#")]
    assert any(("Table" in ln or "§" in ln) for ln in comments), \
        f"{path}: add a comment naming the paper table the values come from"
    data = read_file(path)
    if "run" in data or "algo" in data:
        data = {os.path.splitext(os.path.basename(path))[0]: data}
    for name, spec in data.items():
        exp = make_experiment(name, spec, config_overrides=smoke_overrides(spec.get("config") or {}),
                              source=path)
        assert exp.stop, f"{path}: experiment {name!r} has no stop criterion"
        algo = exp.concrete_config().build_algo()
        try:
            result = algo.train()
        finally:
            algo.stop()
        assert result["training_iteration"] == 1
        assert result["num_env_steps_sampled_lifetime"] > 0
