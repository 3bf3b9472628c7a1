"""The cross-play league (`rllib crossplay`, normative-disagreement paper §4.2): checkpoints of three
methods on IAsymBoS, every ordered pair in both seats, checked against a hand-rolled greedy game."""
import json
import os

import numpy as np
import pytest
import torch

from rllib_coopai.cli.main import main
from rllib_coopai.envs.matrix_games import ASYM_BOS_PAYOFFS
from rllib_coopai.metrics.welfare import normalized_score

ENV, H = "iterated_asymmetric_bos", 4


@pytest.fixture(scope="module")
def local_ray():
    """A new local Ray (2 CPUs) even where other Ray instances run on the machine."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def checkpoints(local_ray, tmp_path_factory):
    from rllib_coopai import IPPOConfig
    from rllib_coopai.algorithms.dcl import DCLConfig
    from rllib_coopai.algorithms.lio import LIOConfig

    root = tmp_path_factory.mktemp("league")
    configs = {
        "ippo": IPPOConfig().training(train_batch_size_per_learner=32, minibatch_size=16, num_epochs=1),
        "lio": LIOConfig().training(episodes_per_iteration=2, policy_hiddens=[8], incentive_hiddens=[8]),
        "dcl": DCLConfig(),
    }
    paths = []
    for name, cfg in configs.items():
        algo = (cfg.environment(ENV, env_config={"horizon": H}).env_runners(num_env_runners=0)
                .debugging(seed=0).build_algo())
        try:
            algo.train()
            paths.append(algo.save_to_path(str(root / name)))
        finally:
            algo.stop()
    return paths


def _greedy_payoffs(path0, path1):
    """Per-step payoffs of module 'player_0' of path0 vs 'player_1' of path1, played greedily by hand
    (a DCL module meeting a non-DCL one plays its action policy: nobody commits)."""
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.rl_module.rl_module import RLModule

    mods = [RLModule.from_checkpoint(os.path.join(p, "learner_group", "learner", "rl_module", a))
            for p, a in ((path0, "player_0"), (path1, "player_1"))]
    table = np.array(ASYM_BOS_PAYOFFS, dtype=float)
    obs = np.zeros(5, np.float32)
    obs[4] = 1.0
    total = np.zeros(2)
    for _ in range(H):
        with torch.no_grad():
            acts = [int(m.forward_inference({Columns.OBS: torch.tensor(obs[None])})[Columns.ACTION_DIST_INPUTS]
                        .argmax(-1)) for m in mods]
        total += table[acts[0], acts[1]]
        obs = np.zeros(5, np.float32)
        obs[2 * acts[0] + acts[1]] = 1.0
    return total / H


def test_league_from_the_command_line(checkpoints, tmp_path, capsys):
    out = tmp_path / "league"
    rc = main(["crossplay", *checkpoints, "--welfare", "util,egal", "--episodes", "3", "-o", str(out)])
    assert rc == 0
    for f in ("payoffs.csv", "crossplay.json", "crossplay.png"):
        assert (out / f).stat().st_size > 0
    res = json.loads((out / "crossplay.json").read_text())
    assert [c["algorithm"] for c in res["checkpoints"]] == ["IPPO", "LIO", "DCL"]
    assert res["env"] == ENV and res["disagreement"] == [0.0, 0.0]  # App. B.2 profile of IAsymBoS
    p0, p1 = np.array(res["payoff_seat0"]), np.array(res["payoff_seat1"])
    score = np.array(res["normalized_score"])
    assert p0.shape == p1.shape == score.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            x = (p0[i, j] - p1[i, j]) / 3  # fraction of (B,B) steps; (S,S) gives the rest of p1
            y = (p1[i, j] - x) / 2
            assert x >= -1e-9 and y >= -1e-9 and x + y <= 1 + 1e-9, (i, j)  # a mix of the game's outcomes
            if i == j == 2:
                continue  # DCL self-play negotiates stochastically
            assert [p0[i, j], p1[i, j]] == pytest.approx(_greedy_payoffs(checkpoints[i], checkpoints[j])), (i, j)
    profiles = np.stack([p0, p1], -1)
    assert score == pytest.approx(normalized_score(profiles, ("utilitarian", "egalitarian"), (0.0, 0.0)))
    assert score.max() == pytest.approx(1.0)  # the empirical welfare-optimal pair
    rows = (out / "payoffs.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 9 and sum("self-play" in r for r in rows) == 3
    assert "NormalizedScore" in capsys.readouterr().out


def test_league_bad_input_exits_2(checkpoints, tmp_path, capsys):
    assert main(["crossplay", checkpoints[0], "--welfare", "utilitarianism", "-o", str(tmp_path)]) == 2
    assert "known: egalitarian" in capsys.readouterr().err
    assert main(["crossplay", checkpoints[0], "--env", "coin_game", "-o", str(tmp_path)]) == 2
    assert "built for observations" in capsys.readouterr().err
    assert main(["crossplay", checkpoints[0], "--env", "matching_pennies", "-o", str(tmp_path)]) == 2
    assert "disagreement profile" in capsys.readouterr().err
