"""LIO oracles (exact LIO step of LIO thesis App. B.2, incentive bounds,
zero meta-gradient without recipient learning, gradient checks) through the package's own code.

No Ray here: the update functions (``rllib_coopai.core.differentiable``, the ones the learner
calls) and the RLModule are exercised directly.
"""
import gymnasium as gym
import numpy as np
import pytest
import torch

from rllib_coopai.core.differentiable import gradient, meta_gradient, sgd_step
from rllib_coopai.core.returns import discounted_returns
from rllib_coopai.modules.lio_module import LIOTorchRLModule

torch.set_num_threads(1)


# ------------------------------------------------------------------ exact LIO in the IPD (§1.10)
def _ipd_values(th1, th2, eta1, eta2, gamma):
    """V^1, V^2 of eqs B.1-B.3 (theta = P(cooperate); eta^i = [eta_C, eta_D] paid by i)."""
    p = torch.stack([th1 * th2, th1 * (1 - th2), (1 - th1) * th2, (1 - th1) * (1 - th2)])
    r1 = torch.stack([-1 + eta2[0], -3 + eta2[0], 0 + eta2[1], -2 + eta2[1]])  # (B.2)
    r2 = torch.stack([-1 + eta1[0], 0 + eta1[1], -3 + eta1[0], -2 + eta1[1]])  # (B.3)
    return p @ r1 / (1 - gamma), p @ r2 / (1 - gamma)


