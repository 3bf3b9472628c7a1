"""DCL gradient checks and exact-value oracles (DCL paper eqs. (3)-(5), (10), Proposition 2.1;
hand-computed instances).

* The package's exact evaluation (eq. 10) reproduces hand-computed values.
* The score-function estimators of Lemma 3.1 computed by the learner's own loss function
  (``dcl_agent_terms``) on a large sampled batch match the exact gradients of eq. 10.
* The IC term (eq. 7) takes the listed values and is zero when proposals equal the actions.
* Proposition 2.1's profile is an equilibrium: every unilateral deviation value of its proof (DCL paper App. 9).
"""
import itertools

import pytest
import torch

from rllib_coopai.algorithms.dcl.exact import (
    deterministic,
    exact_value,
    own_first_to_joint,
    table_commit_fn,
    table_q_fn,
    unilateral_deviation_values,
)
from rllib_coopai.algorithms.dcl.losses import dcl_agent_terms
from rllib_coopai.envs.matrix_games import PD_PAYOFFS

C, D = 0, 1
SIZES = [2, 2]
PHI = [[0.8, 0.2], [0.6, 0.4]]
PSI1 = [[0.9, 0.2], [0.7, 0.1]]  # own first: rows own proposal, cols other's
PSI2 = [[0.5, 0.3], [0.6, 0.4]]
PI = [[0.3, 0.7], [0.1, 0.9]]
Z = [[0.3, 0.5], [-0.2, 1.0]]  # joint order [m1][m2]: {C,C}=.3, {C,D}=.5, {D,C}=-.2, {D,D}=1.


def prop21_profile():
    psi_own = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)  # accept {C,C},{D,C}
    return ([deterministic(C, 2)] * 2, [own_first_to_joint(psi_own, 0), own_first_to_joint(psi_own, 1)],
            [deterministic(D, 2)] * 2)


def test_exact_values_items_6_8_9_10():
    phi, psi, pi = prop21_profile()
    assert exact_value(phi, psi, pi, PD_PAYOFFS).tolist() == [-1.0, -1.0]  # Proposition 2.1's profile
    zero = torch.zeros(2, 2, dtype=torch.float64)
    v = exact_value(phi, [zero, zero], [deterministic(D, 2)] * 2, PD_PAYOFFS)
    assert v.tolist() == [-2.0, -2.0]  # mutual defection
    half = [torch.full((2,), 0.5, dtype=torch.float64)] * 2
    v = exact_value(half, [torch.full((2, 2), 0.5, dtype=torch.float64)] * 2, half, PD_PAYOFFS)
    assert v.tolist() == [-1.5, -1.5]  # uniform policies
    v = exact_value(PHI, [own_first_to_joint(PSI1, 0), own_first_to_joint(PSI2, 1)], PI, PD_PAYOFFS)
    assert v.numpy() == pytest.approx([-1.84372, -1.37380], abs=5e-6)  # hand-computed


def test_mutual_defection_is_equilibrium_item_8():
    zero = torch.zeros(2, 2, dtype=torch.float64)
    devs = unilateral_deviation_values(0, [deterministic(D, 2)] * 2, [zero, zero],
                                       [deterministic(D, 2)] * 2, PD_PAYOFFS)
    assert max(d["value"] for d in devs) == pytest.approx(-2.0)


def test_proposition_2_1_unilateral_deviations():
    """DCL paper Proposition 2.1 and its proof (App. 9), for each agent, by the package's exact evaluation."""
    phi, psi, pi = prop21_profile()
    for agent in (0, 1):
        devs = unilateral_deviation_values(agent, phi, psi, pi, PD_PAYOFFS)
        assert len(devs) == 2 * 16 * 2
        assert max(d["value"] for d in devs) == pytest.approx(-1.0)  # no profitable deviation

        def cc(table):  # does the deviator accept {C, C}
            return float(table[0, 0]) == 1.0

        for d in devs:
            if d["propose"] == D:  # 1(a)/(b): rejected, co-player defects
                assert d["value"] == pytest.approx(-3.0 if d["act"] == C else -2.0)
            elif not cc(d["commit_table"]):  # 2(b): reject {C,C}
                assert d["value"] == pytest.approx(-3.0 if d["act"] == C else -2.0)
            else:  # 2(a) and 3: still -1
                assert d["value"] == pytest.approx(-1.0)


