"""AMD with the thesis's stochastic actor-critic players (``learner_rule="actor_critic"``, AMD thesis
§4.2 / Algorithm 1, Tables 4.2-4.3): one actor-critic step against a hand computation, the one-round
"estimated V" factors (eqs. 4.4-4.5) against the exact gradients, checkpoint continuation, config
errors, and a short learning run (the planner lifts P(CC) in the PD; without it the players defect)."""
import numpy as np
import pytest
import torch

from rllib_coopai.algorithms.amd import AMD, AMDConfig
from rllib_coopai.algorithms.amd.learner import (
    AMDLearner,
    estimated_planner_objective,
    estimated_value_gradients,
    exact_values,
    joint_probs,
)
from rllib_coopai.algorithms.common import probe_env
from rllib_coopai.core.differentiable import named_params
from rllib_coopai.wrappers.designer import DESIGNER_ID

PD = torch.tensor([[[3.0, 3.0], [0.0, 4.0]], [[4.0, 0.0], [1.0, 1.0]]], dtype=torch.float64)  # C = 0


def ac(env="greed_fear", **training):
    kw = dict(learner_rule="actor_critic", updates_per_iteration=100, episodes_per_iteration=1)
    kw.update(training)
    return (AMDConfig().environment(env).env_runners(num_env_runners=0).debugging(seed=0)
            .training(**kw))


def learner_of(cfg):
    cfg.validate()
    return cfg.build_learner(env=probe_env(cfg))


def theta(learner, aid):
    """The player's logit of C (binary logit: P(C) = sigmoid(theta))."""
    with torch.no_grad():
        return float(learner.module[aid].logits(learner._obs0[aid])[0, 0])


def one_step(learner):
    losses = learner.compute_losses(fwd_out={}, batch={})
    learner.apply_gradients(learner.compute_gradients(losses))


def test_actor_critic_step_matches_hand_computation():
    """Plain SGD, scalar critics at 0: delta_i = r_i + r^p_i (v = 0), theta_i += lr * delta_i *
    d log pi_i(a_i) / d theta_i (= 1 - p for C, -p for D), v_i += lr_c * sign(delta_i) (its Adam's
    first step); the payments
    are the planner's outputs at the sampled round (synchronous step). Then the code's centralized
    critic with Adam: delta_i = r_tot - (1 - gamma) v_i(o, p_1, p_2), first Adam step = lr * sign."""
    lr, lr_c = 0.1, 0.05
    learner = learner_of(ac(ac_critic="scalar", learner_optimizer="sgd", learner_lr=lr, ac_critic_lr=lr_c))
    agents = ["player_0", "player_1"]
    th0 = [theta(learner, a) for a in agents]
    rp = learner._rp_table().detach()
    one_step(learner)
    act = learner._last_round
    payoff = learner._payoffs[act]
    for i, a in enumerate(agents):
        p = 1.0 / (1.0 + np.exp(-th0[i]))
        assert p == pytest.approx(0.25, abs=1e-6)                      # AMD thesis §4.2: P(C) = 0.25
        delta = float(payoff[i] + rp[act][i])
        dlogp = (1.0 - p) if act[i] == 0 else -p
        assert theta(learner, a) == pytest.approx(th0[i] + lr * delta * dlogp, rel=1e-5, abs=1e-7)
        # the critic's own Adam (the code's): first step = lr_c * sign(-d delta^2 / dv) = lr_c * sign(delta)
        assert float(learner._critics[a].value) == pytest.approx(lr_c * np.sign(delta), rel=1e-5)

    learner = learner_of(ac(max_reward=1e-9))   # centralized critic, Adam; payments ~ 0
    th0 = [theta(learner, a) for a in agents]
    probs = [torch.tensor([0.25, 0.75])] * 2
    v = [float(learner._critic_value(i, probs)) for i in range(2)]
    one_step(learner)
    act = learner._last_round
    for i, a in enumerate(agents):
        delta = float(learner._payoffs[act][i]) - (1 - 0.9) * v[i]    # r + gamma v - v, ac_gamma 0.9
        sign = np.sign(delta * (0.75 if act[i] == 0 else -0.25))
        assert theta(learner, a) - th0[i] == pytest.approx(0.01 * sign, rel=1e-4)


