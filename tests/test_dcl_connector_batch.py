"""DCL's batched learner connector (issue #28 item 3) equals the per-episode connector it replaced.

On fixed hand-built episodes (lengths 1-7 in one batch; 2 agents, 3 agents, mega-steps with
|A|^K = 4 sequence actions) the learner batch of ``DCLConfig.build_learner_connector`` (one
``DCLJointColumns``) equals, tensor for tensor and dtype for dtype, the DCL columns of the old
pipeline (the per-episode connector followed by RLlib's default learner pieces, kept as
``PerEpisodeJointColumns`` / ``per_episode_pipeline`` in benchmarks/learner_connector_profile.py),
and drops the default columns DCL never reads. A learner update from the same episodes through
either pipeline gives the same losses and the same new weights, bit for bit. The array helpers
(``grid_index``, ``ragged_discounted_returns``) are pinned on hand-computed values.
"""
import copy
import os
import sys

import numpy as np
import pytest
import torch

from ray.rllib.env.multi_agent_episode import MultiAgentEpisode

from rllib_coopai.algorithms.dcl import DCLConfig
from rllib_coopai.core.episodes import grid_index
from rllib_coopai.core.returns import discounted_returns, ragged_discounted_returns
from rllib_coopai.modules.dcl_module import DCL_A, DCL_C, DCL_M

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "benchmarks"))
from learner_connector_profile import per_episode_pipeline  # noqa: E402

DCL_COLUMNS = {"dcl_obs", "dcl_joint_m", "dcl_joint_c", "dcl_joint_a", "dcl_joint_e",
               "dcl_joint_returns", "weights_seq_no"}
LENGTHS = [1, 4, 2, 7, 3, 1]

CASES = {
    "pd-2-agents": ("prisoners_dilemma", {"horizon": 7}, {}),
    "public-goods-3-agents": ("public_goods", {"n_agents": 3}, {"mode": "decentralized"}),
    "mega-steps-2": ("purely_conflicting", {}, {"mega_steps": 2, "gamma": 0.9}),
}


def _config(case):
    env, env_config, training = CASES[case]
    cfg = (DCLConfig().environment(env, env_config=env_config).env_runners(num_env_runners=0)
           .training(train_batch_size_per_learner=16, **training).debugging(seed=0))
    cfg.validate()
    return cfg


def _learner(cfg):
    info = cfg._dcl_env_info
    return cfg.build_learner(spaces={a: cfg._coop_spaces[a] for a in info["agent_ids"]})


def _episodes(cfg, lengths=LENGTHS, seed=0):
    """Complete episodes as an env runner returns them (finalized numpy buffers), random data of
    the modules' spaces: observations, rewards (float64), dcl_m/c/a (int32, with some deals) and
    weights_seq_no."""
    info = cfg._dcl_env_info
    agents, sizes = info["agent_ids"], info["action_sizes"]
    rng = np.random.default_rng(seed)
    out = []
    for i, T in enumerate(lengths):
        ep = MultiAgentEpisode(agent_to_module_mapping_fn=lambda aid, episode: aid)

        def obs():
            return {a: rng.random(info["obs_shapes"][k]).astype(np.float32)
                    for k, a in enumerate(agents)}

        ep.add_env_reset(observations=obs())
        for t in range(T):
            m = {a: int(rng.integers(sizes[k])) for k, a in enumerate(agents)}
            c = {a: int(rng.random() < 0.7) for a in agents}
            act = {a: int(rng.integers(sizes[k])) for k, a in enumerate(agents)}
            deal = all(c.values())
            last = t == T - 1
            ep.add_env_step(
                observations=obs(), actions={a: m[a] if deal else act[a] for a in agents},
                rewards={a: float(rng.normal()) for a in agents},
                terminateds={"__all__": last, **{a: last for a in agents}},
                extra_model_outputs={a: {DCL_M: np.int32(m[a]), DCL_C: np.int32(c[a]),
                                         DCL_A: np.int32(act[a]), "weights_seq_no": 3 + i}
                                     for a in agents})
        ep.to_numpy()
        out.append(ep)
    return out


def _value(stat):
    return float(stat.peek() if hasattr(stat, "peek") else stat)


def _run(pipeline, learner, episodes):
    return pipeline(rl_module=learner.module, batch={}, episodes=episodes, shared_data={},
                    metrics=learner.metrics)


# ------------------------------------------------------------------------------ helpers
def test_grid_index_hand_computed():
    episode, step = grid_index([2, 1, 3])
    assert episode.tolist() == [0, 0, 1, 2, 2, 2]
    assert step.tolist() == [0, 1, 0, 0, 1, 2]


def test_ragged_returns_hand_computed_and_equal_to_per_episode_returns():
    # [1, 2, 3] at gamma 0.5 -> [2.75, 3.5, 3] (DCL Algorithm 1 MC returns); [5] -> [5]; [1, 1] -> [1.5, 1]
    got = ragged_discounted_returns([1.0, 2.0, 3.0, 5.0, 1.0, 1.0], [3, 1, 2], 0.5)
    assert got.tolist() == [2.75, 3.5, 3.0, 5.0, 1.5, 1.0]
    rng = np.random.default_rng(1)
    lengths = np.array([1, 9, 4, 1, 6])
    r = rng.normal(size=(3, lengths.sum()))  # 3 agents, episodes back to back
    ends = np.cumsum(lengths)
    want = np.concatenate([discounted_returns(r[:, e - n: e], 0.97) for n, e in zip(lengths, ends)], -1)
    assert np.array_equal(ragged_discounted_returns(r, lengths, 0.97), want)  # bit for bit


