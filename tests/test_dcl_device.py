"""Device placement of DCL's tensors (the GPU path without a GPU).

With ``num_gpus_per_learner=1`` RLlib moves the learner's modules and batches to the GPU; a tensor
created on the CPU anywhere in the learner's loss, the modules' forwards or a scripted partner
would then be mixed with CUDA tensors and fail. Running the SAME code on PyTorch's ``meta`` device
catches exactly that (a non-scalar CPU tensor combined with a meta tensor raises "Tensor on device
cpu is not on the expected device meta"), and every output must come back on ``meta``:

* the learner's ``compute_losses`` (centralized, decentralized, DCL-IC pathwise and reference,
  N = 3) on a learner built by ``DCLConfig.build_learner``, and its backward pass;
* ``DCLMultiRLModule``'s negotiation (sampling) forward;
* ``ScriptedPartnerModule``'s three protocol heads.
"""
import gymnasium as gym
import numpy as np
import pytest
import torch

import rllib_coopai  # noqa: F401
from rllib_coopai.algorithms.dcl import DCLConfig
from rllib_coopai.algorithms.dcl.partners import ScriptedPartnerModule
from rllib_coopai.envs import make
from rllib_coopai.wrappers.rllib_env import RLlibParallelEnv
from ray.rllib.core.columns import Columns

META = torch.device("meta")


def _move(multi, device):
    for mid in multi.keys():  # a MultiRLModule is a container, not an nn.Module
        multi[mid].to(device)


def _learner(env_name, env_config, **training):
    cfg = (DCLConfig().environment(env_name, env_config=env_config)
           .env_runners(num_env_runners=0).training(train_batch_size_per_learner=32, **training))
    cfg.validate()
    env = RLlibParallelEnv(make(env_name, **env_config))
    return cfg.build_learner(env=env), cfg


def _joint_batch(learner, t=16, seed=0):
    """The columns DCLJointColumns adds (same joint row for every agent), as torch tensors."""
    rng = np.random.default_rng(seed)
    order = learner._agent_order()
    unit = learner.module[order[0]].unwrapped()
    n, sizes = len(order), unit.action_sizes
    obs = rng.random((t, sum(unit.obs_dims)), dtype=np.float32)
    m = np.stack([rng.integers(0, k, t) for k in sizes], -1)
    c = rng.integers(0, 2, (t, n))
    c[: t // 2] = 1  # some deals
    a = np.stack([rng.integers(0, k, t) for k in sizes], -1)
    e = np.where(c.all(-1, keepdims=True), m, a)
    cols = {"dcl_obs": obs, "dcl_joint_m": m, "dcl_joint_c": c, "dcl_joint_a": a,
            "dcl_joint_e": e, "dcl_joint_returns": rng.normal(size=(t, n)).astype(np.float32)}
    return {mid: {k: torch.as_tensor(v) for k, v in cols.items()} for mid in order}


def _to(batch, device):
    return {mid: {k: v.to(device) for k, v in cols.items()} for mid, cols in batch.items()}


@pytest.mark.parametrize("training", [
    dict(mode="centralized", ic_lambda=1.0, ic_mode="pathwise"),
    dict(mode="centralized", ic_lambda=1.0, ic_mode="reference"),
    dict(mode="decentralized", ic_lambda=1.0),
], ids=["central-ic-pathwise", "central-ic-reference", "decentralized-ic"])
def test_learner_loss_stays_on_the_module_device(training):
    learner, _ = _learner("public_goods", {"n_agents": 3}, **training)
    batch = _joint_batch(learner)
    # CPU first: finite losses, one per agent.
    fwd = learner.module.forward_train(batch)
    cpu_losses = learner.compute_losses(fwd_out=fwd, batch=batch)
    assert set(cpu_losses) == set(batch)
    assert all(torch.isfinite(v) for v in cpu_losses.values())
    # Same code on the meta device: every loss (and every gradient) must be on meta.
    _move(learner.module, META)
    batch = _to(batch, META)
    fwd = learner.module.forward_train(batch)
    for mid, out in fwd.items():
        for key, val in out.items():
            assert val.device == META, (mid, key)
    losses = learner.compute_losses(fwd_out=fwd, batch=batch)
    assert set(losses) == set(batch)
    for mid, loss in losses.items():
        assert loss.device == META, mid
    sum(losses.values()).backward()
    grads = [p.grad for mid in learner.module.keys() for p in learner.module[mid].parameters()
             if p.grad is not None]
    assert grads and all(g.device == META for g in grads)


def test_negotiation_and_scripted_partner_stay_on_the_input_device():
    learner, _ = _learner("prisoners_dilemma", {})
    multi = learner.module
    _move(multi, META)
    order = multi._agent_order()
    obs = {a: {Columns.OBS: torch.zeros(4, multi[a].obs_dims[0], device=META)} for a in order}
    out = multi.negotiate(obs)
    for a in order:
        for key, val in out[a].items():
            assert val.device == META, (a, key)
    partner = ScriptedPartnerModule(
        observation_space=gym.spaces.Box(0.0, 1.0, (5,)), action_space=gym.spaces.Discrete(2),
        model_config={"action_sizes": [2, 2], "agent_index": 1, "commit": "if_accepted",
                      "accept": [[0, 0]]})
    jm = torch.tensor([[1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 0, 1]], dtype=torch.float32)
    for dev in (torch.device("cpu"), META):
        o = torch.zeros(3, 5, device=dev)
        for val in (partner.propose_logits(o), partner.action_logits(o),
                    partner.commit_logits(o, jm.to(dev))):
            assert val.device == dev and val.shape[0] == 3
    # The accept rule itself (on CPU): commits only to the joint proposal (C, C).
    commit = partner.commit_logits(torch.zeros(3, 5), jm).argmax(-1)
    assert commit.tolist() == [1, 0, 0]