def test_estimated_v_factors_are_unbiased_and_the_product_is_the_codes():
    """Eqs. 4.4-4.5 from one round: averaged over the joint-action distribution, g_i r^p_i(a) is
    exactly grad_i V_i^p and g_i (W(a) - b) exactly grad_i V (any constant b); the planner surrogate
    is their one-round product eta ||g_i||^2 r^p_i(a) (W(a) - b) (the authors' code), whose
    expectation is NOT eq. 4.3's product of expectations (checked: it differs)."""
    torch.manual_seed(0)
    th = [torch.tensor([-1.0986], dtype=torch.float64, requires_grad=True),
          torch.tensor([0.4], dtype=torch.float64, requires_grad=True)]
    rp_table = torch.randn(2, 2, 2, dtype=torch.float64)
    b, eta = 3.9, 0.01

    def probs():
        return [torch.cat([torch.sigmoid(t), 1 - torch.sigmoid(t)]) for t in th]

    P = joint_probs([p.detach() for p in probs()])
    W = PD.sum(-1)
    mean_vp = [torch.zeros(1, dtype=torch.float64) for _ in range(2)]
    mean_v = [torch.zeros(1, dtype=torch.float64) for _ in range(2)]
    mean_J = 0.0
    for a in np.ndindex(2, 2):
        lp = [torch.log(probs()[i][a[i]]) for i in range(2)]
        glogp = [[torch.autograd.grad(lp[i], th[i])[0]] for i in range(2)]
        g_vp, g_v = estimated_value_gradients(glogp, rp_table[a], W[a], b)
        for i in range(2):
            mean_vp[i] += P[a] * g_vp[i][0]
            mean_v[i] += P[a] * g_v[i][0]
        J = estimated_planner_objective(glogp, rp_table[a], W[a], b, [eta, eta], 0.0)
        hand = sum(eta * float(glogp[i][0]) ** 2 * float(rp_table[a][i]) * float(W[a] - b) for i in range(2))
        assert float(J) == pytest.approx(hand, rel=1e-12)
        mean_J += float(P[a]) * float(J)
    exact_J = 0.0
    for i in range(2):
        g_vp_exact = torch.autograd.grad(exact_values(probs(), rp_table)[i], th[i])[0]
        g_v_exact = torch.autograd.grad(exact_values(probs(), PD).sum(), th[i])[0]
        np.testing.assert_allclose(mean_vp[i].numpy(), g_vp_exact.numpy(), rtol=1e-10)
        np.testing.assert_allclose(mean_v[i].numpy(), g_v_exact.numpy(), rtol=1e-10)
        exact_J += eta * float(g_vp_exact * g_v_exact)
    assert abs(mean_J - exact_J) > 1e-4 * abs(exact_J)   # one-round product: biased (E[XY] != E[X]E[Y])


def test_linearized_exact_v_matches_the_codes_closed_form():
    """``exact_v_form="linearized"``: at every round, J = sum_i eta g_i * d r~^p_i/d a_i * g_V_i with
    g_i = p_i (1 - p_i), r~^p_i = 6 (sigmoid(w_i . x + b_i) - 0.5) (c = 3) differentiated along
    player i's C-minus-D input, and the authors' code's exact g_V_i = g_i [p_j (2R - T - S) +
    (1 - p_j)(T + S - 2P)] (PD: 0.375 at P(C) = 0.25, AMD-thesis §4.2 initial policies)."""
    learner = learner_of(ac(exact_v_form="linearized", cost_weight=0.0))
    own = [named_params(learner.module[a]) for a in ("player_0", "player_1")]
    lin = learner.module[DESIGNER_ID].net[-1]
    w, b = lin.weight.detach().double(), lin.bias.detach().double()
    p = 0.25
    g = p * (1 - p)
    g_v = g * (p * (2 * 3 - 4 - 0) + (1 - p) * (4 + 0 - 2 * 1))
    assert g_v == pytest.approx(0.375)
    for act in np.ndindex(2, 2):
        J = learner._linearized_objective(own, act, learner._rp_table())
        x = learner._dobs_all[int(np.ravel_multi_index(act, (2, 2)))].double()
        sig = torch.sigmoid(w @ x + b)
        off = x.shape[0] - 4
        hand = sum(0.01 * g * 6 * float(sig[i] * (1 - sig[i])) * float(w[i, off + 2 * i] - w[i, off + 2 * i + 1])
                   * g_v for i in range(2))
        assert float(J) == pytest.approx(hand, rel=1e-4)
        grads = torch.autograd.grad(J, list(learner.module[DESIGNER_ID].parameters()))
        assert any(float(x.abs().sum()) > 0 for x in grads)     # the planner learns through it