# ------------------------------------------------------------------------ the batch itself
@pytest.mark.parametrize("case", list(CASES))
def test_batch_equals_the_per_episode_connector(case):
    cfg = _config(case)
    learner = _learner(cfg)
    episodes = _episodes(cfg)
    pipe = cfg.build_learner_connector(None, None)
    assert [type(c).__name__ for c in pipe.connectors] == ["DCLJointColumns"]
    new = _run(pipe, learner, episodes)
    old = _run(per_episode_pipeline(cfg), learner, episodes)
    agents = cfg._dcl_env_info["agent_ids"]
    assert set(new) == set(old) == set(agents)
    rows = sum(LENGTHS)
    for mid in agents:
        assert set(new[mid]) == DCL_COLUMNS  # RLlib's obs/actions/rewards/flags/dcl_m... dropped
        assert DCL_COLUMNS < set(old[mid])
        for col in DCL_COLUMNS:
            a, b = new[mid][col], old[mid][col]
            assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), (mid, col)
        assert new[mid]["dcl_joint_m"].shape == (rows, len(agents))
    # Rows are episode by episode: the weights_seq_no written per episode come back in order.
    assert new[agents[0]]["weights_seq_no"].tolist() == np.repeat(3 + np.arange(len(LENGTHS)),
                                                                  LENGTHS).tolist()
    # The executed action is the proposal exactly where everybody committed (deal rule).
    b = new[agents[0]]
    deal = (b["dcl_joint_c"] == 1).all(-1, keepdim=True)
    assert deal.any() and (~deal).any()
    assert torch.equal(b["dcl_joint_e"], torch.where(deal, b["dcl_joint_m"], b["dcl_joint_a"]))


def test_one_step_episodes_return_is_the_reward():
    cfg = _config("pd-2-agents")
    learner = _learner(cfg)
    episodes = _episodes(cfg, lengths=[1] * 8, seed=3)
    b = _run(cfg.build_learner_connector(None, None), learner, episodes)["player_0"]
    rewards = np.array([[ep.agent_episodes[a].get_rewards()[0] for a in ("player_0", "player_1")]
                        for ep in episodes], np.float32)
    assert np.array_equal(b["dcl_joint_returns"].numpy(), rewards)


@pytest.mark.parametrize("case", ["pd-2-agents", "public-goods-3-agents"])
def test_learner_update_identical_through_either_pipeline(case):
    cfg = _config(case)
    if case == "pd-2-agents":
        cfg = _config(case).copy(copy_frozen=False).training(ic_lambda=1.0)
        cfg.validate()
    learner = _learner(cfg)
    episodes = _episodes(cfg, seed=5)
    start = copy.deepcopy(learner.get_state())
    outcomes = []
    for pipe in (per_episode_pipeline(cfg), cfg.build_learner_connector(None, None)):
        learner.set_state(copy.deepcopy(start))
        learner._learner_connector = pipe
        torch.manual_seed(0)  # the same Gumbel noise in the pathwise terms (eqs. 4-5)
        res = learner.update(episodes=episodes, timesteps={"dcl_training_iteration": 3})
        weights = {mid: {k: v.detach().clone() for k, v in learner.module[mid].state_dict().items()}
                   for mid in cfg._dcl_env_info["agent_ids"]}
        outcomes.append((res, weights))
    (res_old, w_old), (res_new, w_new) = outcomes
    for mid in cfg._dcl_env_info["agent_ids"]:
        for key in ("total_loss", "critic_loss", "J_pi", "J_psi_score", "J_phi_score", "J_ic"):
            assert _value(res_new[mid][key]) == _value(res_old[mid][key]), (mid, key)
        assert np.isfinite(_value(res_new[mid]["total_loss"]))
        moved = False
        for name, w in w_new[mid].items():
            assert torch.equal(w, w_old[mid][name]), (mid, name)
            moved |= not torch.equal(w, torch.as_tensor(start["rl_module"][mid][name]))
        assert moved, f"{mid}: the update did not change any weight"


def test_default_learner_pieces_stay_out_even_when_a_config_asks_for_them(caplog):
    """A config saved before the change carries RLlib's default True: it validates (so old
    checkpoints restore), says so, and the pipeline still holds DCLJointColumns alone."""
    from rllib_coopai.algorithms.dcl.connectors import DCLJointColumns

    cfg = DCLConfig().environment("prisoners_dilemma").learners(
        add_default_connectors_to_learner_pipeline=True)
    with caplog.at_level("WARNING"):
        cfg.validate()
    assert "add_default_connectors_to_learner_pipeline" in caplog.text
    assert cfg.add_default_connectors_to_learner_pipeline is False
    pipeline = cfg.build_learner_connector(None, None)
    assert [type(p) for p in pipeline.connectors] == [DCLJointColumns]


def test_batch_lands_on_the_learner_device():
    """``build_learner_connector(device=...)`` puts every tensor on the learner's device (PyTorch's
    ``meta`` device stands in for a GPU)."""
    cfg = _config("public-goods-3-agents")
    learner = _learner(cfg)
    pipe = cfg.build_learner_connector(None, None, device=torch.device("meta"))
    batch = _run(pipe, learner, _episodes(cfg, lengths=[2, 3]))
    assert {v.device.type for cols in batch.values() for v in cols.values()} == {"meta"}