def test_exact_gradient_item_11():
    z = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    v = exact_value(PHI, [torch.sigmoid(z), own_first_to_joint(PSI2, 1)], PI, PD_PAYOFFS)[0]
    v.backward()
    # {C,C}, {D,C}, {C,D}, {D,D} (own = agent 1 first)
    got = [z.grad[0, 0], z.grad[1, 0], z.grad[0, 1], z.grad[1, 1]]
    assert [float(g) for g in got] == pytest.approx([0.06453699, 0.01871225, -0.04060864, 0.00062916],
                                                    abs=1e-8)


def _sampled_batch(n, gen, z, psi2, phi_logits, pi_logits):
    """Samples (m, c, a) from the tabular policies (commitments independent given m)."""
    m = torch.stack([torch.multinomial(torch.softmax(phi_logits[k], -1), n, True, generator=gen)
                     for k in range(2)], -1)
    p1 = torch.sigmoid(z)[m[:, 0], m[:, 1]]
    p2 = psi2[m[:, 0], m[:, 1]]
    c = torch.stack([(torch.rand(n, generator=gen) < p1), (torch.rand(n, generator=gen) < p2)], -1).long()
    a = torch.stack([torch.multinomial(torch.softmax(pi_logits[k], -1), n, True, generator=gen)
                     for k in range(2)], -1)
    return m, c, a


