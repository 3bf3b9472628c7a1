"""The RLModule of one LIO agent: a policy, an incentive head and (optionally) a critic.

LIO thesis §5.2, §5.3.2, App. B.4.2:

* ``pi_net``: the policy ``pi_theta(a | o)`` (MLP; a small conv encoder first for image
  observations, Cleanup's "conv 6 filters 3x3 -> FC -> FC").
* ``inc_enc`` + ``inc_net``: the incentive function ``r_eta(o^i, a^{-i})``. Its input is the
  giver's own observation (for images: after the conv and the first FC layer, LIO thesis App. B.4.2, Table B.5)
  concatenated with features of every other agent's action (agent order, self skipped;
  :meth:`LIOTorchRLModule.action_features`): the full one-hot action by default, or, with
  ``observed_actions`` (a list of action indices), a one-hot over "none of them" + the listed
  actions -- Cleanup's "did it fire the cleaning beam" (LIO thesis §5.3.1). Its output layer has
  ``N`` nodes, **no bias** (the authors' code, networks.py), a sigmoid, and is scaled by ``R_max`` so every
  payment is in ``[0, R_max]``; the node for the giver itself is zeroed (an agent never pays
  itself).
* ``vf_net`` / ``vf_target``: main and target critic for actor-critic LIO (Cleanup, eqs B.9-B.10),
  fit to the agent's total reward (extrinsic + incentives received, the authors' code, lio_ac.py).
* ``ext_vf_net`` / ``ext_vf_target`` (only with ``extrinsic_critic``: a giver with
  ``giver_critic="extrinsic"``): a second critic of the agent's *extrinsic* reward alone, the
  baseline of the giver's TD error in the actor-critic form of eq. 5.10.
* ``epsilon`` buffer: the exploration floor ``(1 - eps) pi + eps / |A|`` of the behaviour policy
  (LIO thesis §5.3.2). It is a buffer so the learner's schedule reaches the EnvRunners with the weights.

Exploration forward passes (sampling) use the mixed policy; inference (evaluation) uses the plain
softmax (the reference code evaluates with eps = 0).
"""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Sequence

import torch
from torch import nn

from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis import ValueFunctionAPI
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

from rllib_coopai.modules.encoders import ObsEncoder

#: Defaults of the module's ``model_config`` (the config class fills the per-agent keys).
DEFAULT_MODEL_CONFIG: Dict[str, Any] = {
    "agent_index": 0,  # this agent's position in possible_agents
    "n_agents": 2,
    "other_action_dims": [2],  # |A^k| of every other agent, agent order, self skipped
    "observed_actions": None,  # None: one-hot of others' actions; list: one-hot over [none of them] + listed
    "gives_incentives": True,  # False: a plain PG / AC agent (LIO-asym partner, baseline)
    "r_max": 2.0,
    "policy_hiddens": [64, 32],
    "incentive_hiddens": [64, 16],
    "use_critic": False,
    "critic_hiddens": [64, 64],
    "image_conv_filters": 6,  # image observations only: one conv layer, 3x3, stride 1
    "epsilon_start": 0.5,
    "weight_init": "torch",  # "torch": PyTorch's defaults; "reference": the TF1 reference code's (see _reference_init)
    "extrinsic_critic": False,  # a second critic of the extrinsic reward (LIOConfig.giver_critic="extrinsic")
}


def _mlp(sizes: Sequence[int], out: int, bias_out: bool = True) -> nn.Sequential:
    layers: List[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], out, bias=bias_out))
    return nn.Sequential(*layers)


def _Encoder(obs_shape, filters: int) -> ObsEncoder:
    """The package's shared observation encoder: vectors as they are; for HWC images one conv
    (``filters``, 3x3, stride 1, "same" padding as the reference's ``networks.convnet``) + ReLU +
    flatten."""
    return ObsEncoder(obs_shape, [[int(filters), [3, 3], 1]])


def _reference_init(m: nn.Module) -> None:
    """The TF1 reference code's initializers (the authors' code, lio networks.py): dense layers Glorot-uniform
    kernels and zero biases (``tf.layers.dense``); the conv layer's kernel *and* bias come from
    ``tf.get_variable``'s default Glorot-uniform (bias shape ``[1, 1, 1, F]``: limit sqrt(6 / (1 + F)))."""
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            limit = (6.0 / (1 + m.out_channels)) ** 0.5
            nn.init.uniform_(m.bias, -limit, limit)


