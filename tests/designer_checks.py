"""Shared checks of the MetaGrad learner's meta-gradient (used by test_designer_metagrad.py and
test_designer_tax.py): the learner's pipelined route against direct autograd through one inner
step, and central finite differences along a random direction in eta space."""
import numpy as np
import pytest
import torch

from rllib_coopai.core.differentiable import assign_, named_params, sgd_step
from rllib_coopai.wrappers.designer import DESIGNER_ID


def learner_in_float64(algo):
    """The local Learner with float64 modules, its stored ``theta_{k-1}`` and ``B_{k-1}``."""
    L = algo.learner_group._learner
    for m in L.module.keys():
        L.module[m].double()
    theta_prev, data_prev = L._prev
    theta_prev = {a: {k: v.double() for k, v in p.items()} for a, p in theta_prev.items()}
    data = {m: {k: (v.double() if v.is_floating_point() else v) for k, v in b.items()}
            for m, b in data_prev.items()}
    return L, theta_prev, data


def check_meta_gradient(L, theta_prev, data, min_grad=1e-6, rtol=1e-8, h=1e-5):
    """Assert learner route == direct autograd == finite differences; returns (meta, cost_g)."""
    agents = [a for a in data if a != DESIGNER_ID]
    eta = {k: v.detach().clone().requires_grad_(True)
           for k, v in named_params(L.module[DESIGNER_ID]).items()}

    def j_after_step(eta_params):  # J^ID(theta_hat(eta)) on the validation batch, eq 6.4
        prev = {a: {k: v.detach().requires_grad_(True) for k, v in theta_prev[a].items()}
                for a in agents}
        losses = L.inner_losses(prev, eta_params, data)
        hat = {a: sgd_step(prev[a], losses[a], L.config.agent_lr, create_graph=True)
               for a in agents}
        return hat, L.outer_objective(hat, data)

    hat, J = j_after_step(eta)
    direct = torch.autograd.grad(J, list(eta.values()))
    # Commit theta_hat numerically, as the pipelined update does, then take the learner's route.
    for a in agents:
        assign_(L.module[a], hat[a])
    meta, cost_g, _, _ = L.meta_gradient(data, theta_prev, data)
    for k, d in zip(eta, direct):
        np.testing.assert_allclose(-meta[k].numpy(), d.numpy(), rtol=rtol, atol=1e-12)
    assert max(float(d.abs().max()) for d in direct) > min_grad  # agents learn -> non-zero
    gen = torch.Generator().manual_seed(0)
    dirs = {k: torch.randn(v.shape, generator=gen, dtype=v.dtype) for k, v in eta.items()}
    plus = {k: (v + h * dirs[k]).detach() for k, v in eta.items()}
    minus = {k: (v - h * dirs[k]).detach() for k, v in eta.items()}
    fd = (j_after_step(plus)[1] - j_after_step(minus)[1]).item() / (2 * h)
    analytic = sum((d * dirs[k]).sum() for k, d in zip(eta, direct)).item()
    assert abs(analytic) > min_grad
    assert fd == pytest.approx(analytic, rel=1e-4, abs=1e-9)
    return meta, cost_g


def check_restore(algo, tmp_path, metric: str):
    """Save ``algo`` (then stopped), restore it in this process: the designer's weights match and
    the restored algorithm trains, reporting ``metric``."""
    from rllib_coopai.algorithms.incentive_designer import IncentiveDesigner

    try:
        path = algo.save_to_path(str(tmp_path / "ckpt"))
        w = algo.get_module(DESIGNER_ID).state_dict()
    finally:
        algo.stop()
    restored = IncentiveDesigner.from_checkpoint(path)
    try:
        w2 = restored.get_module(DESIGNER_ID).state_dict()
        for k in w:
            np.testing.assert_allclose(w[k].numpy(), w2[k].numpy())
        assert metric in restored.train()["env_runners"]
    finally:
        restored.stop()


def assert_learners_in_sync(algo, atol=1e-6):
    """Every remote Learner holds the same weights (gradients were averaged across them)."""
    states = [r.get() if hasattr(r, "get") else r for r in algo.learner_group.foreach_learner(
        lambda l: {m: {k: v.detach().numpy().copy() for k, v in l.module[m].state_dict().items()}
                   for m in l.module.keys()})]
    first = states[0]
    for other in states[1:]:
        for m in first:
            for k in first[m]:
                np.testing.assert_allclose(first[m][k], other[m][k], rtol=0, atol=atol)
