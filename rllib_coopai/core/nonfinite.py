"""Non-finite guard for learner updates: a NaN / inf never trains on silently.

After every ``Learner.update()`` the learner checks the metrics it logged in that update whose
names hold "loss", "norm", "objective" or "cost" (RLlib's ``total_loss`` per module included),
the loss of every step of the update (epochs and minibatches), and every parameter. (RLlib's ``TorchLearner`` sets NaN / inf gradients to zero and applies the update,
so without this check a NaN loss would pass silently.) On a NaN / inf:

* by default it raises ``NonFiniteUpdateError`` naming the module, the loss term (or parameter)
  and the value; the algorithm adds the training iteration. The error is raised inside
  ``train()``, before any checkpoint of that iteration is written, so the last checkpoint on disk
  is the last good one.
* with ``.training(skip_nonfinite_updates=True)`` it puts back the module weights and optimizer
  states from before the update (the update is skipped), together with any torch module a
  learner trains outside its RLModules (``nonfinite_guarded_modules()``, e.g. AMD's actor-critic
  critics); other state a learner keeps between updates (LIO's kept rollout, a round sampler's
  generator) is not put back. It counts the skip in the learner
  results: ``learners/__all_modules__/nonfinite_updates_skipped`` (this iteration) and
  ``nonfinite_updates_skipped_lifetime``.

Mix ``FiniteUpdateLearnerMixin`` into a ``TorchLearner`` subclass (before it) and
``NonFiniteIterationMixin`` into an ``Algorithm`` subclass (before it).
"""
from __future__ import annotations

import copy
import math
import numbers
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch

from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core import ALL_MODULES

SKIPPED_KEY = "nonfinite_updates_skipped"
SKIPPED_LIFETIME_KEY = "nonfinite_updates_skipped_lifetime"
_TERM_WORDS = ("loss", "norm", "objective", "cost")


class NonFiniteUpdateError(FloatingPointError):
    """A learner update produced a NaN or inf (see the module docstring).

    ``module_id``, ``term`` (the loss term or parameter) and ``iteration`` (the training
    iteration, where known) say what went bad; the message says it too. The error pickles with
    its message, these fields and any other attribute, so it reaches the driver intact from a
    remote Learner or EnvRunner, where Ray raises it as ``RayTaskError(NonFiniteUpdateError)``
    (an instance of both, whose ``cause`` is this error).
    """

    def __init__(self, message: str, module_id: Any = None, term: Optional[str] = None,
                 iteration: Optional[int] = None):
        super().__init__(message)
        self.module_id = module_id
        self.term = term
        self.iteration = iteration

    def __reduce__(self):
        # The fields as constructor arguments, every other attribute (notes included) as state.
        message = str(self.args[0]) if self.args else ""
        return (type(self), (message, self.module_id, self.term, self.iteration), dict(vars(self)))


def _leaves(tree, path=()) -> Iterator[Tuple[tuple, Any]]:
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _leaves(v, path + (k,))
    else:
        yield path, tree


def _nonfinite_number(v) -> bool:
    if isinstance(v, torch.Tensor):
        return v.numel() > 0 and not bool(torch.isfinite(v.detach()).all())
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return not math.isfinite(float(v))
    return False


