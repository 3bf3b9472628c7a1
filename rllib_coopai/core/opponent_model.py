"""Opponent modelling: maximum-likelihood estimates of other agents' policy parameters.

Used where an agent (or a planner) differentiates through another agent's learning step but may not
read its parameters: AMD's planner (AMD thesis §4.1.4, eq. 4.6; proposed there, not run) and
LIO-dec (LIO thesis §5.3.2: each giver fits a model of each recipient's policy). The parameters
``theta_i`` are replaced by the estimate fitted from the observed actions,

    (4.6)  theta_hat_i = argmax_{theta'} sum_t log pi_{theta'}(a_t^i | s_t),

with ``pi_{theta'}`` the learners' (known) policy class. Recent actions count more than old ones,
because the learners keep changing:

* ``TabularMLE`` (``gradient="exact"``, one-shot matrix games, tabular learners): exponentially
  decayed action counts ``c_i(a) <- decay * c_i(a) + 1[a_i = a]`` (``om_decay``; an effective
  window of ``1 / (1 - decay)`` rounds) and the closed-form MLE ``p_hat_i(a) =
  (c_i(a) + prior / K) / (sum_b c_i(b) + prior)`` (``om_prior`` pseudo-counts spread uniformly, so
  the logits stay finite when one action has not been seen for a while). ``theta_hat_i`` are the
  parameters of the learner's module class (a linear / tabular ``CategoricalPolicyModule``) whose
  policy is ``p_hat_i``: all weights 0, output bias = the logits (for ``binary_logit`` modules the
  scalar ``log(p_hat(C) / p_hat(D))``).
* ``FittedPolicy`` (``gradient="pg"``, any env): ``theta_hat_i`` has the learner module's
  architecture, starts from an uninformed policy (torch's default init for hidden layers, output
  layer 0 -> uniform), and after every batch takes ``om_fit_steps`` Adam steps (lr ``om_lr``) on
  the negative log-likelihood of the observed (obs, action) pairs of the last ``om_window``
  batches (warm-started: the analogue of the decayed counts for function approximators).

The planner never reads the learners' parameter values; only their shapes (the policy class).
"""
from __future__ import annotations

import math
from collections import deque
from typing import Dict, List

import torch

from rllib_coopai.core.differentiable import call_with, named_params

Params = Dict[str, torch.Tensor]


def _last_linear_keys(module, params=None) -> tuple:
    keys = [k for k in (named_params(module) if params is None else params) if k.endswith(".weight")]
    last = keys[-1][: -len(".weight")]
    return last + ".weight", last + ".bias"


def tabular_mle_probs(counts: torch.Tensor, prior: float) -> torch.Tensor:
    """Closed-form (smoothed) MLE of a categorical policy from (decayed) counts ``[..., K]``."""
    k = counts.shape[-1]
    return (counts + prior / k) / (counts.sum(-1, keepdim=True) + prior)


def params_for_policy(module, probs: torch.Tensor) -> Params:
    """Parameters of ``module``'s class whose policy is ``probs`` ``[K]`` at every observation."""
    out = {k: torch.zeros_like(v) for k, v in named_params(module).items()}
    _, bias = _last_linear_keys(module)
    logp = torch.log(probs)
    if getattr(module, "binary", False):
        out[bias] = (logp[0] - logp[1]).reshape(out[bias].shape)
    else:
        out[bias] = (logp - logp.mean()).reshape(out[bias].shape)
    return out


