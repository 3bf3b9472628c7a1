"""In-process checks of the CLI's pieces (no Ray started): YAML -> config, search spaces, progress
lines, plots from a synthetic result.json."""
import json

import pytest

import rllib_coopai  # noqa: F401  (registers envs and algorithms)
from rllib_coopai.cli.errors import CLIError
from rllib_coopai.cli.experiment import load_experiments, make_experiment
from rllib_coopai.cli.progress import cooperation_metrics, format_progress


def _yaml(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_yaml_maps_onto_algorithm_config(tmp_path):
    path = _yaml(tmp_path, """
exp1:
  run: IPPO
  env: prisoners_dilemma
  stop: {training_iteration: 3, episode_reward_mean: 1.0}
  checkpoint_config: {checkpoint_frequency: 2}
  config:
    lr: 0.002
    share_policy: true
    model_config: {fcnet_hiddens: [8, 8]}
    env_config: {horizon: 3}
    num_workers: 0
""")
    [exp] = load_experiments(path, config_overrides={"env_config": {"horizon": 5}}, seed=7,
                             stop={"timesteps_total": 100})
    cfg = exp.config
    assert type(cfg).__name__ == "IPPOConfig" and exp.run == "IPPO"
    assert cfg.lr == 0.002 and cfg.share_policy is True and cfg.seed == 7
    assert cfg.model_config["fcnet_hiddens"] == [8, 8]
    assert cfg.env == "prisoners_dilemma" and cfg.env_config == {"horizon": 5}  # merged override
    assert cfg.num_env_runners == 0  # old key translated
    # old result keys translated to the new API stack's
    assert exp.stop == {"training_iteration": 3, "env_runners/episode_return_mean": 1.0,
                        "num_env_steps_sampled_lifetime": 100}
    assert exp.checkpoint == {"checkpoint_frequency": 2, "checkpoint_at_end": True}
    assert not exp.is_search


def test_search_spaces_become_tune_objects():
    from ray.tune.search.sample import Categorical, Float

    exp = make_experiment("s", {
        "run": "IPPO", "env": "prisoners_dilemma",
        "config": {"lr": {"grid_search": [1e-3, 1e-4]}, "gamma": {"choice": [0.9, 0.99]},
                   "entropy_coeff": {"uniform": [0.0, 0.01]},
                   "vf_loss_coeff": {"loguniform": [0.1, 1.0]},
                   "env_config": {"horizon": {"grid_search": [1, 2]}}}})
    cfg = exp.config
    assert cfg.lr == {"grid_search": [1e-3, 1e-4]}
    assert isinstance(cfg.gamma, Categorical) and cfg.gamma.categories == [0.9, 0.99]
    assert isinstance(cfg.entropy_coeff, Float) and (cfg.entropy_coeff.lower, cfg.entropy_coeff.upper) == (0.0, 0.01)
    assert "LogUniform" in type(cfg.vf_loss_coeff.sampler).__name__
    assert cfg.env_config == {"horizon": {"grid_search": [1, 2]}}
    assert sorted(exp.search_paths) == sorted([("lr",), ("gamma",), ("entropy_coeff",),
                                               ("vf_loss_coeff",), ("env_config", "horizon")])
    concrete = exp.concrete_config()
    assert concrete.lr == 1e-3 and concrete.env_config == {"horizon": 1} and concrete.gamma == 0.9


@pytest.mark.parametrize("spec, msg", [
    ({"run": "IPPO", "env": "prisoners_dilemma", "config": {"gama": 0.9}}, "Did you mean 'gamma'"),
    ({"run": "IPPO", "env": "prisoners_dilemma", "cofnig": {}}, "Did you mean 'config'"),
    ({"run": "IPPO", "env": "prisoners_dilemma", "config": {"lr": {"uniform": [1.0, 0.1]}}},
     "needs lo < hi"),
    ({"run": "IPPO", "env": "prisoners_dilemma", "config": {"gamma": 1.5}}, "must be in [0.0, 1.0]"),
    ({"run": "IPPO", "env": "prisoners_dilemma",
      "checkpoint_config": {"checkpoint_freqency": 3}}, "Did you mean 'checkpoint_frequency'"),
    ({"run": "IPPO", "env": "CartPol-v1"}, "Did you mean 'CartPole-v1'"),
    ({"run": "PPO"}, "no environment"),
    ({"run": "ppo", "env": "CartPole-v1"}, "Did you mean 'PPO'"),
])
def test_bad_experiments_name_the_problem(spec, msg):
    with pytest.raises(CLIError) as err:
        make_experiment("x", spec)
    assert msg in str(err.value)


def test_rllib_builtin_algorithm_with_gymnasium_env():
    exp = make_experiment("cp", {"run": "PPO", "env": "CartPole-v1",
                                 "config": {"lr": 1e-3, "num_env_runners": 0}})
    assert type(exp.config).__name__ == "PPOConfig" and exp.config.env == "CartPole-v1"


RESULT = {
    "training_iteration": 4, "time_total_s": 12.5, "num_env_steps_sampled_lifetime": 2048,
    "env_runners": {
        "episode_return_mean": -2.5, "social_welfare": -2.5, "cooperation_rate": 0.25,
        "agent_returns": {"player_0": -1.0, "player_1": -1.5}, "agreement_rate": 0.75,
        "incentives_given": {"player_0": 0.1, "player_1": 0.3, "all": 0.4},
        "episode_len_mean": 1.0, "num_episodes": 64, "module_episode_returns_mean": {"a": 1},
    },
    "learners": {"__all_modules__": {"incentive_cost": 0.02, "num_env_steps_trained": 5},
                 "player_0": {"policy_loss": 0.3, "temperature": 3.0}},
}


def test_progress_line_shows_cooperation_and_method_metrics():
    line = format_progress(RESULT, prefix="[t] ")
    assert line.startswith("[t] iter 4 |") and "12.5s" in line and "2,048 steps" in line
    for part in ("return -2.5", "SW -2.5", "coop 0.25", "R:player_0 -1", "R:player_1 -1.5",
                 "agreement_rate 0.75", "incentives_given 0.4", "incentive_cost 0.02",
                 "temperature[player_0] 3"):
        assert part in line, (part, line)
    assert "episode_len" not in line and "num_episodes" not in line and "policy_loss" not in line
    # Tune's flattened results give the same metrics
    flat = {"training_iteration": 4, "env_runners/social_welfare": -2.5,
            "env_runners/agent_returns/player_0": -1.0}
    assert cooperation_metrics(flat) == {"social_welfare": -2.5, "agent_returns/player_0": -1.0}


def test_plot_from_result_json(tmp_path):
    from rllib_coopai.cli.plot import plot_run

    trial = tmp_path / "exp" / "trial_0"
    trial.mkdir(parents=True)
    with open(trial / "result.json", "w") as f:
        for i in range(1, 6):
            r = json.loads(json.dumps(RESULT))
            r["training_iteration"] = i
            r["num_env_steps_sampled_lifetime"] = 512 * i
            r["env_runners"]["social_welfare"] = -4 + i
            f.write(json.dumps(r) + "\n")
    out = plot_run(str(tmp_path / "exp"), str(tmp_path / "c.png"))
    assert open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CLIError, match="no progress.csv or result.json"):
        plot_run(str(empty), str(tmp_path / "d.png"))
    with pytest.raises(CLIError, match="does not exist"):
        plot_run(str(tmp_path / "missing"), str(tmp_path / "d.png"))
