"""LOLA-PG: the sampled LOLA update against the exact one (enumeration on a one-shot game,
Monte Carlo on the IPD against the exact values of ``lola.exact``), the naive setting against
hand-computed REINFORCE, config errors, a short coin-game run with a checkpoint restore, and the
IPD learning result (LOLA-PG cooperates, naive PG defects) through ``algo.train()``."""
import numpy as np
import pytest
import torch

from rllib_coopai.algorithms.lola import LOLAPGConfig
from rllib_coopai.algorithms.lola.exact import iterated_game_values
from rllib_coopai.algorithms.lola.pg_learner import (
    cumulative_logp,
    first_order_weights,
    lola_pg_losses,
    second_order_surrogate,
)
from rllib_coopai.core.differentiable import gradient
from rllib_coopai.core.losses import pg_loss

torch.set_num_threads(1)

PD = torch.tensor([[[-1.0, -1.0], [-3.0, 0.0]], [[0.0, -3.0], [-2.0, -2.0]]], dtype=torch.float64)


def _tabular_logp(states, actions):
    """``logp_fn`` of tabular players: ``params["w"]`` ``[S, A]`` logits, states/actions ``[E, T]``."""
    def logp_fn(i, params):
        return torch.log_softmax(params["w"], -1)[states, actions[i]]
    return logp_fn


def _grad(loss, p):
    return torch.autograd.grad(loss, [p["w"]], retain_graph=True)[0]


# ----------------------------------------------------------------- one-shot game, exact expectation
def test_estimators_have_the_exact_expectation_on_a_one_shot_game():
    """Enumerating all joint actions of a one-shot 2x3 game (T = 1, E = 1 per outcome): the
    probability-weighted estimates equal grad_i V_i, grad_j V_i and the mixed
    Hessian-vector product grad_i <v, grad_j V_j> of the exact values V_k = p0^T R_k p1."""
    g = torch.Generator().manual_seed(0)
    R = torch.randn(2, 3, 2, generator=g, dtype=torch.float64)
    theta = [torch.randn(1, 2, generator=g, dtype=torch.float64).requires_grad_(),
             torch.randn(1, 3, generator=g, dtype=torch.float64).requires_grad_()]
    v = torch.randn(1, 3, generator=g, dtype=torch.float64)  # a fixed direction in theta_1

    def exact_values(t0, t1):
        p0, p1 = torch.softmax(t0[0], -1), torch.softmax(t1[0], -1)
        return torch.einsum("a,b,abn->n", p0, p1, R)

    V = exact_values(*theta)
    exact_g00 = torch.autograd.grad(V[0], theta[0], retain_graph=True)[0]
    exact_g10 = torch.autograd.grad(V[0], theta[1], retain_graph=True)[0]  # grad_1 V_0
    g11 = torch.autograd.grad(V[1], theta[1], create_graph=True)[0]
    exact_hv = torch.autograd.grad((g11 * v).sum(), theta[0])[0]           # grad_0 <v, grad_1 V_1>

    p = [torch.softmax(t[0], -1).detach() for t in theta]
    mask = torch.ones(1, 1, dtype=torch.float64)
    states = torch.zeros(1, 1, dtype=torch.long)
    for estimator in ("causal", "trajectory"):
        est = [torch.zeros_like(exact_g00), torch.zeros_like(exact_g10), torch.zeros_like(exact_hv)]
        for a0 in range(2):
            for a1 in range(3):
                prob = p[0][a0] * p[1][a1]
                acts = [torch.tensor([[a0]]), torch.tensor([[a1]])]
                logp = _tabular_logp(states, acts)
                params = [{"w": t} for t in theta]
                lp0, lp1 = logp(0, params[0]), logp(1, params[1])
                r = [R[a0, a1, k].reshape(1, 1) for k in range(2)]
                w0 = first_order_weights(r[0], mask, 0.9, estimator)
                est[0] += prob * _grad(-pg_loss(lp0, w0, mask, 1), params[0])
                est[1] += prob * _grad(-pg_loss(lp1, w0, mask, 1), params[1])
                S = second_order_surrogate(cumulative_logp(lp0, mask, estimator),
                                           cumulative_logp(lp1, mask, estimator), r[1], mask, 0.9, 1)
                h = gradient(S, params[1], create_graph=True)["w"]
                est[2] += prob * _grad((h * v).sum(), params[0])
        torch.testing.assert_close(est[0], exact_g00)
        torch.testing.assert_close(est[1], exact_g10)
        torch.testing.assert_close(est[2], exact_hv)


