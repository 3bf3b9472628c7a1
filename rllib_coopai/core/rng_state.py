"""Checkpoints carry the sampling RNG state, so a restored run continues like the uninterrupted one.

RLlib's checkpoints hold the modules, optimizers, connectors and counters, but not the random
number generators that drive sampling; a restored run re-seeded them and so replayed the first
iteration's samples. ``RNGStateMixin`` (mixed into each Algorithm of the package, before it) adds a
``"coop_rng_state"`` entry to ``get_state()`` and puts it back in ``set_state()``:

* in the driver (which holds the local env runner and, with ``num_learners=0``, the learner):
  Python's ``random``, NumPy's global RNG and torch's CPU RNG (CUDA RNGs too where present);
* in every remote env runner, by its ``worker_index``: the same three, plus the ``np_random``
  generator of every (sub-)environment;
* the algorithm attributes named in ``_RESTORED_ATTRS`` (e.g. DCL's running mean episode length,
  which sets how many episodes each sampling call asks for).

It also keeps evaluation out of the training's random streams: ``evaluate()`` puts the driver's
RNGs back when it is done (an evaluation in the driver process would otherwise shift every random
number the training draws after it; see ``RNGStateMixin.evaluate``).

What this cannot make identical (RLlib keeps it outside any checkpoint): the episode an env runner
holds open between two ``sample(num_timesteps=...)`` calls, i.e. PPO-based runs (IPPO, the dual-RL
designer) with RLlib's default ``batch_mode="truncate_episodes"``; with
``batch_mode="complete_episodes"`` they continue identically. The package's whole-episode samplers
(DCL, LIO, MetaGrad, AMD) ask for ``num_episodes``, which RLlib starts afresh on every call, so they
are unaffected. Remote Learner processes' own torch RNG (``num_learners > 0``) is not saved either. Note also that RLlib re-seeds
the envs with ``config.seed`` at the start of every ``sample(num_episodes=...)`` call, so under a
fixed seed each iteration's env randomness (not the policies' actions) starts from the same state.
"""
from __future__ import annotations

import contextlib
import random
from typing import Any, Dict, List

import numpy as np
import torch

RNG_STATE_KEY = "coop_rng_state"


def _generators(env, depth: int = 0, seen=None) -> List[np.random.Generator]:
    """Every ``numpy.random.Generator`` reachable as ``np_random`` through common wrapper links."""
    seen = set() if seen is None else seen
    if env is None or id(env) in seen or depth > 8:
        return []
    seen.add(id(env))
    found = []
    gen = getattr(env, "__dict__", {}).get("np_random", None)
    if gen is None:
        gen = getattr(env, "__dict__", {}).get("_np_random", None)
    if isinstance(gen, np.random.Generator):
        found.append(gen)
    for link in ("envs", "env", "par_env", "aec_env", "unwrapped", "_env"):
        try:
            child = getattr(env, link, None)
        except Exception:  # noqa: BLE001 - properties that cannot compute here
            continue
        for c in (child if isinstance(child, (list, tuple)) else [child]):
            if c is not env:
                found.extend(_generators(c, depth + 1, seen))
    return found


def capture_process_rng() -> Dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_process_rng(state: Dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def preserved_process_rng():
    """Puts Python's, NumPy's and torch's global RNGs back as they were before the block: what
    the block draws (an evaluation sampling in the training process) does not shift the random
    numbers the training draws after it."""
    state = capture_process_rng()
    try:
        yield
    finally:
        restore_process_rng(state)


def capture_env_runner_rng(env_runner) -> Dict[str, Any]:
    return {"process": capture_process_rng(),
            "envs": [g.bit_generator.state for g in _generators(getattr(env_runner, "env", None))]}


def restore_env_runner_rng(env_runner, state: Dict[str, Any], process: bool = True) -> None:
    if process:
        restore_process_rng(state["process"])
    gens = _generators(getattr(env_runner, "env", None))
    if len(gens) == len(state["envs"]):
        for g, s in zip(gens, state["envs"]):
            g.bit_generator.state = s


class RNGStateMixin:
    """Adds the sampling RNG state to the algorithm's state (see the module docstring)."""

    _RESTORED_ATTRS: tuple = ()

    def get_state(self, components=None, *, not_components=None, **kwargs):
        state = super().get_state(components, not_components=not_components, **kwargs)
        if self._check_component(RNG_STATE_KEY, components, not_components):
            group = getattr(self, "env_runner_group", None)
            entry = {"driver": capture_process_rng(), "env_runners": {},
                     "attrs": {a: getattr(self, a) for a in self._RESTORED_ATTRS if hasattr(self, a)}}
            if group is not None:
                if group.local_env_runner is not None:
                    entry["local_envs"] = capture_env_runner_rng(group.local_env_runner)["envs"]
                if group.num_remote_workers() > 0:
                    for idx, st in group.foreach_env_runner(
                            lambda er: (er.worker_index, capture_env_runner_rng(er)),
                            local_env_runner=False):
                        entry["env_runners"][idx] = st
            state[RNG_STATE_KEY] = entry
        return state

    def set_state(self, state) -> None:
        super().set_state(state)
        entry = state.get(RNG_STATE_KEY) if isinstance(state, dict) else None
        if not entry:
            return
        for a, v in entry.get("attrs", {}).items():
            setattr(self, a, v)
        group = getattr(self, "env_runner_group", None)
        if group is not None and entry.get("env_runners") and group.num_remote_workers() > 0:
            saved = entry["env_runners"]
            group.foreach_env_runner(
                lambda er, _s=saved: restore_env_runner_rng(er, _s[er.worker_index])
                if er.worker_index in _s else None,
                local_env_runner=False)
        if group is not None and group.local_env_runner is not None and "local_envs" in entry:
            restore_env_runner_rng(group.local_env_runner, {"envs": entry["local_envs"]},
                                   process=False)
        restore_process_rng(entry["driver"])  # last: nothing above may draw from it afterwards

    def evaluate(self, *args, **kwargs):
        """RLlib's evaluation, with the driver's RNGs put back afterwards: an evaluation that
        samples in the driver process (a local evaluation env runner) draws from the same
        global torch / NumPy RNGs as the training's local env runner and learner, so without
        this the training after an evaluation would depend on the evaluation's settings
        (duration, ``explore``) and code. Not with ``evaluation_parallel_to_training`` (the
        training draws at the same time there; putting the RNGs back would repeat its draws)."""
        if getattr(self.config, "evaluation_parallel_to_training", False):
            return super().evaluate(*args, **kwargs)
        with preserved_process_rng():
            return super().evaluate(*args, **kwargs)