class FiniteUpdateLearnerMixin:
    """Checks each update for NaN / inf; raises or skips (see the module docstring)."""

    def before_gradient_based_update(self, *, timesteps) -> None:
        super().before_gradient_based_update(timesteps=timesteps)
        self._nonfinite_updates = getattr(self, "_nonfinite_updates", 0) + 1
        self._nonfinite_snapshot = self._take_snapshot() if self._skip_nonfinite() else None
        self._nonfinite_loss = None

    def compute_gradients(self, loss_per_module, **kwargs):
        """Notes the first non-finite loss of this update's steps: RLlib zeroes its gradients and
        later steps of a multi-epoch update log finite values over it, so the logged metrics
        alone would not show it."""
        if getattr(self, "_nonfinite_loss", None) is None:
            for mid, loss in loss_per_module.items():
                if _nonfinite_number(loss):
                    self._nonfinite_loss = (mid, "the loss of one of this update's steps",
                                            float(torch.as_tensor(loss).detach().sum()))
                    break
        return super().compute_gradients(loss_per_module, **kwargs)

    def after_gradient_based_update(self, *, timesteps) -> None:
        super().after_gradient_based_update(timesteps=timesteps)
        bad = self._find_nonfinite() or getattr(self, "_nonfinite_loss", None)
        skipped = 0
        if bad:
            module_id, term, value = bad
            if self._nonfinite_snapshot is None:
                raise NonFiniteUpdateError(
                    f"non-finite value after a learner update: module {module_id!r}, {term} = "
                    f"{value} (learner update {self._nonfinite_updates}). Lower the learning "
                    "rates or reward scale, or set .training(skip_nonfinite_updates=True) to "
                    "skip such updates.", module_id, term)
            self._restore_snapshot(self._nonfinite_snapshot)
            skipped = 1
        self._nonfinite_snapshot = None
        self.metrics.log_value((ALL_MODULES, SKIPPED_KEY), skipped, reduce="sum")
        self.metrics.log_value((ALL_MODULES, SKIPPED_LIFETIME_KEY), skipped, reduce="lifetime_sum")

    def nonfinite_guarded_modules(self) -> Dict[str, torch.nn.Module]:
        """Torch modules this learner trains outside ``self.module`` (name -> module): the guard
        checks their parameters and puts them back on a skipped update, like the RLModules'.
        Names must differ from the module ids (they stand for the module in error messages).
        None by default; a learner with such modules (AMD's critics) overrides this."""
        return {}

    # ------------------------------------------------------------------ pieces
    def _guarded_modules(self) -> Dict[Any, torch.nn.Module]:
        mods = dict(self.module._rl_modules.items())
        for name, m in self.nonfinite_guarded_modules().items():
            if name in mods:
                raise ValueError(f"nonfinite_guarded_modules: {name!r} is also a module id")
            mods[name] = m
        return mods

    def _skip_nonfinite(self) -> bool:
        return bool(getattr(self.config, "skip_nonfinite_updates", False))

    def _optimizers(self) -> List[Tuple[str, torch.optim.Optimizer]]:
        opts = list(getattr(self, "_named_optimizers", {}).items())
        seen = {id(o) for _, o in opts}
        for name, val in vars(self).items():  # optimizers a learner keeps outside RLlib's registry
            if isinstance(val, torch.optim.Optimizer) and id(val) not in seen:
                opts.append((name, val))
                seen.add(id(val))
        return opts

    def _take_snapshot(self):
        modules = {mid: {k: v.detach().clone() for k, v in m.state_dict().items()}
                   for mid, m in self._guarded_modules().items()}
        optims = {name: copy.deepcopy(o.state_dict()) for name, o in self._optimizers()}
        return modules, optims

    def _restore_snapshot(self, snapshot) -> None:
        modules, optims = snapshot
        guarded = self._guarded_modules()
        with torch.no_grad():
            for mid, state in modules.items():
                guarded[mid].load_state_dict(state)
        for name, o in self._optimizers():
            if name in optims:
                o.load_state_dict(optims[name])

    def _find_nonfinite(self):
        """``(module_id, term, value)`` of the first NaN / inf found, else None."""
        terms = []  # loss terms / norms logged in this update (empty stats peek as NaN: skipped)
        for path, stat in _leaves(getattr(self.metrics, "stats", {})):
            if len(path) < 2 or not any(w in str(path[-1]) for w in _TERM_WORDS):
                continue
            try:
                if len(stat) == 0:
                    continue
                value = stat.peek()
            except Exception:  # noqa: BLE001 - a stat that cannot be read is not evidence
                continue
            if _nonfinite_number(value):
                terms.append((path, value))
        for mid, m in self._guarded_modules().items():
            params = [(n, p) for n, p in m.named_parameters()]
            if not params:
                continue
            total = torch.stack([p.detach().sum() for _, p in params]).sum()
            if bool(torch.isfinite(total)):
                continue
            for name, p in params:
                if not bool(torch.isfinite(p.detach()).all()):
                    own = [t for t in terms if t[0][0] == mid]
                    if own:  # name the loss term that went bad rather than its consequence
                        path, v = own[0]
                        return mid, f"loss term {'/'.join(map(str, path[1:]))!r}", v
                    n_bad = int((~torch.isfinite(p.detach())).sum())
                    return mid, f"parameter {name!r} ({n_bad} of {p.numel()} entries)", "nan/inf"
        if terms:
            path, v = terms[0]
            return path[0], f"loss term {'/'.join(map(str, path[1:]))!r}", v
        return None


class NonFiniteIterationMixin:
    """Adds the training iteration to a learner's ``NonFiniteUpdateError``."""

    def step(self):
        try:
            return super().step()
        except NonFiniteUpdateError as e:
            cause = getattr(e, "cause", e)
            text = str(cause.args[0]) if getattr(cause, "args", None) else str(e)
            raise NonFiniteUpdateError(
                f"{type(self).__name__} training iteration {self.iteration + 1}: {text}",
                getattr(cause, "module_id", None), getattr(cause, "term", None),
                iteration=self.iteration + 1) from None


class GuardedPPOTorchLearner(FiniteUpdateLearnerMixin, PPOTorchLearner):
    """RLlib's PPO torch learner; raises on (or skips) updates that produce NaN / inf (IPPO,
    dual-RL designer). Its state also carries the adaptive KL coefficients, which RLlib's
    ``PPOLearner`` leaves out of checkpoints (a restored run would restart from ``kl_coeff``)."""

    def get_state(self, components=None, *, not_components=None, **kwargs):
        state = super().get_state(components, not_components=not_components, **kwargs)
        if components is None:
            state["ppo_kl_coeffs"] = {mid: float(v.detach().cpu()) for mid, v
                                      in dict(self.curr_kl_coeffs_per_module).items()}
        return state

    def set_state(self, state) -> None:
        super().set_state(state)
        for mid, value in (state.get("ppo_kl_coeffs") or {}).items():
            with torch.no_grad():
                self.curr_kl_coeffs_per_module[mid].fill_(value)