# ----------------------------------------------------------------- IPD, Monte Carlo vs LOLA-Exact
def _sample_ipd(probs, E, T, gen):
    """E episodes of the IPD with memory-one tabular policies ``probs[i]`` ``[5, 2]`` (state =
    previous joint action a0*2+a1, 4 = start; MatrixGameEnv's observation)."""
    s = torch.full((E,), 4, dtype=torch.long)
    states, a0s, a1s = [], [], []
    for _ in range(T):
        a0 = torch.multinomial(probs[0][s], 1, generator=gen).squeeze(-1)
        a1 = torch.multinomial(probs[1][s], 1, generator=gen).squeeze(-1)
        states.append(s)
        a0s.append(a0)
        a1s.append(a1)
        s = a0 * 2 + a1
    states, a0, a1 = torch.stack(states, 1), torch.stack(a0s, 1), torch.stack(a1s, 1)
    return states, [a0, a1], [PD[a0, a1, 0], PD[a0, a1, 1]]


def _exact_lola_updates(theta, gamma, eta):
    """The exact LOLA ascent directions grad_i [V_i + eta <stopgrad(grad_j V_i), grad_j V_j>]
    (LOLAExactLearner's "taylor" update) from ``lola.exact.iterated_game_values``."""
    out = []
    for i in range(2):
        j = 1 - i
        th = [t.detach().clone().requires_grad_() for t in theta]
        V = iterated_game_values([torch.softmax(t, -1) for t in th], PD, gamma)
        g_ji = torch.autograd.grad(V[i], th[j], retain_graph=True)[0].detach()
        g_jj = torch.autograd.grad(V[j], th[j], create_graph=True)[0]
        out.append(torch.autograd.grad(V[i] + eta * (g_ji * g_jj).sum(), th[i])[0])
    return out


@pytest.mark.parametrize("estimator, K", [("causal", 40), ("trajectory", 150)])
def test_sampled_lola_update_matches_exact_lola_on_the_ipd(estimator, K):
    """Averaged over many batches, -grad_i of each player's LOLA-PG loss equals the exact LOLA
    update on the IPD (gamma 0.5, 14 steps: the truncation gamma^14 is far below the standard
    error), within 4 standard errors; the exact naive update does not fit, so the test sees the
    correction term ("trajectory" has more variance: more batches). Large batches: the product of
    two estimates from the same episodes is biased by Cov/E."""
    gamma, eta, T, E = 0.5, 1.0, 14, 1024
    g = torch.Generator().manual_seed(1)
    theta = [0.8 * torch.randn(5, 2, generator=g, dtype=torch.float64) for _ in range(2)]
    exact = _exact_lola_updates(theta, gamma, eta)
    naive = _exact_lola_updates(theta, gamma, 0.0)
    probs = [torch.softmax(t, -1) for t in theta]
    samples = []
    for _ in range(K):
        states, acts, rews = _sample_ipd(probs, E, T, g)
        params = [{"w": t.clone().requires_grad_()} for t in theta]
        out = lola_pg_losses(_tabular_logp(states, acts), params, rews,
                             torch.ones(E, T, dtype=torch.float64), gamma=gamma, lr_correction=eta,
                             estimator=estimator)
        samples.append(torch.cat([-_grad(out["loss"][i], params[i]).reshape(-1) for i in range(2)]))
    samples = torch.stack(samples)
    mean, se = samples.mean(0), samples.std(0) / K ** 0.5
    exact, naive = torch.cat([e.reshape(-1) for e in exact]), torch.cat([n.reshape(-1) for n in naive])
    assert ((mean - exact).abs() <= 4 * se + 1e-3).all(), (mean, exact, se)
    assert ((mean - naive).abs() > 4 * se + 1e-3).any(), "the correction term is too small to be seen"


