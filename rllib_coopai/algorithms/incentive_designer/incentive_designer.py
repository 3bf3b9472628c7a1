"""``IncentiveDesigner``: the name kept for existing code and YAML files.

The centralized incentive designer of the ID thesis ch. 6 is two algorithms: ``MetaGrad``
(meta-gradient designer, ``metagrad.py``) and ``DualRLDesigner`` (PPO designer and agents,
``dual_rl.py``). ``IncentiveDesignerConfig`` is ``MetaGradConfig``; ``.training(designer="rl")``
returns a ``DualRLDesignerConfig`` carrying the settings made so far (use the returned object).
In YAML, ``run: IncentiveDesigner`` with ``designer: metagrad | rl`` resolves to ``MetaGrad`` /
``DualRLDesigner`` (``rllib_coopai.algorithms.resolve_alias``).
"""
from __future__ import annotations

from ray.rllib.algorithms.algorithm_config import NotProvided

from rllib_coopai.algorithms.incentive_designer.dual_rl import DualRLDesignerConfig
from rllib_coopai.algorithms.incentive_designer.metagrad import MetaGrad, MetaGradConfig
from rllib_coopai.core.designer_seat import register_seat_envs
from rllib_coopai.core.validation import _same

DESIGNERS = ("metagrad", "rl")


class IncentiveDesignerConfig(MetaGradConfig):
    """``MetaGradConfig`` under the old name; ``training(designer="rl")`` switches to dual-RL."""

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or IncentiveDesigner)

    def training(self, *, designer=NotProvided, **kwargs):
        if designer is NotProvided or designer == "metagrad":
            return super().training(**kwargs)
        if designer != "rl":
            raise ValueError(f"designer must be one of {DESIGNERS}, got {designer!r}")
        from rllib_coopai.algorithms.incentive_designer.metagrad import METAGRAD_KEYS

        wrong = sorted(k for k in kwargs if k in METAGRAD_KEYS)
        if wrong:
            raise ValueError(f"designer='rl' (DualRLDesigner, PPO agents and designer) does not "
                             f"read the MetaGrad keys {wrong}; use PPO's keys (lr, entropy_coeff, "
                             "train_batch_size_per_learner, model_config ...) instead")
        other = DualRLDesignerConfig()
        fresh = MetaGradConfig().__dict__
        for key, value in self.__dict__.items():  # the settings made so far (not MetaGrad's own)
            if key in other.__dict__ and key != "algo_class" and not _same(value, fresh.get(key)):
                setattr(other, key, value)
        return other.training(**kwargs)


class IncentiveDesigner(MetaGrad):
    """``MetaGrad`` under the old name."""

    @classmethod
    def get_default_config(cls) -> IncentiveDesignerConfig:
        return IncentiveDesignerConfig()


register_seat_envs()

__all__ = ["IncentiveDesigner", "IncentiveDesignerConfig"]
