"""AMD opponent modelling (AMD thesis §4.1.4, eq. 4.6): the planner plugs the maximum-likelihood
estimate of the learners' parameters, fitted from their observed actions, into eq. 4.3.

Estimator oracles on synthetic actions (closed-form tabular MLE, decayed window, gradient MLE of a
policy network), the exact surrogate with theta_hat equal to the one with the true theta when the
estimate is exact, a CI-sized learning run on the greed/fear PD, checkpoints and config errors."""
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rllib_coopai.algorithms.amd import AMDConfig, AMD
from rllib_coopai.algorithms.amd.learner import exact_planner_objective
from rllib_coopai.core.opponent_model import (
    FittedPolicy,
    TabularMLE,
    params_for_policy,
    tabular_mle_probs,
)
from rllib_coopai.modules.designer_module import CategoricalPolicyModule
from rllib_coopai.core.differentiable import call_with, named_params


def policy_module(n_actions=2, obs_dim=5, hidden=(), binary=True, init_prob=0.25):
    return CategoricalPolicyModule(
        observation_space=spaces.Box(0.0, 1.0, (obs_dim,), np.float32),
        action_space=spaces.Discrete(n_actions),
        model_config={"hidden": list(hidden), "binary_logit": binary, "init_prob": init_prob})


def probs_of(module, params, obs):
    return torch.softmax(call_with(module, params, obs, method="logits"), -1)


def test_tabular_mle_recovers_known_policies_from_synthetic_actions():
    rng = np.random.default_rng(0)
    obs0 = torch.zeros(1, 5)
    obs0[0, -1] = 1.0
    for n_actions, p_true in ((2, [0.3, 0.7]), (3, [0.5, 0.2, 0.3])):
        module = policy_module(n_actions, binary=n_actions == 2, init_prob=None)
        est = TabularMLE([module], [n_actions], decay=1.0, prior=1.0, seed=0)
        for a in rng.choice(n_actions, size=20000, p=p_true):
            est.observe([a])
        p_hat = est.probs()[0]
        np.testing.assert_allclose(p_hat.numpy(), p_true, atol=0.015)
        # theta_hat is a parameter set of the learner's class whose policy IS p_hat.
        theta = est.params()[0]
        np.testing.assert_allclose(probs_of(module, theta, obs0)[0].detach().numpy(),
                                   p_hat.numpy(), rtol=1e-5)
        if n_actions == 2:  # the scalar parameterisation of AMD thesis §4.2: theta = logit P(C)
            bias = [v for k, v in theta.items() if k.endswith("bias")][-1]
            assert float(bias) == pytest.approx(float(torch.log(p_hat[0] / p_hat[1])), rel=1e-5)
    # Smoothing: the closed form with prior pseudo-counts, exact numbers.
    np.testing.assert_allclose(tabular_mle_probs(torch.tensor([3.0, 0.0]), 1.0).numpy(),
                               [3.5 / 4.0, 0.5 / 4.0])


def test_decayed_counts_follow_the_recent_policy():
    """decay 0.95 -> window ~20 rounds: after 200 rounds of a new policy the old one is forgotten."""
    rng = np.random.default_rng(1)
    est = TabularMLE([policy_module()], [2], decay=0.95, prior=1.0, seed=0)
    for a in rng.choice(2, size=500, p=[0.9, 0.1]):
        est.observe([a])
    assert float(est.probs()[0][0]) > 0.7
    for a in rng.choice(2, size=200, p=[0.1, 0.9]):
        est.observe([a])
    assert float(est.probs()[0][0]) < 0.3
    # Expected weight of the last 200 rounds: 1 - 0.95**200 (~1): a plain MLE would say ~0.7.


def test_fitted_policy_recovers_a_state_dependent_policy():
    """Gradient MLE (pg mode) of an MLP learner from its (obs, action) pairs in two states."""
    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    module = policy_module(2, obs_dim=2, hidden=(8,), binary=False, init_prob=None)
    true = {0: 0.85, 1: 0.2}  # P(action 0 | state)
    fit = FittedPolicy([module], window=4, fit_steps=60, lr=0.05, seed=0)
    for _ in range(8):
        s = rng.integers(0, 2, size=400)
        a = np.array([0 if rng.random() < true[x] else 1 for x in s])
        obs = torch.tensor(np.eye(2, dtype=np.float32)[s])
        nll = fit.fit([(obs, torch.tensor(a), torch.ones(len(a)))])
    p = probs_of(module, fit.params[0], torch.eye(2))[:, 0].detach().numpy()
    np.testing.assert_allclose(p, [true[0], true[1]], atol=0.06)
    entropy = -sum(q * np.log(q) + (1 - q) * np.log(1 - q) for q in true.values()) / 2
    assert nll[0] == pytest.approx(entropy, abs=0.05)  # at the MLE, NLL ~ the policy's entropy
    # The learner's own parameters were never touched.
    assert all(torch.count_nonzero(v) == 0 for k, v in named_params(module).items()
               if k.startswith("net.1"))


