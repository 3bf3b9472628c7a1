"""The observation preprocessing every algorithm of the package shares.

One rule, chosen from the agent's observation space, in two steps:

1. **Preprocessing** (numpy, on the EnvRunner, by the env-to-module piece
   :class:`EncodeObservations`): a ``Box`` vector (rank 1) or an image (``H x W x C`` ``Box``)
   passes unchanged; every other space is flattened to one float32 vector with gymnasium's
   ``spaces.flatten``: ``Discrete`` and ``MultiDiscrete`` become one-hots (``start`` honoured),
   ``MultiBinary`` and ``Box`` of any other rank are raveled, ``Dict`` and ``Tuple`` concatenate
   their parts' encodings (``Dict`` in the space's key order). The encoded observation is written
   back into the episode, so every learner (RLlib's and the package's own episode readers) trains
   on exactly what the policy saw, and every RLModule is built for the encoded space
   (:func:`module_observation_space`).
2. **Encoding** (torch, inside each RLModule, :class:`ObsEncoder`): vectors are used as they are;
   images go through a small conv encoder (default one 3x3 conv with 6 filters, stride 1, "same"
   padding, ReLU, then flattened: the Cleanup architecture of the LIO thesis, App. B.4.2, Table B.5), set by
   ``model_config["conv_filters"]`` in RLlib's ``[[filters, kernel, stride], ...]`` format.

``Text``, ``Graph``, ``Sequence`` and ``OneOf`` observations are refused at ``build_algo()``
(:func:`check_observation_space`).
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from ray.rllib.connectors.connector_v2 import ConnectorV2

#: The image encoder used when the config sets none: one 3x3 conv, 6 filters, stride 1.
DEFAULT_CONV_FILTERS: List[list] = [[6, [3, 3], 1]]

SUPPORTED_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary,
                    spaces.Dict, spaces.Tuple)


def is_image_shape(shape) -> bool:
    """An ``H x W x C`` observation (rank 3): encoded by the conv encoder."""
    return shape is not None and len(shape) == 3


def passes_unchanged(space: spaces.Space) -> bool:
    """Whether ``space`` reaches the RLModule as it is: a rank-1 ``Box`` or an image ``Box``."""
    return isinstance(space, spaces.Box) and len(space.shape) in (1, 3)


def check_observation_space(space: spaces.Space, agent: Any = None) -> None:
    """Raise a ``ValueError`` naming the agent and the supported kinds if ``space`` has none."""

    def ok(sp) -> bool:
        if isinstance(sp, spaces.Dict):
            return all(ok(s) for s in sp.spaces.values())
        if isinstance(sp, spaces.Tuple):
            return all(ok(s) for s in sp.spaces)
        return isinstance(sp, SUPPORTED_SPACES)

    if not ok(space):
        who = f"agent {agent!r}" if agent is not None else "an agent"
        raise ValueError(
            f"{who} has observation space {space}, which the package's algorithms cannot encode. "
            "Supported: Box (vectors, H x W x C images, any other rank is flattened), Discrete and "
            "MultiDiscrete (one-hot), MultiBinary, and Dict / Tuple of these (flattened and "
            "concatenated). Wrap the env to give such an observation space."
        )


def module_observation_space(space: spaces.Space) -> spaces.Box:
    """The observation space an RLModule is built for: ``space`` itself for a rank-1 or image
    ``Box``, else the float32 ``Box`` of the flattened encoding (``flatdim(space)`` entries)."""
    if passes_unchanged(space):
        return space
    check_observation_space(space)
    flat = spaces.flatten_space(space)
    return spaces.Box(flat.low.astype(np.float32), flat.high.astype(np.float32), flat.shape,
                      np.float32)


def encode_observation(space: spaces.Space, obs) -> np.ndarray:
    """One observation of ``space`` as the RLModule sees it (see the module docstring)."""
    if passes_unchanged(space):
        return obs
    return np.asarray(spaces.flatten(space, obs), np.float32)


def conv_filters_of(model_config) -> List[list]:
    """``conv_filters`` of an ``AlgorithmConfig.model_config`` (dict or ``DefaultModelConfig``),
    or :data:`DEFAULT_CONV_FILTERS` when unset."""
    if isinstance(model_config, dict):
        value = model_config.get("conv_filters")
    else:
        value = getattr(model_config, "conv_filters", None)
    return [list(f) for f in value] if value else [list(f) for f in DEFAULT_CONV_FILTERS]


def _pair(v) -> tuple:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


class ObsEncoder(nn.Module):
    """The torch side of the shared preprocessing, for an RLModule's (encoded) observation shape.

    Images (``H x W x C``): the conv stack of ``conv_filters`` (each ``[filters, kernel, stride]``,
    "same"-style padding ``kernel // 2``, ReLU) and a flatten; ``forward`` accepts ``[..., H, W, C]``
    or the flattened ``[..., H*W*C]``. Anything else: flattened to ``[..., prod(shape)]`` float;
    no parameters. ``out_dim`` is the feature width.
    """

    def __init__(self, obs_shape: Sequence[int], conv_filters: Optional[Sequence] = None):
        super().__init__()
        self.obs_shape = tuple(int(d) for d in obs_shape)
        self.obs_ndim = len(self.obs_shape)
        self.image = is_image_shape(self.obs_shape)
        self.flat_in = int(math.prod(self.obs_shape))
        if self.image:
            h, w, c = self.obs_shape
            layers: List[nn.Module] = []
            for filters, kernel, stride in (conv_filters or DEFAULT_CONV_FILTERS):
                k = _pair(kernel)
                layers += [nn.Conv2d(c, int(filters), k, _pair(stride), padding=(k[0] // 2, k[1] // 2)),
                           nn.ReLU()]
                c = int(filters)
            layers.append(nn.Flatten())
            self.conv = nn.Sequential(*layers)
            with torch.no_grad():
                self.out_dim = int(self.conv(torch.zeros(1, self.obs_shape[2], h, w)).shape[-1])
        else:
            self.out_dim = self.flat_in

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.image:
            if tuple(obs.shape[-3:]) == self.obs_shape:
                lead = obs.shape[:-3]
            else:  # flattened images (e.g. joint observation columns split per agent)
                lead = obs.shape[:-1]
            x = obs.reshape(-1, *self.obs_shape).permute(0, 3, 1, 2).float()
            return self.conv(x).reshape(*lead, -1)
        lead = obs.shape[: obs.dim() - self.obs_ndim]
        return obs.reshape(*lead, -1).float()


class EncodeObservations(ConnectorV2):
    """Env-to-module piece: the shared preprocessing of every agent's newest observation.

    Its input observation space is the env's ``Dict`` of per-agent spaces; for every agent whose
    space does not pass unchanged (:func:`passes_unchanged`) it writes
    :func:`encode_observation` of the newest observation back into the agent's episode and
    reports :func:`module_observation_space` as that agent's output space. Put first in the
    env-to-module pipeline (``CoopConfigMixin.build_env_to_module_connector`` does).
    """

    def recompute_output_observation_space(self, input_observation_space, input_action_space):
        if not isinstance(input_observation_space, spaces.Dict):
            return input_observation_space
        return spaces.Dict({a: module_observation_space(s)
                            for a, s in input_observation_space.spaces.items()})

    def __call__(self, *, rl_module, batch, episodes, explore=None, shared_data=None, **kwargs):
        raw = self.input_observation_space
        if not isinstance(raw, spaces.Dict):
            return batch
        encoded = self.observation_space
        for sa in self.single_agent_episode_iterator(episodes, agents_that_stepped_only=True):
            space = raw.spaces.get(sa.agent_id)
            if space is None or passes_unchanged(space):
                continue
            target = encoded[sa.agent_id]
            obs = sa.get_observations(-1)
            if not (isinstance(obs, np.ndarray) and obs.shape == target.shape
                    and getattr(space, "shape", None) != target.shape):  # not encoded yet
                obs = encode_observation(space, obs)
            sa.observation_space = target
            sa.set_observations(at_indices=-1, new_data=obs)
        return batch


def needs_encoding(observation_spaces: Dict[Any, spaces.Space]) -> bool:
    """Whether any agent's observation space is changed by the preprocessing."""
    return any(not passes_unchanged(s) for s in observation_spaces.values())
