"""``rllib crossplay``: the cross-play league (normative-disagreement paper §4.2, App. B.2).

Given checkpoints of any of the package's algorithms (IPPO, LIO, DCL, the designers, ...) on one
2-player environment, every ordered pair (A, B) plays ``episodes`` episodes with A's policy in
seat 0 (A's module for the env's first agent) and B's policy in seat 1 (B's module for the second
agent); pairs with A = B are self-play, the others cross-play. The rows of the league (one seat-0
checkpoint against all) run in parallel as Ray tasks.

Output (``out_dir``): ``payoffs.csv`` (one row per ordered pair: per-step mean payoff of each
seat, episode returns and their standard errors, NormalizedScore), ``crossplay.json`` (the same
plus the matrices, W and the disagreement profile) and ``crossplay.png`` (heat maps of the
NormalizedScore and of each seat's payoff, rows = seat-0 checkpoint, columns = seat-1).

NormalizedScore(pi) = max_{w in W} [w(pi) - w(pi^d)] / [max_{pi'} w(pi') - w(pi^d)] is computed
on per-step mean payoffs, as in the authors' code, with max_{pi'} w the empirical maximum over all
evaluated pairs (or the ``maxima`` given) and pi^d the disagreement profile of App. B.2
(``DISAGREEMENT_PROFILES``; other envs need ``disagreement``).

How modules of two checkpoints are paired:

* Each seat plays its own checkpoint's module, with the observation preprocessing of the
  package's shared encoders; the modules' observation and action spaces must match the env's.
* Two DCL checkpoints play the full Markov Commitment Game protocol (DCL paper §2): each agent
  proposes, commits and acts with its own checkpoint's networks, which is meaningful per agent.
* DCL against a non-DCL checkpoint: the other policy has no proposal or commitment, i.e. it never
  commits, so by the MCG deal rule every step executes the independent actions; the DCL seat plays
  its action policy pi^i(a | s).
* An algorithm that adds its own env-to-module connector (LIO's given-incentives observation in
  Escape Room's ``obs_mode="lio"``) can only meet checkpoints of the same algorithm.
"""
from __future__ import annotations

import csv
import json
import os
import pickle
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from rllib_coopai.cli.errors import CLIError
from rllib_coopai.cli.evaluate import _CTOR_FILE, find_checkpoint

#: Per-step payoff profile of cooperation failure (normative-disagreement paper App. B.2).
DISAGREEMENT_PROFILES = {
    "prisoners_dilemma": (-3.0, -3.0),
    "iterated_prisoners_dilemma": (-3.0, -3.0),
    "asymmetric_bach_or_stravinsky": (0.0, 0.0),
    "iterated_asymmetric_bos": (0.0, 0.0),
    "bach_or_stravinsky": (0.0, 0.0),
    "pure_coordination": (0.0, 0.0),
    "coin_game": (0.0, 0.0),
    "asymmetric_coin_game": (0.0, 0.0),
}


@dataclass
class Player:
    """One checkpoint of the league."""

    checkpoint: str
    label: str
    algorithm: str
    env: object
    env_config: dict = field(default_factory=dict)


def checkpoint_config(checkpoint: str):
    """The ``AlgorithmConfig`` a checkpoint was built with, without building the algorithm."""
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

    with open(os.path.join(checkpoint, _CTOR_FILE), "rb") as f:
        ctor = pickle.load(f)
    state = ctor["ctor_args_and_kwargs"][0]
    state = state[0] if isinstance(state, (list, tuple)) else state
    return AlgorithmConfig.from_state(state) if isinstance(state, dict) else state


def load_players(paths: Sequence[str]) -> List[Player]:
    players, seen = [], {}
    for path in paths:
        ckpt = find_checkpoint(path)
        cfg = checkpoint_config(ckpt)
        algo = cfg.algo_class.__name__ if cfg.algo_class is not None else type(cfg).__name__
        base = os.path.basename(os.path.dirname(ckpt)) if os.path.basename(ckpt).startswith(
            "checkpoint_") else os.path.basename(ckpt)
        label = f"{algo}:{base}"
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label}#{seen[label]}"
        players.append(Player(ckpt, label, algo, cfg.env, dict(cfg.env_config or {})))
    return players


