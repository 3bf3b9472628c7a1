"""LOLA-Exact: exact iterated-game values, the LOLA gradient against its closed form, learning
(LOLA cooperates in the IPD where naive learners defect), and cross-play on IAsymBoS (LOLA
reaches different Pareto-optimal outcomes with different seeds, so cross-play drops)."""
import numpy as np
import pytest
import torch

from rllib_coopai.algorithms.lola import LOLAExactConfig
from rllib_coopai.algorithms.lola.exact import iterated_game_values

torch.set_num_threads(1)

PD = torch.tensor([[[-1.0, -1.0], [-3.0, 0.0]], [[0.0, -3.0], [-2.0, -2.0]]])


def _random_policies(seed, n_states=5, actions=(2, 2)):
    g = torch.Generator().manual_seed(seed)
    return [torch.softmax(torch.randn(n_states, a, generator=g, dtype=torch.float64), -1) for a in actions]


def test_values_of_state_independent_policies_are_one_shot_values_over_one_minus_gamma():
    p, q = 0.3, 0.8
    probs = [torch.tensor([[p, 1 - p]] * 5, dtype=torch.float64),
             torch.tensor([[q, 1 - q]] * 5, dtype=torch.float64)]
    v = iterated_game_values(probs, PD.double(), 0.96)
    joint = torch.tensor([p * q, p * (1 - q), (1 - p) * q, (1 - p) * (1 - q)], dtype=torch.float64)
    expected = joint @ PD.double().reshape(4, 2) / (1 - 0.96)
    torch.testing.assert_close(v, expected)


def test_values_equal_the_power_series_of_the_markov_chain():
    probs = _random_policies(3)
    gamma = 0.9
    v = iterated_game_values(probs, PD.double(), gamma)
    J = torch.stack([torch.outer(probs[0][s], probs[1][s]).reshape(-1) for s in range(5)])
    dist, total = J[4], torch.zeros(2, dtype=torch.float64)
    r = PD.double().reshape(4, 2)
    for t in range(600):  # sum_t gamma^t p_t r, p_{t+1} = p_t P
        total += gamma ** t * dist @ r
        dist = dist @ J[:4]
    torch.testing.assert_close(v, total)


def test_values_for_three_actions_and_three_players():
    table = torch.randn(3, 2, 2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    probs = _random_policies(1, n_states=13, actions=(3, 2, 2))
    v = iterated_game_values(probs, table, 0.5)
    assert v.shape == (3,) and torch.isfinite(v).all()
    same = [p[:1].expand(13, -1) for p in probs]  # state-independent: one-shot value / (1 - gamma)
    one_shot = torch.einsum("a,b,c,abcn->n", same[0][0], same[1][0], same[2][0], table)
    torch.testing.assert_close(iterated_game_values(same, table, 0.5), one_shot / 0.5)


@pytest.fixture(scope="module")
def lola_learner(ray_session):
    algo = (LOLAExactConfig().environment("iterated_prisoners_dilemma")
            .training(updates_per_iteration=1).debugging(seed=0).build_algo())
    algo.train()  # away from the initial point
    learner = algo.learner_group._learner
    for mid in learner.module.keys():  # the oracle comparison in float64
        learner.module[mid].double()
    learner._payoffs, learner._states = learner._payoffs.double(), learner._states.double()
    yield learner
    algo.stop()


def _flat(learner, i):
    return torch.cat([p.reshape(-1) for p in learner.module[learner._agents[i]].parameters()])


def _values_of(learner, t0, t1):
    mods = [learner.module[a] for a in learner._agents]
    params = []
    for m, t in zip(mods, (t0, t1)):
        (name, p), = list(m.named_parameters())
        params.append({name: t.reshape(p.shape)})
    return learner.values(params)


@pytest.mark.parametrize("correction", ["taylor", "lookahead", "none"])
def test_lola_gradient_matches_closed_form(lola_learner, correction):
    """d loss_1 / d theta_1 equals -(grad_1 V_1 + eta [grad_2 V_1]^T grad_1 grad_2 V_2) (App. C.1),
    or -d/d theta_1 V_1(theta_1, theta_2 + eta grad_2 V_2) (lookahead), computed independently
    with torch.autograd.functional on flat parameter vectors."""
    L = lola_learner
    old = L.config.correction
    object.__setattr__(L.config, "correction", correction)
    try:
        losses = L.lola_losses()
        p0 = list(L.module[L._agents[0]].parameters())[0]
        got = torch.autograd.grad(losses[L._agents[0]], p0)[0].reshape(-1)
    finally:
        object.__setattr__(L.config, "correction", old)
    t0, t1 = _flat(L, 0).detach(), _flat(L, 1).detach()
    eta = L.config.lr_correction
    V = lambda a, b: _values_of(L, a, b)  # noqa: E731
    g11 = torch.autograd.functional.jacobian(lambda a: V(a, t1)[0], t0)
    if correction == "none":
        expected = -g11
    elif correction == "taylor":
        g21 = torch.autograd.functional.jacobian(lambda b: V(t0, b)[0], t1)               # grad_2 V_1
        mixed = torch.autograd.functional.jacobian(                                        # d/d1 grad_2 V_2
            lambda a: torch.autograd.functional.jacobian(lambda b: V(a, b)[1], t1, create_graph=True), t0)
        expected = -(g11 + eta * mixed.T @ g21)
    else:
        def after_step(a):
            g22 = torch.autograd.functional.jacobian(lambda b: V(a, b)[1], t1, create_graph=True)
            return V(a, t1 + eta * g22)[0]
        expected = -torch.autograd.functional.jacobian(after_step, t0)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-10)


