"""Cost of DCL's learner connector next to the learner update and the whole iteration, before/after.

    python benchmarks/learner_connector_profile.py                       # Table 5 (one-shot PD)
    python benchmarks/learner_connector_profile.py --preset dcl/grid_game --calls 20 --blocks 2

Builds the preset (default ``tuned_configs/dcl/prisoners_dilemma.yaml``: DCL paper Table 5, 128
one-step episodes per iteration) with ``num_env_runners=0`` and seed 0, samples ONE fixed set of
episodes, and times, on the local learner and with one torch thread, two learner pipelines:

* ``per-episode`` (before issue #28): RLlib's default learner pieces with the per-episode
  ``PerEpisodeJointColumns`` below prepended (the DCL connector as it was);
* ``batched`` (now): ``DCLConfig.build_learner_connector``, ``DCLJointColumns`` alone.

Reported: the pipeline alone on the fixed episodes (median of ``--calls`` calls, the two
alternating), ``Learner.update(batch=...)`` on the built batch with the config's
``num_epochs`` (forward, losses, backward, optimizer steps; alternating too), and ``algo.train()`` (sampling, callbacks, update, weight
sync) with the learner's pipeline swapped between the two in alternating blocks of 5
iterations (``--blocks`` blocks each; medians), as ms and it/s. Checks that both pipelines
give equal DCL columns.
About a minute for the default preset.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from ray.rllib.connectors.connector_v2 import ConnectorV2


class PerEpisodeJointColumns(ConnectorV2):
    """The DCL learner connector before issue #28 (one ``add_n_batch_items`` per episode, agent
    and column; RLlib's default pieces then batch and convert), kept as the baseline of this
    benchmark and as the reference of tests/test_dcl_connector_batch.py."""

    def __init__(self, input_observation_space=None, input_action_space=None, *, gamma: float,
                 agent_ids=None):
        super().__init__(input_observation_space, input_action_space)
        self.gamma = float(gamma)
        self.agent_ids = list(agent_ids) if agent_ids else None

    def __call__(self, *, rl_module, episodes, batch, **kwargs):
        from rllib_coopai.algorithms.dcl.connectors import executed_actions
        from rllib_coopai.core.returns import discounted_returns
        from rllib_coopai.modules.dcl_module import DCL_A, DCL_C, DCL_M

        order = self.agent_ids or rl_module._agent_order()
        for ep in episodes:
            sa = {aid: ep.agent_episodes[aid] for aid in order}
            lengths = {len(e) for e in sa.values()}
            if len(lengths) != 1:
                raise ValueError(f"DCL needs all agents to act in every step; episode lengths {lengths}")
            t = lengths.pop()
            if t == 0:
                continue
            idx = slice(0, t)
            obs = np.concatenate(
                [np.asarray(sa[a].get_observations(idx), np.float32).reshape(t, -1) for a in order], -1)
            m = np.stack([np.asarray(sa[a].get_extra_model_outputs(DCL_M, idx)).reshape(t) for a in order], -1)
            c = np.stack([np.asarray(sa[a].get_extra_model_outputs(DCL_C, idx)).reshape(t) for a in order], -1)
            a_ = np.stack([np.asarray(sa[a].get_extra_model_outputs(DCL_A, idx)).reshape(t) for a in order], -1)
            ret = np.stack([discounted_returns(sa[a].get_rewards(idx), self.gamma) for a in order], -1)
            e = executed_actions(m, c, a_)
            cols = {"dcl_obs": obs, "dcl_joint_m": m.astype(np.int64), "dcl_joint_c": c.astype(np.int64),
                    "dcl_joint_a": a_.astype(np.int64), "dcl_joint_e": e.astype(np.int64),
                    "dcl_joint_returns": ret.astype(np.float32)}
            for aid in order:
                for col, val in cols.items():
                    self.add_n_batch_items(batch=batch, column=col, items_to_add=val, num_items=t,
                                           single_agent_episode=sa[aid])
        return batch


def per_episode_pipeline(config, device=None):
    """The learner pipeline DCL had before issue #28: ``PerEpisodeJointColumns`` followed by
    RLlib's default learner pieces, for ``config`` (a DCLConfig, validated)."""
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

    cfg = config.copy(copy_frozen=False)
    cfg.add_default_connectors_to_learner_pipeline = True
    pipeline = AlgorithmConfig.build_learner_connector(cfg, None, None, device=device)
    pipeline.prepend(PerEpisodeJointColumns(gamma=cfg.gamma))
    return pipeline