def league_env(players: Sequence[Player], env=None, env_config=None):
    """The env the league plays: ``env`` if given, else the checkpoints' common env."""
    if env is None:
        specs = {(str(p.env), json.dumps(p.env_config, sort_keys=True, default=str)) for p in players}
        if len(specs) != 1:
            listing = "; ".join(f"{p.label}: {p.env} {p.env_config}" for p in players)
            raise CLIError(f"the checkpoints were trained on different envs ({listing}); pass --env "
                           "(and --env-config) to choose the one the league plays.")
        env, cfg = players[0].env, dict(players[0].env_config)
    else:
        cfg = {}
    if env_config:
        cfg.update(env_config)
    if not isinstance(env, str):
        raise CLIError(f"the league needs a registered env name or class path, got {env!r}; pass --env.")
    return env, cfg


def _seat_module(player: Player, cfg, agent_id: str, seat: int):
    from ray.rllib.core.rl_module.rl_module import RLModule

    try:
        mid = cfg.policy_mapping_fn(agent_id, None)
    except Exception as e:  # noqa: BLE001 - a mapping that needs a real episode
        raise ValueError(f"{player.label}: cannot map agent {agent_id!r} to a module without an episode "
                         f"({type(e).__name__}: {e})") from e
    path = os.path.join(player.checkpoint, "learner_group", "learner", "rl_module", str(mid))
    if not os.path.isdir(path):
        raise ValueError(f"{player.label}: no module {mid!r} (agent {agent_id!r}, seat {seat}) in "
                         f"{os.path.dirname(path)}")
    return RLModule.from_checkpoint(path)


def play_pair(seat0: Player, seat1: Player, env: str, env_config: dict, episodes: int,
              seed: Optional[int] = 0, explore: bool = False) -> Dict[str, list]:
    """Roll out ``episodes`` episodes with ``seat0``'s policy for agent 0 and ``seat1``'s for agent 1.

    Returns ``{"returns": [[R_0, R_1], ...], "lengths": [T, ...]}`` (undiscounted episode returns).
    """
    import rllib_coopai  # noqa: F401  (registers envs and algorithms in a Ray worker)
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModule, MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.env.env_context import EnvContext
    from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner

    from rllib_coopai.algorithms.common import CoopConfigMixin, agent_to_own_module, env_creator_for
    from rllib_coopai.modules.dcl_module import DCLMultiRLModule, DCLTorchRLModule
    from rllib_coopai.modules.encoders import module_observation_space

    probe = env_creator_for(env)(EnvContext(dict(env_config), worker_index=0))
    try:
        agents = list(probe.possible_agents)
        spaces = {a: (module_observation_space(probe.observation_spaces[a]), probe.action_spaces[a])
                  for a in agents}
    finally:
        probe.close()
    if len(agents) != 2:
        raise ValueError(f"the cross-play league seats 2 players; env {env!r} has agents {agents}")
    configs = [checkpoint_config(p.checkpoint) for p in (seat0, seat1)]
    modules = {}
    for seat, (player, cfg, agent) in enumerate(zip((seat0, seat1), configs, agents)):
        mod = _seat_module(player, cfg, agent, seat)
        obs_space, act_space = spaces[agent]
        if mod.observation_space != obs_space or mod.action_space != act_space:
            raise ValueError(f"{player.label}'s module for seat {seat} was built for observations "
                             f"{mod.observation_space} / actions {mod.action_space}, but agent {agent!r} of "
                             f"{env!r} {env_config} has {obs_space} / {act_space}")
        if isinstance(mod, DCLTorchRLModule) and int(mod.model_config.get("agent_index", seat)) != seat:
            raise ValueError(f"{player.label}: its DCL module for agent {agent!r} plays index "
                             f"{mod.model_config['agent_index']}, not seat {seat}")
        modules[agent] = mod
    connectors = [c._env_to_module_connector for c in configs]
    connector = None
    if any(c is not None for c in connectors):
        if seat0.algorithm != seat1.algorithm:
            own = seat0 if connectors[0] is not None else seat1
            raise ValueError(f"{own.label} adds its own env-to-module connector ({own.algorithm}), so it "
                             f"can only meet checkpoints of {own.algorithm}; got {seat0.label} vs {seat1.label}")
        connector = connectors[0]
    both_dcl = all(isinstance(m, DCLTorchRLModule) for m in modules.values())

    class LeagueConfig(CoopConfigMixin, AlgorithmConfig):
        def __init__(self):
            super().__init__()
            self._init_coop()

        def get_default_rl_module_spec(self):
            return RLModuleSpec()  # never used: every module comes from a checkpoint

    config = (
        LeagueConfig()
        .environment(env, env_config=dict(env_config))
        .multi_agent(policies=set(agents), policy_mapping_fn=agent_to_own_module)
        .rl_module(rl_module_spec=MultiRLModuleSpec(
            multi_rl_module_class=DCLMultiRLModule if both_dcl else MultiRLModule,
            rl_module_specs={a: RLModuleSpec.from_module(modules[a]) for a in agents}))
        .env_runners(num_env_runners=0, num_envs_per_env_runner=1, explore=explore,
                     env_to_module_connector=connector)
        .debugging(seed=seed)
    )
    runner = MultiAgentEnvRunner(config=config)
    try:
        for a in agents:  # the checkpoints' trained modules replace the freshly built ones
            runner.module.add_module(a, modules[a], override=True)
        eps = runner.sample(num_episodes=episodes, explore=explore, force_reset=True)
    finally:
        runner.stop()
    done = [e for e in eps if e.is_done]
    returns = [[float(e.agent_episodes[a].get_return()) for a in agents] for e in done]
    return {"returns": returns, "lengths": [len(e) for e in done]}


