"""AMD oracles without Ray: hand-derived from AMD thesis ch. 4: static game facts, exact first-step
gradients at initialisation, plain-SGD naive learners and a deterministic exact-gradient AMD.

They exercise the exact machinery the ``AMD`` learner uses (``exact_values``,
``exact_planner_objective``, ``payments``) on the package's own payoff tables.
"""
import math

import numpy as np
import pytest
import torch

from rllib_coopai.algorithms.amd.learner import exact_planner_objective, exact_values, joint_probs
from rllib_coopai.envs import make
from rllib_coopai.envs.matrix_games import greed_fear_payoffs



@pytest.fixture(autouse=True)
def float64():
    """Closed forms are checked to 1e-9: float64 here, restored afterwards (other test files)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)

GAMES = {"pd": (1.0, 1.0), "chicken": (0.5, -1.0), "stag_hunt": (-1.0, 1.0)}
THETA0 = math.log(1.0 / 3.0)


def table(game):
    return torch.tensor(greed_fear_payoffs(*GAMES[game]), dtype=torch.float64)


def probs_fn(i, params):  # scalar-logit learner of AMD thesis §4.2: P(C) = sigmoid(theta)
    th = params["theta"]
    return torch.softmax(torch.stack([th, torch.zeros_like(th)]), -1)


def leaf(x):
    return {"theta": torch.tensor(float(x), requires_grad=True)}


def welfare(game, p1, p2):
    P = [torch.tensor([p1, 1 - p1]), torch.tensor([p2, 1 - p2])]
    return float(exact_values(P, table(game)).sum())


# ----------------------------------------------------------------- static game facts (hand-derived)
def test_env_tables_match_table_4_1():
    for name, gf in (("stag_hunt", GAMES["stag_hunt"]), ("chicken", GAMES["chicken"])):
        np.testing.assert_array_equal(make(name).payoffs, greed_fear_payoffs(*gf))
    np.testing.assert_array_equal(make("greed_fear").payoffs[..., 0], [[3, 0], [4, 1]])


@pytest.mark.parametrize("p1,p2", [(0.0, 0.0), (0.25, 0.25), (0.3, 0.9), (1.0, 1.0)])
def test_welfare_closed_forms(p1, p2):
    assert welfare("pd", p1, p2) == pytest.approx(2 + 2 * (p1 + p2), abs=1e-9)
    assert welfare("chicken", p1, p2) == pytest.approx(2 + 3.5 * (p1 + p2) - 3 * p1 * p2, abs=1e-9)
    assert welfare("stag_hunt", p1, p2) == pytest.approx(2 + 4 * p1 * p2, abs=1e-9)


@pytest.mark.parametrize("game,pcc,v", [("pd", 0.987416, 5.974752), ("chicken", 0.990045, 5.994935),
                                        ("stag_hunt", 0.991077, 5.964308),
                                        ("stag_hunt", 0.996408, 5.985632)])
def test_table_4_2_consistency(game, pcc, v):
    p = math.sqrt(pcc)
    assert welfare(game, p, p) == pytest.approx(v, abs=2e-6)


def _naive_grad(game, p_own, p_opp):
    th = torch.tensor(math.log(p_own / (1 - p_own)), requires_grad=True)
    P = [torch.softmax(torch.stack([th, torch.zeros(())]), -1), torch.tensor([p_opp, 1 - p_opp])]
    (g,) = torch.autograd.grad(exact_values(P, table(game))[0], th)
    return float(g)


def test_equilibria():
    # PD: D strictly dominant (naive gradient < 0 for every opponent mix) -> unique NE (D,D).
    assert all(_naive_grad("pd", 0.5, q) < 0 for q in (0.01, 0.5, 0.99))
    # Chicken: mixed NE at P(C) = 2/3 (indifference), payoff 8/3 each.
    assert _naive_grad("chicken", 0.5, 2 / 3) == pytest.approx(0.0, abs=1e-12)
    P = [torch.tensor([2 / 3, 1 / 3])] * 2
    assert exact_values(P, table("chicken"))[0].item() == pytest.approx(8 / 3, abs=1e-9)
    # Stag Hunt: C is a best response iff the opponent's P(C) > 1/2.
    assert _naive_grad("stag_hunt", 0.5, 0.5) == pytest.approx(0.0, abs=1e-12)
    assert _naive_grad("stag_hunt", 0.5, 0.49) < 0 < _naive_grad("stag_hunt", 0.5, 0.51)
    # Utilitarian optimum CC = 6 in all three.
    for g in GAMES:
        assert welfare(g, 1.0, 1.0) == pytest.approx(6.0)


# -------------------------------------------- exact first-step gradients at initialisation
C2 = {
    "pd": (-0.1875, 0.375, -1.1004873, [1.7578125e-4, 5.2734375e-4, -1.7578125e-4, -5.2734375e-4]),
    "chicken": (0.1171875, 0.515625, -1.0974404,
                [2.4169921875e-4, 7.2509765625e-4, -2.4169921875e-4, -7.2509765625e-4]),
    "stag_hunt": (-0.09375, 0.1875, -1.0995498,
                  [8.7890625e-5, 2.63671875e-4, -8.7890625e-5, -2.63671875e-4]),
}


@pytest.mark.parametrize("game", list(C2))
def test_first_step_gradients(game):
    naive, wel, theta1, dj = C2[game]
    params = [leaf(THETA0), leaf(THETA0)]
    probs = [probs_fn(i, params[i]) for i in range(2)]
    V = exact_values(probs, table(game))
    (g_naive,) = torch.autograd.grad(V[0], params[0]["theta"], retain_graph=True)
    (g_wel,) = torch.autograd.grad(V.sum(), params[0]["theta"])
    assert g_naive.item() == pytest.approx(naive, abs=1e-9)
    assert g_wel.item() == pytest.approx(wel, abs=1e-9)
    assert THETA0 + 0.01 * g_naive.item() == pytest.approx(theta1, abs=1e-7)
    # dJ/dr^p_i(a), planner paying 0 (so the cost term has zero gradient), eta_i = 0.01.
    rp = torch.zeros(2, 2, 2, requires_grad=True)
    J = exact_planner_objective(params, probs_fn, table(game), rp, [0.01, 0.01], 0.0002)
    (g_rp,) = torch.autograd.grad(J, rp)
    np.testing.assert_allclose(g_rp[..., 0].reshape(-1).numpy(), dj, atol=1e-12)
    # Player 2: the CD and DC entries swap.
    np.testing.assert_allclose(g_rp[..., 1].reshape(-1).numpy(), [dj[0], dj[2], dj[1], dj[3]],
                               atol=1e-12)


# -------------------------------------- plain-SGD learners and the exact-gradient AMD procedure
@pytest.mark.parametrize("game,expect", [
    ("pd", {100: -1.277575, 1000: -2.332217, 4000: -3.628177}),
    ("stag_hunt", {100: -1.193288, 1000: -2.009875}),
    ("chicken", {100: -0.981302, 1000: -0.093818}),
])
def test_plain_sgd_naive_learners(game, expect):
    th = [torch.tensor(THETA0, requires_grad=True) for _ in range(2)]
    R = table(game)
    got = {}
    for step in range(1, max(expect) + 1):
        probs = [torch.softmax(torch.stack([t, torch.zeros(())]), -1) for t in th]
        grads = []
        for i in range(2):
            mine = [p if j == i else p.detach() for j, p in enumerate(probs)]
            grads.append(torch.autograd.grad(exact_values(mine, R)[i], th[i])[0])
        with torch.no_grad():
            for t, g in zip(th, grads):
                t += 0.01 * g
        if step in expect:
            got[step] = th[0].item()
    for step, val in expect.items():
        assert got[step] == pytest.approx(val, abs=2e-6)


def _amd_exact(game, steps_on, steps_off):
    """Exact-gradient AMD oracle: zero-init linear planner on C-indicators, Adam 0.01 for all."""
    R = table(game)
    W = torch.zeros(2, 2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    th = [torch.tensor(THETA0, requires_grad=True) for _ in range(2)]
    ind = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])  # 1[a1=C], 1[a2=C]
    opt_p = torch.optim.Adam([W, b], lr=0.01)
    opt_l = torch.optim.Adam(th, lr=0.01)
    snapshots = []
    for step in range(steps_on + steps_off):
        if step == steps_on:
            snapshots.append([torch.sigmoid(t).item() for t in th])
        on = step < steps_on
        rp = (3 * (2 * torch.sigmoid(ind @ W.T + b) - 1)).reshape(2, 2, 2) if on else torch.zeros(2, 2, 2)
        probs = [torch.softmax(torch.stack([t, torch.zeros(())]), -1) for t in th]
        loss_l = 0.0
        for i in range(2):
            mine = [p if j == i else p.detach() for j, p in enumerate(probs)]
            loss_l = loss_l - exact_values(mine, R + rp.detach())[i]
        opt_l.zero_grad()
        opt_p.zero_grad()
        loss_l.backward()
        if on:
            params = [{"theta": t.detach().requires_grad_(True)} for t in th]
            J = exact_planner_objective(params, probs_fn, R, rp, [0.01, 0.01], 0.0002)
            (-J).backward()
            opt_p.step()
        opt_l.step()
    snapshots.append([torch.sigmoid(t).item() for t in th])
    return snapshots


def test_amd_exact_procedure_pd_on_then_off():
    on, off = _amd_exact("pd", 4000, 4000)
    # Planner on for 4000 steps: the exact-gradient oracle's numbers (p_i / P(CC) / V).
    assert on[0] == pytest.approx(0.998912, abs=1e-4)
    assert on[0] * on[1] == pytest.approx(0.997825, abs=2e-4)
    assert welfare("pd", *on) == pytest.approx(5.995647, abs=5e-4)
    # Turned off for 4000 more: mutual cooperation collapses, (D, D) takes over.
    assert off[0] * off[1] <= 0.01
    assert joint_probs([torch.tensor([off[0], 1 - off[0]]), torch.tensor([off[1], 1 - off[1]])])[1, 1] > 0.99
