"""Shared pieces of every environment in the package.

Environments are plain PettingZoo ``ParallelEnv`` subclasses; nothing here imports Ray.

Info contract (what the metrics callbacks read). Every env puts, for every live agent, into
``infos[agent]`` after each ``step``:

* ``"joint_action"`` -- tuple of the executed actions of all ``possible_agents`` (in that order),
  where the env has a joint action worth reporting.
* ``"cooperated"`` -- ``True`` / ``False`` where the env defines a cooperative action for that agent at
  that step (it is absent where cooperation is undefined, e.g. matching pennies).
* ``"extrinsic_reward"`` -- added by the reward-changing wrappers (incentives, designer) so that
  social welfare is always measured on the environment's own rewards.
"""
from __future__ import annotations

import abc
import numbers
from typing import Any, Iterable, Optional

import numpy as np
from gymnasium.spaces import Discrete
from pettingzoo import ParallelEnv


# --------------------------------------------------------------------------------------------
# Validation helpers: every bad keyword value raises ValueError naming the key and the range.
# --------------------------------------------------------------------------------------------
def check_int(name: str, value: Any, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """Return ``value`` as int if it is an integer within ``[low, high]``; else raise ValueError."""
    rng = _range_text(low, high)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer {rng}, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer {rng}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    low: Optional[float] = None,
    high: Optional[float] = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as float if it is a finite real in the given (optionally open) range."""
    lo_b = "(" if low_open else "["
    hi_b = ")" if high_open else "]"
    rng = f"in {lo_b}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi_b}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number {rng}, got {value!r}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be a number {rng}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be a number {rng}, got {value}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f"in [{low}, {high}]"
    if low is not None:
        return f">= {low}"
    if high is not None:
        return f"<= {high}"
    return ""


class CoopParallelEnv(ParallelEnv, abc.ABC):
    """Base class: per-agent space dicts, seeding, ``render_mode="ansi"``, checked actions.

    Subclasses set ``self.possible_agents``, ``self.observation_spaces`` and
    ``self.action_spaces`` in ``__init__`` and implement ``_reset`` / ``_step`` / ``_render_text``.
    ``self.np_random`` is a ``numpy.random.Generator`` re-created by ``reset(seed=...)``.

    ``step(actions)`` checks ``actions`` with ``check_actions`` before calling ``_step``, so every
    environment of the package raises ``ValueError`` naming the agent and the problem for a step
    before ``reset()``, a step after the episode ended, a missing or extra agent, and an action
    outside the agent's action space (a float such as ``0.5``, a string, an out-of-range integer).
    Python and numpy integers (and, as in gymnasium's ``Discrete.contains``, bools) are accepted
    for ``Discrete(n)`` spaces. ``_step`` may therefore assume
    one valid action per live agent.
    """

    metadata = {"render_modes": ["ansi"], "name": "coop_env", "is_parallelizable": True}
    _episode_started = False
    _action_high = None  # per-agent Discrete sizes (numpy array, ``possible_agents`` order)

    def __init__(self, render_mode: Optional[str] = None):
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.np_random = np.random.default_rng()
        self.agents: list = []

    # PettingZoo accessors (cached spaces: the same object each call).
    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
            for i, agent in enumerate(self.possible_agents):
                self.action_spaces[agent].seed(seed + 1 + i)
                self.observation_spaces[agent].seed(seed + 101 + i)
        self.agents = list(self.possible_agents)
        self._episode_started = True
        spaces = [self.action_spaces[a] for a in self.possible_agents]
        self._action_high = (np.array([int(sp.n) for sp in spaces], np.uint64)
                             if all(type(sp) is Discrete and sp.start == 0 for sp in spaces) else None)
        return self._reset(options or {})

    @abc.abstractmethod
    def _reset(self, options: dict):
        """Start a new episode (``self.agents`` is already reset); return ``(obs, infos)``."""

    def step(self, actions):
        """Advance one step with ``actions`` (agent -> action, one per live agent).

        Returns PettingZoo's ``(obs, rewards, terminations, truncations, infos)``.
        Raises ``ValueError`` for the faults listed in the class docstring.
        """
        self.check_actions(actions)
        return self._step(actions)

    @abc.abstractmethod
    def _step(self, actions):
        """One step with already checked ``actions``; return PettingZoo's 5-tuple."""

    def check_actions(self, actions) -> None:
        """Raise ``ValueError`` unless ``actions`` holds one valid action for each live agent."""
        agents = self.agents
        if not agents:
            if self._episode_started:
                self._action_fault("step() called after the episode ended; call reset() first")
            self._action_fault("step() called before reset()")
        try:
            keys = actions.keys()
        except AttributeError:
            self._action_fault(f"actions must be a dict agent -> action, got {type(actions).__name__}")
        if keys != set(agents):
            missing = [a for a in agents if a not in actions]
            if missing:
                self._action_fault(f"missing action for agent {missing[0]!r} (live agents: {agents})")
            extra = [a for a in keys if a not in agents]
            self._action_fault(f"action for agent {extra[0]!r}, which is not a live agent "
                               f"(live agents: {agents})")
        high = self._action_high
        if high is None:  # a space other than Discrete(n): the space decides
            for a in agents:
                if not self.action_spaces[a].contains(actions[a]):
                    self._action_fault(f"action of {a!r} is not in its action space "
                                       f"{self.action_spaces[a]}, got {actions[a]!r}")
            return
        if agents != self.possible_agents:
            high = np.array([self.action_spaces[a].n for a in agents], np.uint64)
        values = [actions[a] for a in agents]
        try:
            arr = np.asarray(values)
        except ValueError:  # ragged sequences
            arr = np.asarray(values, dtype=object)
        if arr.dtype.kind in "iub" and arr.shape == (len(agents),):
            bad = arr.astype(np.uint64) >= high  # negative integers wrap to huge unsigned ones
            if not bad.any():
                return
        for a, v, n in zip(agents, values, high.tolist()):  # error path: find the offending agent
            ok = (isinstance(v, np.ndarray) and v.shape == () and v.dtype.kind in "iub") or isinstance(
                v, (numbers.Integral, np.bool_))
            if not ok or not 0 <= int(v) < n:
                self._action_fault(f"action of {a!r} must be an integer in [0, {n - 1}], got {v!r}")

    def _action_fault(self, problem: str):
        raise ValueError(f"{self.metadata.get('name', type(self).__name__)}: {problem}")

    def render(self):
        if self.render_mode is None:
            return None
        return self._render_text()

    def _render_text(self) -> str:
        return repr(self)

    def close(self):
        pass

    @property
    def n_agents(self) -> int:
        return len(self.possible_agents)
