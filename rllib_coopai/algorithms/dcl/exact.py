"""Exact evaluation of one-shot Markov Commitment Games with tabular policies (DCL paper eq. (10)).

    V^i = sum_m phi(m) [ P(c = 1 | m) R^i(m) + (1 - P(c = 1 | m)) sum_a pi(a) R^i(a) ]

with ``phi(m) = prod_k phi^k(m^k)``, ``P(c = 1 | m) = prod_k psi^k(m)`` (simultaneous, independent
commitments) and ``pi(a) = prod_k pi^k(a^k)``, for N agents. Everything is torch, so autograd
gives exact policy gradients (the ground truth for the Lemma 3.1 estimators, checked against
hand-computed instances) and ``exact_value`` is the package's evaluation of equilibrium profiles
(DCL paper Proposition 2.1).

Table conventions: ``psi[k]`` has shape ``(|A^1|, ..., |A^N|)`` indexed by the joint proposal in
agent order (use ``own_first_to_joint`` to convert the "own proposal first" 2-player
tables); ``payoffs`` has shape ``(|A^1|, ..., |A^N|, N)``.
"""
from __future__ import annotations

import itertools
from typing import List, Sequence

import torch


def _t(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64)


def _outer(vectors: Sequence[torch.Tensor]) -> torch.Tensor:
    out = vectors[0]
    for v in vectors[1:]:
        out = out.unsqueeze(-1) * v
    return out


def exact_value(phi: Sequence, psi: Sequence, pi: Sequence, payoffs) -> torch.Tensor:
    """Eq. (10): the vector (V^1, ..., V^N) of the one-shot MCG."""
    phi = [_t(p) for p in phi]
    pi = [_t(p) for p in pi]
    psi = [_t(p) for p in psi]
    r = _t(payoffs)
    n = r.shape[-1]
    p_m = _outer(phi)
    p_deal = psi[0]
    for p in psi[1:]:
        p_deal = p_deal * p
    p_a = _outer(pi)
    no_deal = (p_a.unsqueeze(-1) * r).reshape(-1, n).sum(0)  # E_{a~pi} R(a)
    deal_val = (p_m * p_deal).unsqueeze(-1) * r
    return deal_val.reshape(-1, n).sum(0) + (p_m * (1 - p_deal)).sum() * no_deal


def own_first_to_joint(table_own_first, agent: int):
    """2-player helper: psi^agent given as [[{own,other}]] (own proposal first) -> joint order."""
    t = _t(table_own_first)
    return t if agent == 0 else t.transpose(0, 1)


def deterministic(index: int, n: int) -> torch.Tensor:
    v = torch.zeros(n, dtype=torch.float64)
    v[index] = 1.0
    return v


def unilateral_deviation_values(agent: int, phi, psi, pi, payoffs) -> List[dict]:
    """Every deterministic deviation of ``agent`` (proposal x commitment table x action), the
    others fixed; returns ``[{"propose", "commit_table", "act", "value"}]`` (brute
    force over the deviations of DCL paper Proposition 2.1)."""
    r = _t(payoffs)
    shape = r.shape[:-1]
    n_a = shape[agent]
    cells = list(itertools.product(*[range(k) for k in shape]))
    out = []
    for prop in range(n_a):
        for bits in itertools.product([0.0, 1.0], repeat=len(cells)):
            table = torch.tensor(bits, dtype=torch.float64).reshape(shape)
            for act in range(n_a):
                ph = list(phi)
                ps = list(psi)
                p_ = list(pi)
                ph[agent] = deterministic(prop, n_a)
                ps[agent] = table
                p_[agent] = deterministic(act, n_a)
                v = float(exact_value(ph, ps, p_, r)[agent])
                out.append({"propose": prop, "commit_table": table, "act": act, "value": v})
    return out


# ---------------------------------------------------------------------------------------------
# Tabular "networks" for the loss function (differentiable in relaxed one-hot inputs)
# ---------------------------------------------------------------------------------------------
def split_joint(joint: torch.Tensor, sizes: Sequence[int]) -> List[torch.Tensor]:
    return list(torch.split(joint, list(sizes), dim=-1))


def table_lookup(joint: torch.Tensor, table: torch.Tensor, sizes: Sequence[int]) -> torch.Tensor:
    """sum over joint cells of prod_k onehot_k[cell_k] * table[cell] (batch, one value per row)."""
    parts = split_joint(joint, sizes)
    w = parts[0]
    for p in parts[1:]:
        w = (w.unsqueeze(-1) * p.reshape(p.shape[0], *([1] * (w.dim() - 1)), p.shape[-1]))
    return (w * table.to(w.dtype)).reshape(w.shape[0], -1).sum(-1)


def table_q_fn(payoffs, agent: int, sizes: Sequence[int]):
    """Q^agent(s, a) = R^agent(a) as a function of a joint one-hot (exact one-shot critic)."""
    table = _t(payoffs)[..., agent].float()
    return lambda joint: table_lookup(joint, table, sizes)


def table_commit_fn(logit_table: torch.Tensor, sizes: Sequence[int], detach_input: bool = False):
    """psi logits [0, z(m)] from a table of sigmoid logits z over joint proposals."""
    def fn(joint):
        j = joint.detach() if detach_input else joint
        z = table_lookup(j, logit_table, sizes)
        return torch.stack([torch.zeros_like(z), z], -1)
    return fn
