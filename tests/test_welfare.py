"""Welfare functions and NormalizedScore (normative-disagreement paper §3.3, App. A Table 2,
App. C.1, §4.2 / App. B.2), on hand-computed profiles."""
import numpy as np
import pytest
import torch

from rllib_coopai.metrics.welfare import (
    egalitarian_welfare,
    eligibility_traces,
    get_welfare,
    inequity_averse_agent_rewards,
    inequity_averse_rewards,
    inequity_averse_welfare,
    kalai_smorodinsky_welfare,
    nash_welfare,
    normalized_score,
    pareto_optimal,
    utilitarian_welfare,
)

# Asymmetric BoS: pure outcomes BB (4,1), SS (2,2), miscoordination (0,0); the fair coin (3,1.5).
ABOS = np.array([[4.0, 1.0], [2.0, 2.0], [0.0, 0.0], [3.0, 1.5]])


def test_utilitarian_and_plain_egalitarian():
    assert utilitarian_welfare(ABOS).tolist() == [5.0, 4.0, 0.0, 4.5]
    assert egalitarian_welfare(ABOS).tolist() == [1.0, 2.0, 0.0, 1.5]
    # disagreement point d = (1, 0.5): min(u - d)
    assert egalitarian_welfare(ABOS, disagreement=(1.0, 0.5)).tolist() == [0.5, 1.0, -1.0, 1.0]


def test_pareto_mask_and_egalitarian_subject_to_pareto():
    assert pareto_optimal(ABOS).tolist() == [True, True, False, True]
    # (2, 2) and (2, 5) tie on the plain min; Pareto optimality rules (2, 2) out.
    feasible = np.array([[2.0, 2.0], [2.0, 5.0], [1.0, 6.0]])
    plain = egalitarian_welfare(feasible)
    constrained = egalitarian_welfare(feasible, feasible=feasible)
    assert plain.tolist() == [2.0, 2.0, 1.0]
    assert constrained.tolist() == [-np.inf, 2.0, 1.0]
    assert int(np.argmax(constrained)) == 1


def test_nash_with_disagreement_point_and_sign_rule():
    assert nash_welfare(ABOS).tolist() == [4.0, 4.0, 0.0, 4.5]  # the fair coin wins (paper §3.3)
    # d = (1, 1): gains (3, 0), (1, 1), (-1, -1) -> both negative: -1, (2, 0.5)
    assert nash_welfare(ABOS, disagreement=(1.0, 1.0)).tolist() == [0.0, 1.0, -1.0, 1.0]
    # IPD payoffs of the authors' code: without the sign rule (-3,-3) would beat (-1,-1).
    ipd = np.array([[-1.0, -1.0], [-3.0, 0.0], [-2.0, -2.0], [-3.0, -3.0]])
    assert nash_welfare(ipd).tolist() == [-1.0, -0.0, -4.0, -9.0]
    # one gain negative, one positive: the plain (negative) product
    assert nash_welfare(np.array([2.0, -1.5])) == -3.0


def test_kalai_smorodinsky_picks_the_ks_point():
    # Correlated frontier of asymmetric BoS from (2,2) to (4,1); ideal point (4,2), d = 0:
    # K-S point (3, 1.5) (normalised gains 0.75, 0.75); BB and SS are 0.5 apart.
    frontier = np.array([[4.0 - 2 * q, 1.0 + q] for q in np.linspace(0, 1, 11)])
    feasible = np.vstack([frontier, [[0.0, 0.0]]])
    w = kalai_smorodinsky_welfare(feasible, feasible=feasible)
    assert feasible[int(np.argmax(w))].tolist() == [3.0, 1.5]
    assert w[0] == pytest.approx(-0.5) and w[10] == pytest.approx(-0.5)
    assert w[-1] == -np.inf  # (0,0) has equal (zero) gains but is Pareto-dominated
    # with a disagreement point d = (2, 1) the ideal gains are (2, 1): (3, 1.5) again
    assert kalai_smorodinsky_welfare([3.0, 1.5], disagreement=(2.0, 1.0), ideal=(4.0, 2.0)) == 0.0
    with pytest.raises(ValueError, match="ideal"):
        kalai_smorodinsky_welfare(ABOS)


def test_eligibility_traces_and_symmetric_w_ia():
    r = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    # gamma*lambda = 0.5: e_1 = 1, 0.5, 0.25; e_2 = 0, 2, 1
    e = eligibility_traces(r, gamma=1.0, lam=0.5)
    assert e.tolist() == [[1.0, 0.0], [0.5, 2.0], [0.25, 1.0]]
    w = inequity_averse_rewards(r, beta=0.5, gamma=1.0, lam=0.5)
    assert w.tolist() == [1.0 - 0.5, 2.0 - 0.75, 0.0 - 0.375]
    assert inequity_averse_welfare(r, beta=0.5, gamma=1.0, lam=0.5) == pytest.approx(0.5 + 1.25 - 0.375)
    # discounted sum with discount 0.5
    assert inequity_averse_welfare(r, beta=0.5, gamma=1.0, lam=0.5, discount=0.5) == pytest.approx(
        0.5 + 0.5 * 1.25 - 0.25 * 0.375)