class LIOTorchRLModule(TorchRLModule, ValueFunctionAPI):
    """One LIO agent (policy + incentive head + optional critic); see the module docstring."""

    def setup(self):
        cfg = dict(DEFAULT_MODEL_CONFIG)
        cfg.update(self.model_config or {})
        self.cfg = cfg
        obs_shape = tuple(self.observation_space.shape)
        self.n_actions = int(self.action_space.n)
        self.n_agents = int(cfg["n_agents"])
        self.agent_index = int(cfg["agent_index"])
        self.other_action_dims = [int(d) for d in cfg["other_action_dims"]]
        observed = cfg.get("observed_actions")
        self.observed_actions = None if observed is None else [int(a) for a in observed]
        self.r_max = float(cfg["r_max"])
        self.gives_incentives = bool(cfg["gives_incentives"])
        self.use_critic = bool(cfg["use_critic"])

        self.pi_enc = _Encoder(obs_shape, cfg["image_conv_filters"])
        self.pi_net = _mlp([self.pi_enc.out_dim] + list(cfg["policy_hiddens"]), self.n_actions)
        if self.gives_incentives:
            hiddens = list(cfg["incentive_hiddens"])
            enc = _Encoder(obs_shape, cfg["image_conv_filters"])
            if enc.image:  # LIO thesis App. B.4.2: conv -> first FC -> concat others' actions -> second FC -> out
                self.inc_enc = nn.Sequential(enc, nn.Linear(enc.out_dim, hiddens[0]), nn.ReLU())
                enc_dim, hiddens = hiddens[0], hiddens[1:]
            else:  # the authors' code, networks.reward_mlp: the actions join the observation at the input
                self.inc_enc, enc_dim = enc, enc.out_dim
            # action_features: category of each action (identity, or 0 = none of the listed / k+1 =
            # listed action k) and the one-hot width per other agent
            n_max = max(self.other_action_dims, default=1)
            category = torch.arange(n_max)
            if self.observed_actions is None:
                self._feature_widths = list(self.other_action_dims)
            else:
                category = torch.zeros(n_max, dtype=torch.long)
                category[self.observed_actions] = torch.arange(1, len(self.observed_actions) + 1)
                self._feature_widths = [len(self.observed_actions) + 1] * len(self.other_action_dims)
            self.register_buffer("_action_category", category, persistent=False)
            inc_in = enc_dim + sum(self._feature_widths)
            # Output layer without bias (the authors' code, networks.py), one node per agent (LIO thesis §5.3.2).
            self.inc_net = _mlp([inc_in] + hiddens, self.n_agents, bias_out=False)
            mask = torch.ones(self.n_agents)
            mask[self.agent_index] = 0.0  # never pay yourself
            self.register_buffer("self_mask", mask)
        if self.use_critic:
            self.vf_enc = _Encoder(obs_shape, cfg["image_conv_filters"])
            self.vf_net = _mlp([self.vf_enc.out_dim] + list(cfg["critic_hiddens"]), 1)
            # the critic as one unregistered view (its parameters stay under vf_enc / vf_net)
            critic = nn.ModuleDict({"enc": self.vf_enc, "net": self.vf_net})
            self.vf_target = copy.deepcopy(critic)
            for p in self.vf_target.parameters():
                p.requires_grad_(False)
        if cfg["weight_init"] == "reference":
            # initialises vf_target too, then copies the critic over it
            self.apply(_reference_init)
            if self.use_critic:
                self.vf_target.load_state_dict(critic.state_dict())
        elif cfg["weight_init"] != "torch":
            raise ValueError(f"LIO model_config weight_init must be 'torch' or 'reference', got {cfg['weight_init']!r}")
        self.extrinsic_critic = bool(cfg["extrinsic_critic"])
        if self.extrinsic_critic:
            # Built after everything else (and initialised on its own): switching it on leaves the
            # other networks' initial weights under a seed unchanged, so the two critics compare
            # on the same starting point.
            if not self.use_critic:
                raise ValueError("LIO model_config extrinsic_critic needs use_critic (actor-critic agents)")
            self.ext_vf_enc = _Encoder(obs_shape, cfg["image_conv_filters"])
            self.ext_vf_net = _mlp([self.ext_vf_enc.out_dim] + list(cfg["critic_hiddens"]), 1)
            ext = nn.ModuleDict({"enc": self.ext_vf_enc, "net": self.ext_vf_net})
            if cfg["weight_init"] == "reference":
                ext.apply(_reference_init)
            self.ext_vf_target = copy.deepcopy(ext)
            for p in self.ext_vf_target.parameters():
                p.requires_grad_(False)
        self.register_buffer("epsilon", torch.tensor(float(cfg["epsilon_start"])))

    # ------------------------------------------------------------------ parameter groups
    def policy_param_names(self) -> List[str]:
        return [k for k, p in self.named_parameters() if k.startswith(("pi_enc.", "pi_net.")) and p.requires_grad]

    def incentive_param_names(self) -> List[str]:
        return [k for k, p in self.named_parameters() if k.startswith(("inc_enc.", "inc_net."))]

    def critic_param_names(self) -> List[str]:
        return [k for k, p in self.named_parameters() if k.startswith(("vf_enc.", "vf_net."))]

    def extrinsic_critic_param_names(self) -> List[str]:
        return [k for k, p in self.named_parameters() if k.startswith(("ext_vf_enc.", "ext_vf_net."))]

    # ------------------------------------------------------------------ heads
    def policy_logits(self, obs: torch.Tensor) -> torch.Tensor:
        """Unnormalised logits of ``pi_theta(. | o)``."""
        return self.pi_net(self.pi_enc(obs))

    def policy_logp(self, obs: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of the plain softmax policy (used in the outer loss, eq. 5.10)."""
        return torch.log_softmax(self.policy_logits(obs), -1)

    def mixed_logp(self, obs: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of the behaviour policy ``(1 - eps) pi + eps/|A|`` (LIO thesis §5.3.2)."""
        probs = torch.softmax(self.policy_logits(obs), -1)
        eps = self.epsilon
        return torch.log((1.0 - eps) * probs + eps / self.n_actions)

    def action_features(self, others_actions: Sequence[torch.Tensor]) -> torch.Tensor:
        """The incentive head's view of the other agents' actions (integer tensors, agent order).

        One-hot of each action, or with ``observed_actions`` a one-hot over "none of the listed
        actions" + the listed actions (Cleanup: ``[did not fire, fired the beam]``, the reference's
        2-dim ``obs_cleaned_1hot`` input).
        """
        parts = [
            torch.nn.functional.one_hot(self._action_category[a.long()], width).float()
            for a, width in zip(others_actions, self._feature_widths)
        ]
        return torch.cat(parts, -1)

    def incentive_preactivation(self, obs: torch.Tensor, others_onehot: torch.Tensor) -> torch.Tensor:
        """The incentive head's output layer before the sigmoid; shape ``[..., N]``."""
        return self.inc_net(torch.cat([self.inc_enc(obs), others_onehot.float()], -1))

    def squash(self, preactivation: torch.Tensor) -> torch.Tensor:
        """``sigmoid(x)`` with the self node zeroed: the unscaled incentive outputs in (0, 1)."""
        return torch.sigmoid(preactivation) * self.self_mask

    def incentive_sigmoid(self, obs: torch.Tensor, others_onehot: torch.Tensor) -> torch.Tensor:
        """Unscaled incentive outputs in (0, 1), self node zeroed; shape ``[..., N]``."""
        return self.squash(self.incentive_preactivation(obs, others_onehot))

    def incentives(self, obs: torch.Tensor, others_onehot: torch.Tensor) -> torch.Tensor:
        """Payments ``r_eta(o, a^{-i})`` to every agent, each in ``[0, R_max]``, self entry 0."""
        return self.r_max * self.incentive_sigmoid(obs, others_onehot)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.vf_net(self.vf_enc(obs)).squeeze(-1)

    def target_value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.vf_target["net"](self.vf_target["enc"](obs)).squeeze(-1)

    def extrinsic_value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.ext_vf_net(self.ext_vf_enc(obs)).squeeze(-1)

    def extrinsic_target_value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.ext_vf_target["net"](self.ext_vf_target["enc"](obs)).squeeze(-1)

    # ------------------------------------------------------------------ RLModule API
    def _forward_inference(self, batch: Dict[str, Any], **kwargs) -> Dict[str, Any]:
        return {Columns.ACTION_DIST_INPUTS: self.policy_logits(batch[Columns.OBS])}

    def _forward_exploration(self, batch: Dict[str, Any], **kwargs) -> Dict[str, Any]:
        return {Columns.ACTION_DIST_INPUTS: self.mixed_logp(batch[Columns.OBS])}

    def _forward_train(self, batch: Dict[str, Any], **kwargs) -> Dict[str, Any]:
        return self._forward_exploration(batch)

    def compute_values(self, batch: Dict[str, Any], embeddings=None) -> torch.Tensor:
        if not self.use_critic:
            return torch.zeros(batch[Columns.OBS].shape[0], device=batch[Columns.OBS].device)
        return self.value(batch[Columns.OBS])