def test_actor_critic_checkpoint_continues_identically(ray_session, tmp_path):
    cfg = ac(gradient="pg", updates_per_iteration=20)
    algo = cfg.build_algo()
    try:
        for _ in range(2):
            algo.train()
        path = algo.save_to_path(str(tmp_path / "ckpt"))
        res = algo.train()
        want = {m: {k: v.numpy().copy() for k, v in algo.get_module(m).state_dict().items()}
                for m in ("player_0", "player_1", DESIGNER_ID)}
        want_v = res["learners"]["actor_critic"]["value_player_0"]
    finally:
        algo.stop()
    restored = AMD.from_checkpoint(path)
    try:
        res = restored.train()
        for m, sd in want.items():
            for k, v in sd.items():
                np.testing.assert_array_equal(v, restored.get_module(m).state_dict()[k].numpy())
        assert res["learners"]["actor_critic"]["value_player_0"] == want_v
    finally:
        restored.stop()


class _NaNInSecondUpdate(AMDLearner):
    """Makes the 3rd of the 5 synchronous steps of the 2nd Learner update non-finite: the steps
    before it move the players and their critics, the steps after it log finite losses over it
    (the guard must see the step's loss itself)."""

    def compute_losses(self, *, fwd_out, batch, **kwargs):
        losses = super().compute_losses(fwd_out=fwd_out, batch=batch, **kwargs)
        self._poison_step = getattr(self, "_poison_step", 0) + 1
        if getattr(self, "_nonfinite_updates", 0) == 2 and self._poison_step % 5 == 3:
            losses = {k: v * float("nan") for k, v in losses.items()}
        return losses


def test_skipped_nonfinite_update_puts_the_critics_back_too(ray_session):
    """With ``skip_nonfinite_updates`` a non-finite update is undone for the critics (which the
    Learner keeps outside the players' RLModules) as for the players: after the skipped update
    every player, the planner and every critic hold the weights of before it."""
    algo = ac(updates_per_iteration=5, skip_nonfinite_updates=True,
              learner_class=_NaNInSecondUpdate).build_algo()
    try:
        algo.train()
        learner = algo.learner_group._learner

        def weights():
            mods = {m: {k: v.detach().clone() for k, v in learner.module[m].state_dict().items()}
                    for m in ("player_0", "player_1", DESIGNER_ID)}
            mods.update({f"critic_{a}": {k: v.detach().clone() for k, v in c.state_dict().items()}
                         for a, c in learner._critics.items()})
            return mods

        before = weights()
        res = algo.train()
        assert res["learners"]["__all_modules__"]["nonfinite_updates_skipped"] == 1
        after = weights()
        for m, sd in before.items():
            for k, v in sd.items():
                assert torch.equal(v, after[m][k]), (m, k)
        res = algo.train()  # training goes on from there, with finite critics
        assert res["learners"]["__all_modules__"]["nonfinite_updates_skipped"] == 0
        moved = weights()
        assert any(not torch.equal(v, moved["critic_player_0"][k])
                   for k, v in before["critic_player_0"].items())
    finally:
        algo.stop()


def test_actor_critic_bad_config():
    with pytest.raises(ValueError, match="learner_rule must be one of.*actor_critic"):
        AMDConfig().environment("greed_fear").training(learner_rule="reinforce").validate()
    with pytest.raises(ValueError, match="learner_rule='actor_critic' needs a one-shot matrix game"):
        AMDConfig().environment("escape_room").training(learner_rule="actor_critic").validate()
    with pytest.raises(ValueError, match="ac_critic must be one of"):
        ac(ac_critic="mlp").validate()
    with pytest.raises(ValueError, match="ac_gamma"):
        ac(ac_gamma=1.0).validate()
    with pytest.raises(ValueError, match="ac_critic_hidden"):
        ac(ac_critic_hidden=[0]).validate()
    with pytest.raises(ValueError, match="opponent_model"):
        ac(opponent_model=True).validate()
    with pytest.raises(ValueError, match="exact_v_form must be one of"):
        ac(exact_v_form="code").validate()
    with pytest.raises(ValueError, match="exact_v_form='linearized'.*needs learner_rule='actor_critic'"):
        AMDConfig().environment("greed_fear").training(exact_v_form="linearized").validate()
    with pytest.raises(ValueError, match="estimated_baseline"):
        ac(estimated_baseline="T+S").validate()


def test_actor_critic_planner_lifts_cooperation_in_pd(ray_session):
    """1000 rounds with actor-critic players in the PD: with the exact-V planner P(CC) > 0.8
    (it passes 0.89 after 500 rounds here); without a planner (turned off at 0) P(CC) < 0.03."""
    def final(cfg, iters=10):
        algo = cfg.build_algo()
        try:
            return [algo.train() for _ in range(iters)][-1]["learners"]
        finally:
            algo.stop()

    on = final(ac())
    off = final(ac(turn_off_after=0))
    assert on["exact"]["p_all_cooperate"] > 0.8
    assert on["actor_critic"]["aar"] > 0.0
    assert off["exact"]["p_all_cooperate"] < 0.03
    assert off["actor_critic"]["aar"] == 0.0