def _ipd_cooperation_after_training(correction, seed, iters=150, E=64, T=10, gamma=0.9, lr=0.5):
    """Two tabular memory-one players trained with the LOLA-PG update (``lola_pg_losses``, SGD)
    on sampled IPD episodes; returns the final P(C) over 512 fresh episodes."""
    g = torch.Generator().manual_seed(seed)
    theta = [0.5 * torch.randn(5, 2, generator=g, dtype=torch.float64) for _ in range(2)]
    for _ in range(iters):
        states, acts, rews = _sample_ipd([torch.softmax(t, -1) for t in theta], E, T, g)
        params = [{"w": t.clone().requires_grad_()} for t in theta]
        out = lola_pg_losses(_tabular_logp(states, acts), params, rews, torch.ones(E, T, dtype=torch.float64),
                             gamma=gamma, lr_correction=1.0, correction=correction)
        theta = [t - lr * _grad(out["loss"][i], params[i]) for i, t in enumerate(theta)]
    _, acts, _ = _sample_ipd([torch.softmax(t, -1) for t in theta], 512, T, g)
    return float(torch.cat([(a == 0).double().reshape(-1) for a in acts]).mean())


def test_lola_pg_update_cooperates_in_the_ipd_where_naive_pg_defects():
    """LOLA paper's IPD result: LOLA-PG learners reach cooperation, naive PG learners defect. Same
    seeds and initial policies for both; the update rule alone (no RLlib), 150 steps of 64
    episodes of 10 rounds."""
    lola = [_ipd_cooperation_after_training("lola", s) for s in range(4)]
    naive = [_ipd_cooperation_after_training("none", s) for s in range(4)]
    assert max(naive) < 0.05, naive
    assert sum(x > 0.9 for x in lola) >= 2 and np.mean(lola) > np.mean(naive) + 0.3, (lola, naive)


def _algo_ipd_cooperation(correction, seed, iters=40):
    """``LOLAPG`` through ``algo.train()`` on the IPD (10 rounds, gamma 0.9, lr 0.5, 64 episodes
    per step from 16 vector envs, tabular memory-one players): the last iteration's cooperation
    rate of the sampled episodes."""
    algo = (LOLAPGConfig().environment("iterated_prisoners_dilemma", env_config={"horizon": 10})
            .env_runners(num_env_runners=0, num_envs_per_env_runner=16)
            .training(lr=0.5, gamma=0.9, correction=correction, episodes_per_iteration=64,
                      policy_hiddens=[])
            .debugging(seed=seed).build_algo())
    try:
        for _ in range(iters):
            result = algo.train()
        return float(result["env_runners"]["cooperation_rate"])
    finally:
        algo.stop()


@pytest.mark.slow
def test_lola_pg_algorithm_cooperates_in_the_ipd_where_naive_pg_defects(ray_session):
    """The LOLA paper's IPD result through the RLlib algorithm (sampling, connector, Learner):
    with the same seeds and initial policies, naive PG learners end at mutual defection, LOLA-PG
    learners cooperate (after 40 steps here: cooperation 0.95 and 1.0 for seeds 0 and 1, naive
    0.003 and 0.001; sampled LOLA-PG is noisy: seed 2 defects too, and seed 0 drifts down to 0.5
    by step 150)."""
    lola = [_algo_ipd_cooperation("lola", s) for s in (0, 1)]
    naive = [_algo_ipd_cooperation("none", s) for s in (0, 1)]
    assert max(naive) < 0.05, naive
    assert min(lola) > 0.8, (lola, naive)


