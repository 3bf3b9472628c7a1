"""RLModules for the incentive designer (MetaGrad), AMD's planner, and their learners.

* ``CategoricalPolicyModule``: a small categorical policy (MLP, or linear/tabular with
  ``hidden=[]``). ``binary_logit=True`` (2 actions) uses the scalar parameterisation of
  AMD thesis §4.2: one logit ``theta(o)`` for action 0 (C) and a fixed 0 for action 1 (D), so
  ``P(C) = sigmoid(theta)``; ``init_prob`` sets the initial ``P(action 0)`` through the output
  bias (AMD: 0.25, ``theta_0 = ln(1/3)``).
* ``IncentiveModule``: the designer / planner ``mu_eta(s, a)``: an MLP over the designer
  observation (state + one-hot joint action) with a bounded output
  ``low + (high - low) * sigmoid(x)`` (ID thesis §6.3.2: ``(0, 2)`` sigmoid in ER;
  AMD thesis §4.2 and its code: ``2c(sigmoid - 0.5) = c * tanh(x / 2)`` for ``low=-c, high=c``). It acts
  deterministically (its action *is* the incentive vector). The buffer ``payment_scale``
  (1 or 0) turns the payments off (AMD thesis §4.3, "turning the planner off") and travels with the
  weights to the EnvRunners.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.torch import TorchRLModule

from rllib_coopai.modules.encoders import ObsEncoder


def _features(enc: ObsEncoder, obs: torch.Tensor, dtype) -> torch.Tensor:
    """The observation through the shared encoder: conv features for images, else flattened."""
    if enc.image:
        return enc(obs).to(dtype)
    return obs.reshape(obs.shape[0], -1).to(dtype)


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "relu",
        bias: bool = True) -> nn.Sequential:
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
    layers, d = [], in_dim
    for h in hidden:
        layers += [nn.Linear(d, int(h), bias=bias), act()]
        d = int(h)
    layers.append(nn.Linear(d, out_dim, bias=bias))
    return nn.Sequential(*layers)


class CategoricalPolicyModule(TorchRLModule):
    """Categorical policy ``pi_theta(a | o)`` for Discrete actions.

    ``model_config``: ``hidden`` (list, default ``[64, 32]``), ``activation`` (``relu``/``tanh``),
    ``binary_logit`` (bool), ``init_prob`` (initial P(action 0) or None), ``conv_filters``
    (image observations: the shared conv encoder's layers, ``rllib_coopai.modules.encoders``),
    ``bias`` (True; ``hidden=[]`` with ``bias=False`` on one-hot observations is a table: one
    logit per observed state and action, as LOLA-Exact's policies), ``init_std`` (None: torch's
    init; a number: all weights N(0, init_std)).
    """

    def setup(self):
        cfg = dict(self.model_config or {})
        if not hasattr(self.action_space, "n"):
            raise ValueError(f"CategoricalPolicyModule needs a Discrete action space, got {self.action_space}")
        self.n_actions = int(self.action_space.n)
        self.enc = ObsEncoder(self.observation_space.shape, cfg.get("conv_filters"))
        in_dim = self.enc.out_dim
        self.binary = bool(cfg.get("binary_logit", False)) and self.n_actions == 2
        out = 1 if self.binary else self.n_actions
        self.net = mlp(in_dim, cfg.get("hidden", [64, 32]), out, cfg.get("activation", "relu"),
                       bias=bool(cfg.get("bias", True)))
        if cfg.get("init_std") is not None:
            with torch.no_grad():
                for p in self.net.parameters():
                    p.normal_(0.0, float(cfg["init_std"]))
        p0 = cfg.get("init_prob")
        last = self.net[-1]
        if p0 is not None:
            with torch.no_grad():
                last.weight.zero_()
                last.bias.zero_()
                if self.binary:
                    last.bias[0] = math.log(p0 / (1.0 - p0))
                else:  # softmax with P(action 0) = p0, the rest uniform
                    rest = (1.0 - p0) / (self.n_actions - 1)
                    last.bias[0] = math.log(p0 / rest)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.net(_features(self.enc, obs, self.net[-1].weight.dtype))
        if self.binary:
            x = torch.cat([x, torch.zeros_like(x)], -1)
        return x

    def _forward(self, batch, **kwargs):
        return {Columns.ACTION_DIST_INPUTS: self.logits(batch[Columns.OBS])}


class IncentiveModule(TorchRLModule):
    """Deterministic bounded incentive function ``mu_eta(designer_obs)``.

    ``model_config``: ``hidden`` (list; ``[]`` = single linear layer, AMD thesis §4.2),
    ``low``/``high`` (output bounds), ``init`` (``"normal"``: N(0, ``init_std``) weights and biases
    as AMD's code, ``"zeros"``: the zero init of the deterministic exact-gradient oracle, ``"default"``: torch's).
    """

    def setup(self):
        cfg = dict(self.model_config or {})
        # image observations: the shared conv encoder (model_config "conv_filters")
        self.enc = ObsEncoder(self.observation_space.shape, cfg.get("conv_filters"))
        in_dim = self.enc.out_dim
        self.n_out = int(self.action_space.shape[0]) if hasattr(self.action_space, "shape") \
            and self.action_space.shape else int(cfg["n_outputs"])
        self.low = float(cfg.get("low", 0.0))
        self.high = float(cfg.get("high", 2.0))
        self.net = mlp(in_dim, cfg.get("hidden", [64, 32]), self.n_out, cfg.get("activation", "relu"))
        init = cfg.get("init", "default")
        if init in ("normal", "zeros"):
            with torch.no_grad():
                for p in self.net.parameters():
                    if init == "zeros":
                        p.zero_()
                    else:
                        p.normal_(0.0, float(cfg.get("init_std", 0.1)))
        self.register_buffer("payment_scale", torch.ones(()))

    def preactivation(self, obs: torch.Tensor) -> torch.Tensor:
        """``x``: the output layer before the sigmoid."""
        return self.net(_features(self.enc, obs, self.net[-1].weight.dtype))

    def squashed(self, obs: torch.Tensor) -> torch.Tensor:
        """``sigmoid(x)`` in (0, 1), before scaling (the ER cost is charged on this in the authors' MetaGrad code)."""
        return torch.sigmoid(self.preactivation(obs))

    def incentives(self, obs: torch.Tensor) -> torch.Tensor:
        return self.payment_scale * (self.low + (self.high - self.low) * self.squashed(obs))

    def _forward(self, batch, **kwargs):
        return {Columns.ACTIONS: self.incentives(batch[Columns.OBS])}