def test_score_function_estimators_match_exact_gradients():
    """Items 10-11: expected Lemma 3.1 score terms == exact grad of eq. 10 (Monte Carlo, 1M samples)."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    n = 1_000_000
    z = torch.tensor(Z, requires_grad=True)
    psi2 = own_first_to_joint(PSI2, 1).float()
    phi_logits = [torch.log(torch.tensor(p)).requires_grad_(True) for p in PHI]
    pi_logits = [torch.log(torch.tensor(p)).requires_grad_(True) for p in PI]
    m, c, a = _sampled_batch(n, gen, z.detach(), psi2, [p.detach() for p in phi_logits],
                             [p.detach() for p in pi_logits])
    q_fns = [table_q_fn(PD_PAYOFFS, k, SIZES) for k in range(2)]
    # Commitment tables looked up with the hard proposal only: the relaxation terms vanish and
    # the estimators reduce to their score-function parts (derived from DCL paper eqs. (3)-(5)).
    commit_fns = [table_commit_fn(z.detach(), SIZES, detach_input=True),
                  table_commit_fn(torch.logit(psi2), SIZES, detach_input=True)]
    z_at_m = z[m[:, 0], m[:, 1]]
    commit_logits = torch.stack([torch.zeros_like(z_at_m), z_at_m], -1)
    terms = dcl_agent_terms(
        0, sizes=SIZES, prop_logits=[phi_logits[0].expand(n, 2), phi_logits[1].expand(n, 2)],
        commit_logits_at_m=commit_logits, act_logits=pi_logits[0].expand(n, 2),
        commit_fns=commit_fns, q_fns=q_fns, m=m, c=c, a=a, tau=1.0)

    # exact gradients of V^1 wrt the same parameters
    ze = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    phe = torch.log(torch.tensor(PHI[0], dtype=torch.float64)).requires_grad_(True)
    pie = torch.log(torch.tensor(PI[0], dtype=torch.float64)).requires_grad_(True)
    v = exact_value([torch.softmax(phe, -1), PHI[1]], [torch.sigmoid(ze), psi2.double()],
                    [torch.softmax(pie, -1), PI[1]], PD_PAYOFFS)[0]
    g_z, g_phi, g_pi = torch.autograd.grad(v, [ze, phe, pie])

    # eq. (4) score part vs exact dV/dz (hand-computed numbers)
    (gz_est,) = torch.autograd.grad(terms["J_psi_score"], [z], retain_graph=True)
    assert gz_est.double().numpy() == pytest.approx(g_z.numpy(), abs=0.003)
    assert float(g_z[0, 0]) == pytest.approx(0.06453699, abs=1e-7)
    # eq. (3) vs exact dV/dtheta; eq. (5) score part vs exact dV/deta
    (gpi_est,) = torch.autograd.grad(terms["J_pi"], [pi_logits[0]], retain_graph=True)
    assert gpi_est.double().numpy() == pytest.approx(g_pi.numpy(), abs=0.003)
    (gphi_est,) = torch.autograd.grad(terms["J_phi_score"], [phi_logits[0]], retain_graph=True)
    assert gphi_est.double().numpy() == pytest.approx(g_phi.numpy(), abs=0.003)
    # the estimators are not trivially small: the exact gradients are clearly non-zero
    assert float(g_z.abs().max()) > 0.05 and float(g_pi.abs().max()) > 0.1
    assert float(g_phi.abs().max()) > 0.015


def _ic(m_joint, a_joint):
    """J_IC for deterministic proposals m and actions a with the exact PD critics."""
    n = 4
    big = 50.0
    prop = [torch.full((n, 2), -big).index_fill_(1, torch.tensor([m_joint[k]]), big) for k in range(2)]
    m = torch.tensor([m_joint] * n)
    a = torch.tensor([a_joint] * n)
    c = torch.ones(n, 2, dtype=torch.long)
    q_fns = [table_q_fn(PD_PAYOFFS, k, SIZES) for k in range(2)]
    commit_fns = [table_commit_fn(torch.zeros(2, 2), SIZES)] * 2
    terms = dcl_agent_terms(0, sizes=SIZES, prop_logits=prop,
                            commit_logits_at_m=torch.zeros(n, 2), act_logits=torch.zeros(n, 2),
                            commit_fns=commit_fns, q_fns=q_fns, m=m, c=c, a=a, tau=1.0)
    return float(terms["J_ic"])


def test_ic_term_item_13():
    assert _ic((C, C), (D, D)) == pytest.approx(0.0)
    assert _ic((D, C), (D, D)) == pytest.approx(-1.0)
    assert _ic((D, D), (D, D)) == pytest.approx(0.0)
    for joint in itertools.product((C, D), repeat=2):  # proposals == independent actions
        assert _ic(joint, joint) == pytest.approx(0.0)


def test_indirect_effect_reaches_proposal_through_other_commitment():
    """With differentiable commitment tables, agent 1's proposal gradient contains the indirect
    term through agent 2's commitment policy (Gumbel relaxation); with agent 2 indifferent to
    the proposal it vanishes."""
    torch.manual_seed(1)
    n = 2000
    phi0 = torch.zeros(n, 2, requires_grad=True)
    m = torch.zeros(n, 2, dtype=torch.long)
    c = torch.ones(n, 2, dtype=torch.long)
    a = torch.ones(n, 2, dtype=torch.long)
    q_fns = [table_q_fn(PD_PAYOFFS, k, SIZES) for k in range(2)]

    def grad_with(table2):
        commit_fns = [table_commit_fn(torch.full((2, 2), 5.0), SIZES), table_commit_fn(table2, SIZES)]
        terms = dcl_agent_terms(0, sizes=SIZES, prop_logits=[phi0, torch.tensor([[10.0, -10.0]]).expand(n, 2)],
                                commit_logits_at_m=torch.zeros(n, 2), act_logits=torch.zeros(n, 2),
                                commit_fns=commit_fns, q_fns=q_fns, m=m, c=c, a=a, tau=1.0)
        return torch.autograd.grad(terms["J_phi_score"] + terms["J_phi_path"], [phi0])[0].sum(0)

    # agent 2 proposes C and accepts only if agent 1 proposes C: (C,C) beats the no-deal (D,D),
    # so the gradient pushes agent 1 towards proposing C.
    g = grad_with(torch.tensor([[5.0, 5.0], [-5.0, -5.0]]))
    assert float(g[C]) > float(g[D]) + 0.05