class TabularMLE:
    """Decayed-count MLE of each learner's policy in a one-shot (single-state) game."""

    def __init__(self, modules: List, n_actions: List[int], decay: float, prior: float, seed: int):
        self.modules = modules
        self.decay = float(decay)
        self.prior = float(prior)
        self.counts = [torch.zeros(n, dtype=torch.float64) for n in n_actions]
        self.gen = torch.Generator().manual_seed(int(seed))

    def observe(self, actions: List[int]) -> None:
        for c, a in zip(self.counts, actions):
            c.mul_(self.decay)
            c[int(a)] += 1.0

    def play_and_observe(self, probs: List[torch.Tensor]) -> List[int]:
        """One round: each learner draws its action from its policy; the planner sees the actions."""
        acts = [int(torch.multinomial(p.detach().double(), 1, generator=self.gen)) for p in probs]
        self.observe(acts)
        return acts

    def probs(self) -> List[torch.Tensor]:
        return [tabular_mle_probs(c, self.prior) for c in self.counts]

    def params(self) -> List[Params]:
        return [params_for_policy(m, p.to(torch.float32)) for m, p in zip(self.modules, self.probs())]

    def get_state(self) -> dict:
        return {"counts": [c.clone() for c in self.counts], "gen": self.gen.get_state()}

    def set_state(self, state: dict) -> None:
        self.counts = [c.clone() for c in state["counts"]]
        self.gen.set_state(state["gen"])


class FittedPolicy:
    """Windowed, warm-started gradient MLE of each learner's policy (any env, any module)."""

    def __init__(self, modules: List, window: int, fit_steps: int, lr: float, seed: int,
                 allreduce=None, method: str = "logits", names=None):
        """``method``: the module method giving the policy's logits (or log-probabilities) for an
        observation batch; ``names``: per module, the parameter names of the policy (default: all)."""
        gen = torch.Generator().manual_seed(int(seed))
        self.modules = modules
        self.fit_steps = int(fit_steps)
        self.allreduce = allreduce
        self.method = method
        self.params: List[Params] = []
        for i, m in enumerate(modules):
            p = {}
            own = named_params(m, None if names is None else names[i])
            last_w, last_b = _last_linear_keys(m, own)
            for k, v in own.items():
                if k in (last_w, last_b) or k.endswith(".bias"):
                    t = torch.zeros_like(v)
                else:  # torch's default Linear init, drawn from our own generator
                    bound = 1.0 / math.sqrt(v.shape[-1])
                    t = (torch.rand(v.shape, generator=gen, dtype=v.dtype) * 2 - 1) * bound
                p[k] = t.requires_grad_(True)
            self.params.append(p)
        self.opts = [torch.optim.Adam(list(p.values()), lr=lr) for p in self.params]
        self.windows = [deque(maxlen=int(window)) for _ in modules]

    def nll(self, i: int, params: Params, obs, actions, mask) -> torch.Tensor:
        logits = call_with(self.modules[i], params, obs, method=self.method)
        logp = torch.log_softmax(logits, -1).gather(-1, actions.long()[:, None])[:, 0]
        return -(mask * logp).sum() / mask.sum().clamp(min=1.0)

    def fit(self, data: List[tuple]) -> List[float]:
        """``data[i] = (obs, actions, mask)`` of learner i's newest batch; returns the final NLLs."""
        out = []
        for i, (obs, actions, mask) in enumerate(data):
            self.windows[i].append((obs.detach(), actions.detach(), mask.detach()))
            o = torch.cat([w[0] for w in self.windows[i]])
            a = torch.cat([w[1] for w in self.windows[i]])
            m = torch.cat([w[2] for w in self.windows[i]])
            ps = list(self.params[i].values())
            for _ in range(self.fit_steps):
                loss = self.nll(i, self.params[i], o, a, m)
                grads = list(torch.autograd.grad(loss, ps, allow_unused=True))
                grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, ps)]
                if self.allreduce is not None:  # Learner shards fit one common model
                    self.allreduce(grads)
                for p, g in zip(ps, grads):
                    p.grad = g
                self.opts[i].step()
            with torch.no_grad():
                out.append(float(self.nll(i, self.params[i], o, a, m)))
        return out

    def get_state(self) -> dict:
        return {"params": [{k: v.detach().clone() for k, v in p.items()} for p in self.params],
                "opts": [o.state_dict() for o in self.opts],
                "windows": [list(w) for w in self.windows]}

    def set_state(self, state: dict) -> None:
        for p, s in zip(self.params, state["params"]):
            with torch.no_grad():
                for k in p:
                    p[k].copy_(s[k])
        for o, s in zip(self.opts, state["opts"]):
            o.load_state_dict(s)
        for w, s in zip(self.windows, state["windows"]):
            w.clear()
            w.extend(s)