def test_exact_surrogate_with_true_estimate_equals_the_one_with_theta():
    """eq. 4.3 with theta_hat (weights 0, bias = logit) == with the learners' actual tabular theta
    (weights != 0) whenever both give the same policy: the planner's gradient is the same."""
    torch.manual_seed(3)
    payoffs = torch.tensor([[[3.0, 3.0], [0.0, 4.0]], [[4.0, 0.0], [1.0, 1.0]]])
    modules = [policy_module(init_prob=None), policy_module(init_prob=None)]
    obs0 = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0]])
    true = [{k: torch.randn_like(v) for k, v in named_params(m).items()} for m in modules]
    p_true = [probs_of(m, t, obs0)[0].detach() for m, t in zip(modules, true)]
    hat = [params_for_policy(m, p) for m, p in zip(modules, p_true)]
    assert any(torch.count_nonzero(v) > 0 for k, v in true[0].items() if k.endswith("weight"))
    w = torch.randn(4, requires_grad=True)

    def grad(params):
        rp = torch.tanh(w).reshape(2, 2, 1) * torch.tensor([1.0, -0.5])  # any planner table
        leaf = [{k: v.detach().clone().requires_grad_(True) for k, v in p.items()} for p in params]
        J = exact_planner_objective(leaf, lambda i, p: probs_of(modules[i], p, obs0)[0],
                                    payoffs, rp, [0.01, 0.01], 0.0002)
        return torch.autograd.grad(J, w)[0]

    # With all-zero weights the bias alone carries the logit; the true learner's logit
    # W.obs0 + b has the gradient on W as well, and obs0 = (0,0,0,0,1) doubles it like the bias.
    g_true, g_hat = grad(true), grad(hat)
    np.testing.assert_allclose(g_hat.numpy(), g_true.numpy(), rtol=1e-5, atol=1e-9)
    assert float(g_true.abs().max()) > 1e-6


def om_amd(env="greed_fear", **training):
    kw = dict(updates_per_iteration=400, episodes_per_iteration=20, opponent_model=True)
    kw.update(training)
    return (AMDConfig().environment(env).env_runners(num_env_runners=0).debugging(seed=0)
            .training(**kw))


def test_opponent_model_planner_drives_greed_fear_pd_to_cooperation(ray_session):
    """AMD thesis eq. 4.6 with the exact variant: 4000 rounds, the planner sees only the actions."""
    algo = om_amd().build_algo()
    try:
        out = [algo.train() for _ in range(10)]
    finally:
        algo.stop()
    last = out[-1]["learners"]
    assert last["exact"]["p_all_cooperate"] > 0.9
    assert out[-1]["env_runners"]["p_all_cooperate"] > 0.75          # sampled play agrees
    p_hat = last["opponent_model"]["p_hat_player_0"]
    assert p_hat == pytest.approx(last["exact"]["p_cooperate_player_0"], abs=0.08)
    assert out[0]["learners"]["exact"]["p_all_cooperate"] < last["exact"]["p_all_cooperate"]


def test_opponent_model_pg_runs_and_checkpoint_restores(ray_session, tmp_path):
    cfg = om_amd(gradient="pg", updates_per_iteration=1, om_fit_steps=5)
    algo = cfg.build_algo()
    try:
        for _ in range(3):
            res = algo.train()
        assert "nll_player_0" in res["learners"]["opponent_model"]
        learner = algo.learner_group._learner
        before = learner._om.get_state()
        path = algo.save_to_path(str(tmp_path / "ckpt"))
    finally:
        algo.stop()
    restored = AMD.from_checkpoint(path)
    try:
        after = restored.learner_group._learner._om.get_state()
        for a, b in zip(before["params"], after["params"]):
            for k in a:
                np.testing.assert_allclose(a[k].numpy(), b[k].numpy())
        assert len(after["windows"][0]) == len(before["windows"][0]) == 3
        restored.train()
    finally:
        restored.stop()


def test_opponent_model_config_errors():
    with pytest.raises(ValueError, match="opponent_model must be true or false"):
        AMDConfig().environment("greed_fear").training(opponent_model="yes").validate()
    with pytest.raises(ValueError, match="om_decay"):
        AMDConfig().environment("greed_fear").training(opponent_model=True, om_decay=0.0).validate()
    with pytest.raises(ValueError, match="learner_hidden must be"):
        (AMDConfig().environment("greed_fear")
         .training(opponent_model=True, learner_hidden=[8]).validate())