# ----------------------------------------------------------------- naive = REINFORCE by hand
def test_naive_setting_is_plain_reinforce_on_a_hand_computed_batch():
    """Two episodes (the second one step long, its padded step carries a reward that must not
    count), gamma 0.5: grad V_0 = (1/2) sum_{e,t} gamma^t G_t (onehot(a_t) - pi)."""
    w0 = torch.tensor([[0.2, -0.1]], dtype=torch.float64)
    w1 = torch.tensor([[0.0, 0.3]], dtype=torch.float64)
    states = torch.zeros(2, 2, dtype=torch.long)
    acts = [torch.tensor([[0, 1], [1, 0]]), torch.tensor([[1, 1], [0, 0]])]
    rews = [torch.tensor([[1.0, 2.0], [-1.0, 99.0]], dtype=torch.float64),
            torch.tensor([[0.0, 1.0], [3.0, 99.0]], dtype=torch.float64)]
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    pi = torch.softmax(w0[0], -1).numpy()
    e = np.eye(2)
    # player 0: episode 0: G = [1 + 0.5*2, 2] = [2, 2], gamma^t G = [2, 1]; episode 1: G_0 = -1
    by_hand = 0.5 * (2.0 * (e[0] - pi) + 1.0 * (e[1] - pi) + -1.0 * (e[1] - pi))
    for correction, eta in (("none", 1.0), ("lola", 0.0)):
        params = [{"w": w0.clone().requires_grad_()}, {"w": w1.clone().requires_grad_()}]
        out = lola_pg_losses(_tabular_logp(states, acts), params, rews, mask, gamma=0.5,
                             lr_correction=eta, correction=correction)
        np.testing.assert_allclose(-_grad(out["loss"][0], params[0])[0].numpy(), by_hand)
        other = torch.autograd.grad(out["loss"][0], [params[1]["w"]], allow_unused=True)[0]
        assert other is None or other.abs().sum() == 0  # the other player is a constant
    params = [{"w": w0.clone().requires_grad_()}, {"w": w1.clone().requires_grad_()}]
    with_correction = lola_pg_losses(_tabular_logp(states, acts), params, rews, mask, gamma=0.5,
                                     lr_correction=1.0)
    assert not np.allclose(-_grad(with_correction["loss"][0], params[0])[0].numpy(), by_hand)


# ----------------------------------------------------------------- config errors
@pytest.mark.parametrize("training, match", [
    ({"correction": "taylor"}, "correction"),
    ({"estimator": "dice"}, "estimator"),
    ({"lr_correction": -1.0}, "lr_correction"),
    ({"lr": 5.0}, "'lr'"),
    ({"gamma": 1.5}, "'gamma'"),
    ({"episodes_per_iteration": 0}, "episodes_per_iteration"),
    ({"policy_hiddens": [64, 0]}, "policy_hiddens"),
    ({"share_policy": True}, "share_policy"),
])
def test_bad_config_values_are_refused_with_the_key(training, match):
    cfg = LOLAPGConfig().environment("coin_game").training(**training)
    with pytest.raises(ValueError, match=match):
        cfg.validate()


def test_fewer_episodes_than_learners_is_refused():
    with pytest.raises(ValueError, match="episodes_per_iteration"):
        (LOLAPGConfig().environment("coin_game").learners(num_learners=2)
         .training(episodes_per_iteration=1).validate())