def _time_ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return 1000.0 * (time.perf_counter() - t0)


def profile(preset: str = "dcl/prisoners_dilemma", calls: int = 200, blocks: int = 6,
            warmup: int = 5, seed: int = 0):
    import ray
    import torch
    from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch

    import rllib_coopai  # noqa: F401
    from rllib_coopai.presets import preset_config

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    cfg = preset_config(preset, seed=seed, num_env_runners=0)
    algo = cfg.build_algo()
    try:
        for _ in range(warmup):
            algo.train()
        episodes, _ = algo._sample_complete_episodes()  # the fixed set the pipeline timings use
        learner = algo.learner_group._learner
        pipes = {"per-episode": per_episode_pipeline(algo.config, learner._device),
                 "batched": learner._learner_connector}

        def run(pipe):
            return pipe(rl_module=learner.module, batch={}, episodes=episodes, shared_data={},
                        metrics=learner.metrics)

        built = {name: run(p) for name, p in pipes.items()}
        for mid, cols in built["batched"].items():
            for col, val in cols.items():
                if not torch.equal(val, built["per-episode"][mid][col]):
                    raise AssertionError(f"pipelines differ in {mid}/{col}")
        rows = {name: {"columns": sorted(next(iter(b.values())).keys())} for name, b in built.items()}
        times = {name: [] for name in pipes}
        for _ in range(calls):
            for name, p in pipes.items():
                times[name].append(_time_ms(lambda: run(p)))
        timesteps = {"dcl_training_iteration": algo.iteration}
        batches = {name: MultiAgentBatch({mid: SampleBatch(dict(c)) for mid, c in b.items()},
                                         env_steps=sum(len(e) for e in episodes))
                   for name, b in built.items()}
        upd = {name: [] for name in pipes}
        for _ in range(max(10, calls // 4)):
            for name, batch in batches.items():
                upd[name].append(_time_ms(lambda: learner.update(
                    batch=batch, timesteps=timesteps, num_epochs=algo.config.num_epochs,
                    minibatch_size=algo.config.minibatch_size)))
        for name in pipes:
            rows[name].update(connector_ms=statistics.median(times[name]),
                              update_ms=statistics.median(upd[name]))
        iters = {name: [] for name in pipes}
        for _ in range(blocks):
            for name, p in pipes.items():
                learner._learner_connector = p
                iters[name] += [_time_ms(algo.train) for _ in range(5)]
        learner._learner_connector = pipes["batched"]
        for name in pipes:
            rows[name]["iteration_ms"] = statistics.median(iters[name])
            rows[name]["it_per_s"] = 1000.0 / rows[name]["iteration_ms"]
        info = {"preset": preset, "episodes": len(episodes),
                "env_steps": sum(len(e) for e in episodes)}
        return info, rows
    finally:
        algo.stop()
        ray.shutdown()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="dcl/prisoners_dilemma")
    p.add_argument("--calls", type=int, default=200, help="timed pipeline calls each (median)")
    p.add_argument("--blocks", type=int, default=6, help="blocks of 5 timed iterations each")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    info, rows = profile(args.preset, calls=args.calls, blocks=args.blocks, seed=args.seed)
    print(f"\npreset {info['preset']}: {info['episodes']} episodes, {info['env_steps']} env steps "
          "per batch; the two pipelines give equal DCL columns")
    for name, r in rows.items():
        print(f"{name} columns per module: {', '.join(r['columns'])}")
    print("\n| learner pipeline | connector ms | learner update ms | iteration ms | it/s "
          "| connector share |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['connector_ms']:.2f} | {r['update_ms']:.2f} | "
              f"{r['iteration_ms']:.1f} | {r['it_per_s']:.2f} | "
              f"{100.0 * r['connector_ms'] / r['iteration_ms']:.1f} % |")
    return info, rows


if __name__ == "__main__":
    main()