def _train(env, correction, seed, iters=10, **kw):
    algo = (LOLAExactConfig().environment(env)
            .training(correction=correction, updates_per_iteration=20, **kw).debugging(seed=seed).build_algo())
    for _ in range(iters):
        result = algo.train()
    return algo, result


@pytest.mark.slow
def test_lola_cooperates_in_the_ipd_where_naive_learners_defect(ray_session):
    """Foerster et al. 2018: LOLA-Exact reaches mutual cooperation in the IPD (per-step reward
    -1), naive learners mutual defection (-2); same seeds, same settings."""
    for seed in (0, 1):
        lola, r_lola = _train("iterated_prisoners_dilemma", "taylor", seed)
        naive, r_naive = _train("iterated_prisoners_dilemma", "none", seed)
        ex_l, ex_n = r_lola["learners"]["exact"], r_naive["learners"]["exact"]
        for a in ("player_0", "player_1"):
            assert ex_l[f"reward_per_step_{a}"] > -1.1, ex_l
            assert ex_n[f"reward_per_step_{a}"] < -1.9, ex_n
        # the sampled 20-step episodes agree with the exact values
        assert r_lola["env_runners"]["episode_return_mean"] > -2 * 20 * 1.2
        assert r_naive["env_runners"]["episode_return_mean"] < -2 * 20 * 1.8
        lola.stop()
        naive.stop()


@pytest.mark.slow
def test_lola_in_iasymbos_reaches_different_outcomes_and_crossplay_drops(ray_session, tmp_path):
    """Normative-disagreement paper Fig. 4: in IAsymBoS, LOLA-Exact converges in self-play to
    different Pareto-optimal outcomes with different seeds ((B,B) = (4,1) vs (S,S) = (2,2) here),
    so cross-play between them miscoordinates (the disagreement payoff (0,0) per step)."""
    from rllib_coopai.cli.crossplay import run_league

    paths, outcomes = [], []
    for seed in (1, 4):
        algo, r = _train("iterated_asymmetric_bos", "taylor", seed)
        ex = r["learners"]["exact"]
        outcomes.append((ex["reward_per_step_player_0"], ex["reward_per_step_player_1"]))
        paths.append(algo.save(str(tmp_path / f"seed{seed}")).checkpoint.path)
        algo.stop()
    np.testing.assert_allclose(outcomes[0], (4.0, 1.0), atol=0.05)
    np.testing.assert_allclose(outcomes[1], (2.0, 2.0), atol=0.05)
    res = run_league(paths, episodes=4, out_dir=str(tmp_path / "league"), plot=False)
    W = np.asarray(res["payoff_seat0"]) + np.asarray(res["payoff_seat1"])  # per-step welfare
    assert min(W[0, 0], W[1, 1]) > 3.9, W
    # one seating miscoordinates from the first step on ((0,0) every step), the other after a while
    assert min(W[0, 1], W[1, 0]) < 0.5, W
    assert (W[0, 1] + W[1, 0]) / 2 < 0.6 * (W[0, 0] + W[1, 1]) / 2, W
    assert res["self_play_score"] > res["cross_play_score"] + 0.3, res


def test_lola_bad_input(ray_session):
    with pytest.raises(ValueError, match="correction"):
        LOLAExactConfig().environment("iterated_prisoners_dilemma").training(correction="exact").build_algo()
    with pytest.raises(ValueError, match="iterated matrix game"):
        LOLAExactConfig().environment("escape_room").build_algo()
    with pytest.raises(ValueError, match="lr_correction"):
        LOLAExactConfig().environment("iterated_prisoners_dilemma").training(
            lr_correction=float("nan")).build_algo()