def test_two_learners_take_the_one_learner_step_on_the_same_episodes(ray_session):
    """num_learners=2 (and 2 env runners): each Learner holds a shard of whole episodes (3 + 2,
    unequal on purpose); the first-order factor is summed over the Learners before the product
    with the local second-order term, and the gradients are summed, so both Learners end at the
    one-Learner update on all 5 episodes."""
    from rllib_coopai.core.learner import update_on_whole_episodes
    from rllib_coopai.core.sampling import sample_episodes

    def build(learners):
        return (LOLAPGConfig().environment("coin_game", env_config={"horizon": 6})
                .env_runners(num_env_runners=2 if learners else 0, num_cpus_per_env_runner=0.25)
                .learners(num_learners=learners, num_cpus_per_learner=0.25)
                .training(episodes_per_iteration=5, policy_hiddens=[16], lr=0.5, lr_correction=2.0)
                .debugging(seed=3).build_algo())

    two, one = build(2), build(0)
    try:
        start = _weights(two)
        for k, v in _weights(one).items():
            np.testing.assert_array_equal(v, start[k], err_msg=k)  # same seed, same initial weights
        episodes, _ = sample_episodes(two, 5)
        assert len(episodes) >= 5
        episodes = episodes[:5]
        update_on_whole_episodes(two, episodes)  # what LOLAPG.training_step runs
        update_on_whole_episodes(one, episodes)
        per_learner = [r.get() for r in two.learner_group.foreach_learner(
            lambda l: {f"{m}/{k}": v.detach().numpy().copy()
                       for m in l.module.keys() for k, v in l.module[m].state_dict().items()})]
        assert len(per_learner) == 2
        expected = _weights(one)
        moved = 0
        for k, v in expected.items():
            moved += not np.allclose(v, start[k])
            for w in per_learner:
                np.testing.assert_allclose(w[k], v, rtol=1e-5, atol=1e-6, err_msg=k)
        assert moved, "the update changed no parameter"
    finally:
        two.stop()
        one.stop()


def test_lola_pg_functions_refuse_unknown_choices():
    args = (lambda i, p: None, [], [], torch.ones(1, 1))
    with pytest.raises(ValueError, match="correction must be one of"):
        lola_pg_losses(*args, gamma=0.9, lr_correction=1.0, correction="exact")
    with pytest.raises(ValueError, match="estimator must be one of"):
        lola_pg_losses(*args, gamma=0.9, lr_correction=1.0, estimator="dice")


# ----------------------------------------------------------------- RLlib run + restore
def _coin_game_algo():
    return (LOLAPGConfig().environment("coin_game", env_config={"horizon": 8})
            .env_runners(num_env_runners=1)
            .training(episodes_per_iteration=4, policy_hiddens=[16])
            .debugging(seed=0).build_algo())


def _weights(algo):
    state = algo.learner_group.get_state(components="learner/rl_module")["learner"]["rl_module"]
    return {f"{m}/{k}": np.asarray(v) for m, s in state.items() for k, v in s.items()}


def test_coin_game_trains_and_restores_from_a_checkpoint(ray_session, tmp_path):
    algo = _coin_game_algo()
    try:
        before = _weights(algo)
        for _ in range(2):
            result = algo.train()
        after = _weights(algo)
        assert result["training_iteration"] == 2
        assert result["num_env_steps_sampled_lifetime"] >= 2 * 4 * 8
        lola = result["learners"]["lola_pg"]
        assert set(lola) == {"correction_player_0", "correction_player_1"}
        assert all(np.isfinite(v) for v in lola.values())
        assert any(not np.allclose(before[k], after[k]) for k in before), "no parameter moved"
        algo.save_to_path(str(tmp_path / "ckpt"))
    finally:
        algo.stop()
    algo = _coin_game_algo()  # a fresh algorithm, as after a restart
    try:
        algo.restore_from_path(str(tmp_path / "ckpt"))
        restored = _weights(algo)
        for k in after:
            np.testing.assert_array_equal(restored[k], after[k], err_msg=k)
        # the remote env runner samples with the restored policies
        runner = algo.env_runner_group.foreach_env_runner(
            lambda r: {m: {k: np.asarray(v) for k, v in s.items()}
                       for m, s in r.module.get_state(inference_only=True).items()},
            local_env_runner=False)[0]
        for m, s in runner.items():
            for k, v in s.items():
                np.testing.assert_array_equal(v, after[f"{m}/{k}"], err_msg=f"{m}/{k}")
        got = algo.train()
        assert got["training_iteration"] == 3
        assert any(not np.allclose(restored[k], _weights(algo)[k]) for k in restored)
    finally:
        algo.stop()