def play_row(seat0: Player, partners: Sequence[Player], env: str, env_config: dict, episodes: int,
             seed: Optional[int] = 0, explore: bool = False) -> List[Dict[str, list]]:
    """``play_pair(seat0, b, ...)`` for every ``b`` of ``partners`` (one Ray task per row of the
    league: a worker pays the imports once, not once per pair)."""
    return [play_pair(seat0, b, env, env_config, episodes, seed, explore) for b in partners]


def run_league(paths: Sequence[str], *, env: Optional[str] = None, env_config: Optional[dict] = None,
               episodes: int = 10, welfare: Sequence[str] = ("utilitarian", "egalitarian"),
               disagreement: Optional[Sequence[float]] = None, maxima: Optional[Sequence[float]] = None,
               out_dir: str = "crossplay", seed: Optional[int] = 0, explore: bool = False,
               plot: bool = True) -> dict:
    """Play every ordered pair of ``paths`` (both seats, self-play included) on Ray; write
    ``payoffs.csv``, ``crossplay.json`` and ``crossplay.png`` to ``out_dir``; return the results."""
    import ray

    from rllib_coopai.metrics.welfare import get_welfare, normalized_score, welfare_name

    if episodes < 1:
        raise CLIError(f"--episodes must be >= 1, got {episodes}.")
    if len(paths) < 1:
        raise CLIError("give at least one checkpoint.")
    try:
        names = [welfare_name(w) for w in welfare]
        for w in welfare:
            get_welfare(w)
    except ValueError as e:
        raise CLIError(f"--welfare: {e}") from None
    if not names:
        raise CLIError("--welfare needs at least one welfare function (e.g. util,egal).")
    players = load_players(paths)
    env, env_config = league_env(players, env, env_config)
    if disagreement is None:
        if env not in DISAGREEMENT_PROFILES:
            raise CLIError(f"no disagreement profile known for env {env!r} (known: "
                           f"{', '.join(sorted(DISAGREEMENT_PROFILES))}); pass --disagreement D0,D1 "
                           "(the per-step payoffs of cooperation failure).")
        disagreement = DISAGREEMENT_PROFILES[env]
    if len(disagreement) != 2:
        raise CLIError(f"--disagreement needs 2 per-step payoffs, got {list(disagreement)}.")
    if maxima is not None and len(maxima) != len(names):
        raise CLIError(f"--maxima needs one value per welfare function ({names}), got {list(maxima)}.")
    if not ray.is_initialized():
        ray.init(address="local", include_dashboard=False, log_to_driver=False)
    task = ray.remote(num_cpus=1)(play_row)
    K = len(players)
    pairs = [(i, j) for i in range(K) for j in range(K)]
    refs = [task.remote(players[i], players, env, env_config, episodes, seed, explore) for i in range(K)]
    try:
        outs = [out for row in ray.get(refs) for out in row]
    except ray.exceptions.RayTaskError as e:
        cause = e.cause if getattr(e, "cause", None) is not None else e
        if isinstance(cause, ValueError):
            raise CLIError(str(cause)) from None
        raise
    per_step = np.zeros((K, K, 2))
    ret_mean, ret_se = np.zeros((K, K, 2)), np.zeros((K, K, 2))
    for (i, j), out in zip(pairs, outs):
        R = np.asarray(out["returns"], dtype=np.float64).reshape(-1, 2)
        L = np.asarray(out["lengths"], dtype=np.float64)
        per_step[i, j] = R.sum(0) / L.sum()
        ret_mean[i, j] = R.mean(0)
        ret_se[i, j] = R.std(0, ddof=1) / np.sqrt(len(R)) if len(R) > 1 else 0.0
    try:
        score = normalized_score(per_step, names, disagreement, reference=per_step.reshape(-1, 2), maxima=maxima)
    except ValueError as e:
        raise CLIError(f"NormalizedScore: {e}") from None
    labels = [p.label for p in players]
    diag = np.eye(K, dtype=bool)
    result = {
        "env": env, "env_config": env_config, "episodes": episodes, "seed": seed, "explore": explore,
        "welfare": names, "disagreement": list(map(float, disagreement)),
        "maxima": None if maxima is None else list(map(float, maxima)),
        "checkpoints": [{"label": p.label, "algorithm": p.algorithm, "path": p.checkpoint} for p in players],
        "payoff_seat0": per_step[..., 0].tolist(), "payoff_seat1": per_step[..., 1].tolist(),
        "return_mean": ret_mean.tolist(), "return_se": ret_se.tolist(),
        "normalized_score": score.tolist(),
        "self_play_score": float(score[diag].mean()),
        "cross_play_score": float(score[~diag].mean()) if K > 1 else None,
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "crossplay.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(out_dir, "payoffs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["seat0", "seat1", "kind", "payoff_seat0", "payoff_seat1", "return_seat0",
                    "return_seat1", "return_se_seat0", "return_se_seat1", "normalized_score"])
        for i, j in pairs:
            w.writerow([labels[i], labels[j], "self-play" if i == j else "cross-play",
                        *per_step[i, j], *ret_mean[i, j], *ret_se[i, j], score[i, j]])
    if plot:
        plot_league(result, labels, os.path.join(out_dir, "crossplay.png"))
    return result


def plot_league(result: dict, labels: List[str], path: str) -> str:
    """Heat maps: NormalizedScore, seat-0 payoff and seat-1 payoff (rows seat 0, columns seat 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    K = len(labels)
    panels = [("NormalizedScore (W = {" + ", ".join(result["welfare"]) + "})", result["normalized_score"]),
              ("seat-0 payoff per step", result["payoff_seat0"]),
              ("seat-1 payoff per step", result["payoff_seat1"])]
    fig, axes = plt.subplots(1, 3, figsize=(5 + 3.2 * K, 1.5 + 1.0 * K), squeeze=False)
    for ax, (title, mat) in zip(axes[0], panels):
        m = np.asarray(mat)
        im = ax.imshow(m, cmap="viridis")
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(K), labels, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(K), labels, fontsize=7)
        ax.set_xlabel("seat 1")
        ax.set_ylabel("seat 0")
        for i in range(K):
            for j in range(K):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", color="w", fontsize=7)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"cross-play on {result['env']} ({result['episodes']} episodes per pair)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