def test_per_agent_w_ia_of_the_code():
    r = np.array([[1.0, 0.0], [0.0, 2.0]])
    # e (gamma*lambda = 0.5): t0 (1, 0), t1 (0.5, 2). delta_1 = e_1 - e_2 = 1, -1.5
    out = inequity_averse_agent_rewards(r, alpha=0.2, beta=1.0, gamma=1.0, lam=0.5)
    # agent 1: t0 ahead by 1 -> 1 - 1*1 = 0; t1 behind by 1.5 -> 0 - 0.2*1.5 = -0.3
    # agent 2: t0 behind by 1 -> 0 - 0.2 = -0.2; t1 ahead by 1.5 -> 2 - 1.5 = 0.5
    assert out == pytest.approx(np.array([[0.0, -0.2], [-0.3, 0.5]]))
    # alpha = 0 (the code's default): only the agent ahead pays
    out0 = inequity_averse_agent_rewards(r, alpha=0.0, beta=1.0, gamma=1.0, lam=0.5)
    assert out0 == pytest.approx(np.array([[0.0, 0.0], [0.0, 0.5]]))


def test_torch_matches_numpy():
    rt = torch.tensor(ABOS, requires_grad=True)
    for fn in (utilitarian_welfare, egalitarian_welfare, nash_welfare):
        assert fn(rt).detach().numpy().tolist() == fn(ABOS).tolist()
        assert fn(rt, disagreement=(1.0, 1.0)).detach().numpy().tolist() == fn(ABOS, disagreement=(1.0, 1.0)).tolist()
    ks = kalai_smorodinsky_welfare(rt, ideal=(4.0, 2.0))
    assert ks.detach().numpy() == pytest.approx(kalai_smorodinsky_welfare(ABOS, ideal=(4.0, 2.0)))
    seq = np.random.default_rng(0).normal(size=(3, 5, 2))
    st = torch.tensor(seq)
    assert inequity_averse_agent_rewards(st, alpha=0.3).numpy() == pytest.approx(
        inequity_averse_agent_rewards(seq, alpha=0.3))
    assert inequity_averse_welfare(st, discount=0.9).numpy() == pytest.approx(
        inequity_averse_welfare(seq, discount=0.9))
    nash_welfare(rt).sum().backward()  # differentiable (used as a training objective)
    assert rt.grad is not None


def test_normalized_score_iasymbos_oracles():
    # W = {util, egal}, d = (0,0), theoretical maxima 5 and 2 (paper App. B.2; hand-derived)
    profiles = np.array([[4.0, 1.0], [2.0, 2.0], [3.0, 1.5], [0.0, 0.0], [4 / 3, 2 / 3], [1.5, 0.75]])
    s = normalized_score(profiles, ("util", "egal"), (0.0, 0.0), maxima=(5.0, 2.0))
    assert s == pytest.approx([1.0, 1.0, 0.9, 0.0, 0.4, 0.45])
    # empirical maximum over the evaluated profiles (authors' code): the same here
    assert normalized_score(profiles, ("util", "egal"), (0.0, 0.0)) == pytest.approx(s)


def test_normalized_score_ipd_oracles():
    ipd = np.array([[-1.0, -1.0], [-2.0, -2.0], [-3.0, 0.0], [-3.0, -3.0]])
    s = normalized_score(ipd, ("utilitarian", "egalitarian"), (-3.0, -3.0))
    assert s == pytest.approx([1.0, 0.5, 0.75, 0.0])
    # nash alone (sign rule): w = -1, -4, -0, -9; the empirical max is CD's 0, so
    # CC scores (-1 + 9) / (0 + 9) and DD (-4 + 9) / 9; with the given max -1, CC scores 1.
    s = normalized_score(ipd, ("nash",), (-3.0, -3.0))
    assert s == pytest.approx([8 / 9, 5 / 9, 1.0, 0.0])
    s = normalized_score(ipd[:2], ("nash",), (-3.0, -3.0), maxima=(-1.0,))
    assert s == pytest.approx([1.0, 5 / 8])


def test_names_and_errors():
    assert get_welfare("util") is utilitarian_welfare and get_welfare("KS") is kalai_smorodinsky_welfare
    with pytest.raises(ValueError, match="known: egalitarian"):
        get_welfare("utilitarianism")
    with pytest.raises(ValueError, match="reward sequences"):
        get_welfare("ia")
    with pytest.raises(ValueError, match="disagreement"):
        normalized_score(ABOS, ("util",), (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="beta"):
        inequity_averse_rewards(np.zeros((2, 2)), beta=-1)
    with pytest.raises(ValueError, match="lam"):
        eligibility_traces(np.zeros((2, 2)), lam=2.0)