def _exact_lio_step(th1, th2, eta1, eta2, alpha, beta, gamma):
    """One exact-LIO iteration with the package's sgd_step / meta_gradient."""
    f64 = dict(dtype=torch.float64, requires_grad=True)
    theta = {1: {"th": torch.tensor(th1, **f64)}, 2: {"th": torch.tensor(th2, **f64)}}
    eta = {1: {"eta": torch.tensor(eta1, **f64)}, 2: {"eta": torch.tensor(eta2, **f64)}}
    v1, v2 = _ipd_values(theta[1]["th"], theta[2]["th"], eta[1]["eta"], eta[2]["eta"], gamma)
    # recipients ascend their value including received incentives (5.3): loss = -V
    theta_hat = {
        1: sgd_step(theta[1], -v1, alpha, reduce="sum"),
        2: sgd_step(theta[2], -v2, alpha, reduce="sum"),
    }
    # givers ascend their value at theta_hat through theta_hat(eta) (B.6)
    w1, w2 = _ipd_values(theta_hat[1]["th"], theta_hat[2]["th"], eta[1]["eta"].detach(), eta[2]["eta"].detach(), gamma)
    g1 = meta_gradient({2: theta_hat[2]}, eta[1], outer_loss=-w1)["eta"]
    g2 = meta_gradient({1: theta_hat[1]}, eta[2], outer_loss=-w2)["eta"]
    # plain gradient ascent with lr beta on V (eq. B.6 as printed has an extra 1/(1-gamma) that
    # V of B.1 already contains)
    return (
        theta_hat[1]["th"].item() - th1,
        theta_hat[2]["th"].item() - th2,
        (-beta * g1).detach().numpy(),
        (-beta * g2).detach().numpy(),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_lio_ipd_step_matches_closed_form(seed):
    """Oracle 3: dtheta^2 = a/(1-g)(eta1_C - eta1_D - 1); deta^1 = 2 b a/(1-g)^2 [1, -1] for any state."""
    rng = np.random.default_rng(seed)
    alpha, beta, gamma = 0.1, 0.1, 0.9
    th1, th2 = rng.uniform(0, 1, 2)
    eta1, eta2 = rng.uniform(0, 3, 2), rng.uniform(0, 3, 2)
    d1, d2, de1, de2 = _exact_lio_step(th1, th2, eta1, eta2, alpha, beta, gamma)
    assert d2 == pytest.approx(alpha / (1 - gamma) * (eta1[0] - eta1[1] - 1), rel=1e-5, abs=1e-6)
    assert d1 == pytest.approx(alpha / (1 - gamma) * (eta2[0] - eta2[1] - 1), rel=1e-5, abs=1e-6)
    expected = 2 * beta * alpha / (1 - gamma) ** 2 * np.array([1.0, -1.0])  # B_2 = B_1 = 2
    np.testing.assert_allclose(de1, expected, rtol=1e-5)
    np.testing.assert_allclose(de2, expected, rtol=1e-5)


def test_exact_lio_ipd_worked_example():
    """Oracle 3 example: a=b=0.1, g=0.9: deta^1=[+2,-2]; eta^1=[.5,.5] -> dtheta^2=-1; then +3."""
    d1, d2, de1, _ = _exact_lio_step(0.5, 0.5, [0.5, 0.5], [0.5, 0.5], 0.1, 0.1, 0.9)
    assert d2 == pytest.approx(-1.0, abs=1e-5)
    np.testing.assert_allclose(de1, [2.0, -2.0], rtol=1e-5)
    eta1 = np.array([0.5, 0.5]) + de1
    np.testing.assert_allclose(eta1, [2.5, -1.5], rtol=1e-5)
    _, d2b, _, _ = _exact_lio_step(0.5, 0.4, eta1, [0.5, 0.5], 0.1, 0.1, 0.9)
    assert d2b == pytest.approx(3.0, abs=1e-5)


# ------------------------------------------------------------------ module: incentive bounds
def _module(n_agents, idx, r_max, obs_dim=5, n_actions=2, image=False):
    obs_space = gym.spaces.Box(0, 1, (7, 7, 3) if image else (obs_dim,), np.float32)
    return LIOTorchRLModule(
        observation_space=obs_space,
        action_space=gym.spaces.Discrete(n_actions),
        model_config={
            "agent_index": idx, "n_agents": n_agents, "other_action_dims": [n_actions] * (n_agents - 1),
            "r_max": r_max, "policy_hiddens": [16, 8], "incentive_hiddens": [16, 8],
            "use_critic": image,
        },
    )


@pytest.mark.parametrize("n_agents,idx,r_max,image", [(2, 0, 3.0, False), (3, 1, 2.0, False), (5, 4, 2.0, False), (2, 1, 2.0, True)])
def test_incentive_bounds(n_agents, idx, r_max, image):
    """Oracle 16: every payment in [0, R_max]; the giver's own entry is exactly 0."""
    torch.manual_seed(0)
    mod = _module(n_agents, idx, r_max, image=image)
    with torch.no_grad():  # push the pre-activations far into both tails
        for p in mod.inc_net.parameters():
            p.mul_(50.0)
    obs = torch.rand(256, 7, 7, 3) * 4 - 2 if image else torch.randn(256, 5) * 10
    acts = torch.nn.functional.one_hot(torch.randint(0, 2, (256, n_agents - 1)), 2).reshape(256, -1).float()
    pay = mod.incentives(obs, acts)
    assert pay.shape == (256, n_agents)
    assert torch.all(pay >= 0) and torch.all(pay <= r_max)
    assert torch.all(pay[:, idx] == 0)
    others = [k for k in range(n_agents) if k != idx]
    assert pay[:, others].max() > 0.9 * r_max and pay[:, others].min() < 0.1 * r_max  # the range is used
    assert mod.inc_net[-1].bias is None  # output layer without bias (the authors' code, networks.py)


def test_exploration_floor_mixes_policy():
    """LIO thesis §5.3.2: behaviour policy = (1-eps) pi + eps/|A|; inference uses the plain policy."""
    mod = _module(2, 0, 3.0)
    with torch.no_grad():
        mod.epsilon.fill_(0.4)
    obs = torch.randn(4, 5)
    pi = torch.softmax(mod.policy_logits(obs), -1)
    mixed = torch.exp(mod._forward_exploration({"obs": obs})["action_dist_inputs"])
    torch.testing.assert_close(mixed, 0.6 * pi + 0.4 / 2)
    torch.testing.assert_close(mod._forward_inference({"obs": obs})["action_dist_inputs"], mod.policy_logits(obs))


# ------------------------------------------------------------------ gradients
def test_discounted_returns_matches_loop():
    torch.manual_seed(0)
    r = torch.randn(3, 6)
    mask = torch.ones(3, 6)
    mask[1, 4:] = 0
    G = discounted_returns(r, 0.9, mask)
    for e in range(3):
        for t in range(6):
            want = sum(0.9 ** (l - t) * r[e, l] * mask[e, l] for l in range(t, 6))
            assert G[e, t].item() == pytest.approx(float(want), abs=1e-5)


def test_meta_gradient_matches_finite_differences():
    """d outer(theta_hat(eta)) / d eta from meta_gradient equals central differences."""
    torch.manual_seed(0)
    W = torch.randn(4, 3, dtype=torch.float64)
    x = torch.randn(6, 4, dtype=torch.float64)
    a = torch.randint(0, 3, (6,))
    G = torch.randn(6, dtype=torch.float64)

    def theta_hat_of(eta_vec, create_graph=True):
        theta = {"w": W.clone().requires_grad_(True)}
        logp = torch.log_softmax(x @ theta["w"], -1).gather(1, a[:, None]).squeeze(1)
        bonus = torch.sigmoid(x @ eta_vec)  # incentive received at each step
        return sgd_step(theta, -(logp * (G + bonus)).sum(), 0.3, create_graph=create_graph, reduce="sum")

    def outer(th):
        logp = torch.log_softmax(x @ th["w"], -1).gather(1, a[:, None]).squeeze(1)
        return -(logp * G.flip(0)).sum()

    eta = torch.randn(4, dtype=torch.float64, requires_grad=True)
    th = theta_hat_of(eta)
    grad = meta_gradient({1: th}, {"e": eta}, outer_loss=outer(th))["e"]
    fd = torch.zeros(4, dtype=torch.float64)
    for k in range(4):
        d = torch.zeros(4, dtype=torch.float64)
        d[k] = 1e-6
        fd[k] = (outer(theta_hat_of(eta + d)) - outer(theta_hat_of(eta - d))) / 2e-6
    torch.testing.assert_close(grad, fd, rtol=1e-5, atol=1e-8)


def test_zero_recipient_lr_gives_zero_meta_gradient():
    """Oracle 17 at function level: recipients' lr 0 => meta-gradient exactly 0; the cost still moves eta."""
    torch.manual_seed(0)
    x = torch.randn(6, 4)
    eta = {"e": torch.randn(4, requires_grad=True)}
    theta = {"w": torch.randn(4, 3, requires_grad=True)}
    bonus = torch.sigmoid(x @ eta["e"])
    logp = torch.log_softmax(x @ theta["w"], -1)[:, 0]
    th = sgd_step(theta, -(logp * bonus).sum(), 0.0, reduce="sum")
    meta = meta_gradient({1: th}, eta, outer_loss=-torch.log_softmax(x @ th["w"], -1)[:, 1].sum())["e"]
    assert torch.count_nonzero(meta) == 0
    cost = gradient(bonus.sum(), eta)["e"]
    assert cost.abs().sum() > 0
