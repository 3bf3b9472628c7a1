"""The DCL surrogate objective of one agent (DCL paper Lemma 3.1, eqs. (3)-(7)), as a pure function.

Both the learner (centralized and decentralized) and the gradient tests call
``dcl_agent_terms``. Inputs are tensors over a batch of T joint time steps plus callables for the
*frozen* networks of every agent (parameters detached: agent i's update differentiates through the
other agents' commitment policies and critics but never changes them, DCL paper Lemma 3.1).

Conventions: agents k = 0..N-1; ``m, c, a`` are (T, N) long tensors of the stored proposals,
commitments and independent actions; ``D = prod_k 1(c^k = 1)``.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import torch
import torch.nn.functional as F

IC_MODES = ("pathwise", "reference")
# Choices where the paper leaves the detail open or the authors' code (github.com/shuhui-zhu/DCL)
# differs from it; the first entry of each is the package's default.
ENTROPY_REDUCTIONS = ("sum", "mean")        # H = -sum_a p log p  |  -mean_a p log p (code)
ACTION_WEIGHTS = ("no_deal", "deal")         # eq. (3): 1 - 1(c=1)  |  1(c=1) (code)
PATHWISE_MODES = ("paper", "reference")      # eqs. (4)-(5) as written  |  code's 1(c=1)**4, no prod
# Not in the paper (nor in the authors' main-branch code): a baseline for eq. (3)'s score term.
ACTION_BASELINES = ("none", "counterfactual")  # Q^i(s, a)  |  Q^i(s, a) - sum_b pi^i(b|s) Q^i(s, (b, a^-i))


def st_gumbel(logits: torch.Tensor, tau: float) -> torch.Tensor:
    """Straight-through Gumbel-Softmax (DCL paper §3): exact one-hot categorical sample forward,
    softmax relaxation (temperature ``tau``) backward."""
    return F.gumbel_softmax(logits, tau=tau, hard=True)


def _logp(logits: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    return (onehot * F.log_softmax(logits, -1)).sum(-1)


def _entropy(logits: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    """Mean over the batch of the policy entropy; ``reduction="mean"`` also averages over the
    actions (the authors' code, ``-mean(p log p)``: with |A| actions the bonus weighs 1/|A| as much
    at the same coefficient)."""
    logp = F.log_softmax(logits, -1)
    plogp = logp.exp() * logp
    return -(plogp.mean(-1) if reduction == "mean" else plogp.sum(-1)).mean()


def dcl_agent_terms(
    i: int,
    *,
    sizes: Sequence[int],
    prop_logits: List[torch.Tensor],
    commit_logits_at_m: torch.Tensor,
    act_logits: torch.Tensor,
    commit_fns: List[Callable[[torch.Tensor], torch.Tensor]],
    q_fns: List[Callable[[torch.Tensor], torch.Tensor]],
    m: torch.Tensor,
    c: torch.Tensor,
    a: torch.Tensor,
    tau: float,
    ic_mode: str = "pathwise",
    entropy_reduction: str = "sum",
    action_weight: str = "no_deal",
    pathwise: str = "paper",
    action_baseline: str = "none",
) -> Dict[str, torch.Tensor]:
    """Surrogate objectives (to MAXIMISE) of agent ``i``; each term's gradient is the estimator
    named in its key.

    Args:
        sizes: |A^k| per agent.
        prop_logits: proposal logits phi^k(s_k) per agent; entry i carries the graph to eta^i,
            the others are treated as constants (detached here).
        commit_logits_at_m: psi^i logits at (s_i, stored m), graph to zeta^i.
        act_logits: pi^i logits at s_i, graph to theta^i.
        commit_fns[k](joint_m_onehot) -> psi^k logits at (s_k, joint_m) with frozen parameters
            (differentiable in its input).
        q_fns[k](joint_onehot) -> Q^k(s_k, joint) with frozen parameters (differentiable in input).
        m, c, a: (T, N) stored proposals, commitments, independent actions.
        tau: Gumbel-Softmax temperature.
        ic_mode: ``"pathwise"`` (default; per-sample linear hinge of Algorithms 1-3 differentiated
            through the relaxed proposal, DCL paper eq. (7)) or ``"reference"`` (the authors'
            code: squared hinge as a score-function penalty on log phi^i).
        entropy_reduction: ``"sum"`` (default) or ``"mean"`` over actions (authors' code).
        action_weight: ``"no_deal"`` (eq. 3, default: steps without a deal train pi^i) or
            ``"deal"`` (authors' code: steps with a deal). pi^i's sample is independent of c, so
            both have the same per-state direction; they weigh states differently.
        pathwise: ``"paper"`` (eqs. 4-5: 1(c^j = 1) is the relaxed commit entry, the proposal
            term carries prod_{k != j} 1(c^k = 1)) or ``"reference"`` (authors' code: the
            indicator is that entry to the 4th power, so its gradient is 4x and only where the
            sample commits; the proposal term is sum_j 1(c^j = 1) without the product).
        action_baseline: ``"none"`` (eq. 3 as written: the weight is Q^i(s, a)) or
            ``"counterfactual"`` (not in the paper: Q^i(s, a) minus the expectation of
            Q^i(s, (b, a^-i)) over agent i's own action b ~ pi^i(.|s), the others' actions kept;
            it does not depend on a^i, so the gradient's expectation is unchanged while the
            variance drops: with returns far from zero, e.g. -80 for an exploited grid-game
            agent, eq. (3)'s sampled weight is mostly the shared offset).

    Returns keys: ``J_pi`` (eq. 3), ``J_psi_score`` and ``J_psi_path`` (eq. 4), ``J_phi_score``
    (eq. 5, own log phi plus sum_j log psi^j: the indirect effect), ``J_phi_path`` (eq. 5,
    sum_j prod_{k!=j} 1(c^k) [Q(m)-Q(a)] grad 1(c^j)), ``J_ic`` (eq. 7 sample version),
    ``H_phi``, ``H_psi``, ``H_pi`` (entropies), plus detached diagnostics.
    """
    n = len(sizes)
    oh = [lambda x, k=k: F.one_hot(x.long(), sizes[k]).float() for k in range(n)]
    m_oh = [oh[k](m[:, k]) for k in range(n)]
    a_oh = [oh[k](a[:, k]) for k in range(n)]
    joint_m = torch.cat(m_oh, -1)
    joint_a = torch.cat(a_oh, -1)
    cf = c.float()
    deal = cf.prod(-1)  # 1(c = 1)
    with torch.no_grad():
        q_m = q_fns[i](joint_m)  # Q^i(s, m)
        q_a = q_fns[i](joint_a)  # Q^i(s, a)
    out = {}

    # ---- action policy, eq. (3): (1 - 1(c=1)) Q^i(s, a) grad log pi^i(a^i | s)
    w_pi = deal if action_weight == "deal" else 1 - deal
    if action_baseline == "counterfactual":
        with torch.no_grad():
            own = torch.eye(sizes[i], device=joint_a.device)
            # Q^i(s, (b, a^-i)) for every own action b (the frozen critic is bound to the T rows of s)
            q_own = torch.stack([q_fns[i](torch.cat(a_oh[:i] + [own[b].expand_as(a_oh[i])] + a_oh[i + 1:], -1))
                                 for b in range(sizes[i])], -1)
            adv_a = q_a - (F.softmax(act_logits, -1) * q_own).sum(-1)
    elif action_baseline == "none":
        adv_a = q_a
    else:
        raise ValueError(f"action_baseline must be one of {list(ACTION_BASELINES)}, got {action_baseline!r}")
    out["J_pi"] = (w_pi * adv_a * _logp(act_logits, a_oh[i])).mean()

    # ---- commitment policy, eq. (4). Own commitment re-sampled straight-through so that
    # grad_zeta 1(c^i = 1) exists (DCL paper §3, eq. (4)); the others' stored commitments stay fixed.
    others_c = torch.cat([cf[:, :i], cf[:, i + 1:]], -1).prod(-1)  # prod_{k != i} 1(c^k = 1)
    c_hat = st_gumbel(commit_logits_at_m, tau)
    with torch.no_grad():
        d_res = c_hat[:, 1] * others_c
        u_res = d_res * q_m + (1 - d_res) * q_a
    out["J_psi_score"] = (u_res * _logp(commit_logits_at_m, c_hat.detach())).mean()
    if pathwise == "reference":  # (q_m - q_a) * 1(deal) * c^4: gradient 4x, only where c_hat = 1
        out["J_psi_path"] = ((q_m - q_a) * d_res * c_hat[:, 1] ** 4).mean()
    else:
        out["J_psi_path"] = ((q_m - q_a) * others_c * c_hat[:, 1]).mean()

    # ---- proposal policy, eq. (5): re-sample the negotiation at s from the current policies.
    # m_hat^i is differentiable in eta^i; the others' proposals are constants; every agent's
    # commitment psi^j (frozen parameters, j = i included) reads the relaxed joint proposal.
    m_hat = [st_gumbel(prop_logits[k] if k == i else prop_logits[k].detach(), tau)
             for k in range(n)]
    m_hat = [mh if k == i else mh.detach() for k, mh in enumerate(m_hat)]
    joint_m_hat = torch.cat(m_hat, -1)
    c_logits_hat = [commit_fns[j](joint_m_hat) for j in range(n)]
    c_hat_all = [st_gumbel(lg, tau) for lg in c_logits_hat]
    deal_hat = torch.stack([ch[:, 1] for ch in c_hat_all], -1).prod(-1)  # forward value 0/1
    with torch.no_grad():
        q_m_hat = q_fns[i](joint_m_hat)
        u_hat = deal_hat * q_m_hat + (1 - deal_hat) * q_a
    score = _logp(prop_logits[i], m_hat[i].detach())  # direct effect: log phi^i(m^i | s)
    for j in range(n):  # indirect effect: sum_j log psi^j(c^j | s, m), through m_hat^i
        score = score + _logp(c_logits_hat[j], c_hat_all[j].detach())
    out["J_phi_score"] = (u_hat * score).mean()
    # Product rule on prod_j c_hat^j gives sum_j prod_{k != j} 1(c^k = 1) grad 1(c^j = 1).
    if pathwise == "reference":
        out["J_phi_path"] = ((q_m_hat - q_a) * sum(ch[:, 1] ** 4 for ch in c_hat_all)).mean()
    else:
        out["J_phi_path"] = ((q_m_hat - q_a) * deal_hat).mean()

    # ---- incentive-compatibility term, eq. (7), sample version of Algorithms 1-3.
    if ic_mode == "pathwise":
        ic = 0.0
        for j in range(n):  # all agents j, the proposer included
            with torch.no_grad():
                q_a_j = q_fns[j](joint_a)
            ic = ic + torch.clamp(q_fns[j](joint_m_hat) - q_a_j, max=0.0)
        out["J_ic"] = ic.mean()
    elif ic_mode == "reference":
        # The authors' code: on the re-sampled joint proposal m_hat (as in the proposal term),
        # sum_j |Q^j(a) - Q^j(m_hat)| * max(0, Q^j(a) - Q^j(m_hat)) * log phi^i(m_hat^i), minimised.
        pen = 0.0
        with torch.no_grad():
            for j in range(n):
                gap = q_fns[j](joint_a) - q_fns[j](joint_m_hat)
                pen = pen + gap.abs() * gap.clamp(min=0.0)
        out["J_ic"] = -(pen * _logp(prop_logits[i], m_hat[i].detach())).mean()
    else:
        raise ValueError(f"ic_mode must be one of {list(IC_MODES)}, got {ic_mode!r}")

    out["H_phi"] = _entropy(prop_logits[i], entropy_reduction)
    out["H_psi"] = _entropy(commit_logits_at_m, entropy_reduction)
    out["H_pi"] = _entropy(act_logits, entropy_reduction)
    out["q_m_mean"] = q_m.mean().detach()
    out["q_a_mean"] = q_a.mean().detach()
    return out


def dcl_agent_objective(terms: Dict[str, torch.Tensor], ic_lambda: float,
                        entropy_coeff: float) -> torch.Tensor:
    """J^i = J_pi + J_psi + J_phi + lambda J_IC + entropy bonus (to maximise; DCL paper Algorithm 1, update step:
    one ascent at the policy LR on J_eta + lambda J_IC; Algorithm 1 writes the IC step without the LR)."""
    j = (terms["J_pi"] + terms["J_psi_score"] + terms["J_psi_path"] + terms["J_phi_score"]
         + terms["J_phi_path"] + ic_lambda * terms["J_ic"])
    return j + entropy_coeff * (terms["H_phi"] + terms["H_psi"] + terms["H_pi"])
