"""Name -> environment factory. ``make(name, **kwargs)`` returns the bare PettingZoo env.

Entries are ``"module:attribute"`` strings imported on first use, so listing names is cheap and
an environment's dependencies load only when it is made. Users add their own with ``register``.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Callable, Dict, List, Tuple, Union

Factory = Union[str, Callable]

_REGISTRY: Dict[str, Tuple[Factory, str]] = {
    "prisoners_dilemma": ("rllib_coopai.envs.matrix_games:prisoners_dilemma",
                          "2-player PD (DCL paper Table 1); horizon=1 one-shot, horizon=H repeated (LIO's IPD: 5)"),
    "stag_hunt": ("rllib_coopai.envs.matrix_games:stag_hunt", "Stag Hunt, AMD Table 4.1 (greed -1, fear 1)"),
    "chicken": ("rllib_coopai.envs.matrix_games:chicken", "Chicken, AMD Table 4.1 (greed 0.5, fear -1)"),
    "greed_fear": ("rllib_coopai.envs.matrix_games:greed_fear",
                   "AMD 2x2 dilemma family R=3, P=1, T=3+greed, S=1-fear"),
    "bach_or_stravinsky": ("rllib_coopai.envs.matrix_games:bach_or_stravinsky",
                           "Bach or Stravinsky (3,2)/(2,3); asymmetric=True for (4,1)/(2,2)"),
    "asymmetric_bach_or_stravinsky": ("rllib_coopai.envs.matrix_games:asymmetric_bach_or_stravinsky",
                                      "Asymmetric BoS (4,1)/(2,2), normative-disagreement paper Fig. 2"),
    "iterated_asymmetric_bos": ("rllib_coopai.envs.matrix_games:iterated_asymmetric_bos",
                                "IAsymBoS: asymmetric BoS repeated, horizon 20 (normative-disagreement paper §4.1)"),
    "iterated_prisoners_dilemma": ("rllib_coopai.envs.matrix_games:iterated_prisoners_dilemma",
                                   "IPD with the normative-disagreement paper's code payoffs, horizon 20"),
    "pure_coordination": ("rllib_coopai.envs.matrix_games:pure_coordination",
                          "Pure coordination (1,1)/(1,1), normative-disagreement paper Fig. 2"),
    "purely_conflicting": ("rllib_coopai.envs.matrix_games:purely_conflicting",
                           "Repeated Purely Conflicting game, horizon 16 (DCL paper Table 2)"),
    "matching_pennies": ("rllib_coopai.envs.matrix_games:matching_pennies", "Zero-sum matching pennies"),
    "matrix_game": ("rllib_coopai.envs.matrix_games:matrix_game", "Any N-player normal-form game from a payoff table"),
    "public_goods": ("rllib_coopai.envs.public_goods:PublicGoodsEnv",
                     "N-player public goods, factor 1.5, per-capita form (DCL paper §5.1, App. 11)"),
    "grid_game": ("rllib_coopai.envs.grid_game:GridGameEnv",
                  "2-player line-grid social dilemma, 4 cells, horizon 16 (DCL paper §4.1.2)"),
    "escape_room": ("rllib_coopai.envs.escape_room:EscapeRoomEnv",
                    "Escape Room ER(N, M): M agents must pull the lever for others to exit (LIO thesis §5.1)"),
    "cleanup": ("rllib_coopai.envs.cleanup:CleanupEnv",
                "Cleanup SSD, 7x7 / 10x10 maps, partial views, cleaning beam (LIO thesis §5.3.1)"),
    "coin_game": ("rllib_coopai.envs.coin_game:CoinGameEnv", "2-player 3x3 coin game (Lerer & Peysakhovich)"),
    "asymmetric_coin_game": ("rllib_coopai.envs.coin_game:AsymmetricBargainingCoinGameEnv",
                             "Asymmetric bargaining coin game ABCG (normative-disagreement paper §4.1, App. B)"),
    "gather_trade_build": ("rllib_coopai.envs.gather_trade_build:GatherTradeBuildEnv",
                           "Gather-Trade-Build economy, 15x15, 4 agents, bracket taxes (ID thesis §6.3.1)"),
}


def names() -> List[str]:
    """Sorted list of every registered environment name."""
    return sorted(_REGISTRY)


def describe(name: str) -> str:
    return _REGISTRY[_check_name(name)][1]


_BUILTIN = frozenset(_REGISTRY)
# Called as ``hook(name, factory, description)`` after every ``register``; the package's
# ``__init__`` adds one that registers the name with Ray (this module stays Ray-free).
_REGISTER_HOOKS: List[Callable] = []


def register(name: str, factory: Factory, description: str = "") -> None:
    """Add (or replace) environment ``name``.

    ``factory(**env_config)`` returns the env: a PettingZoo ``ParallelEnv`` or ``AECEnv`` (a class
    or a function such as PettingZoo's ``parallel_env``), or an RLlib ``MultiAgentEnv``. With
    ``rllib_coopai`` imported, the name is also registered with Ray
    (``ray.tune.registry.register_env``), before or after ``ray.init``, so env runners and Tune
    trials in other processes know it: ``config.environment("name")`` and YAML ``env: name`` work.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"environment name must be a non-empty string, got {name!r}")
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise ValueError(f"environment {name!r}: factory must be a callable returning the env "
                         f"(e.g. the env class) or a 'module:attribute' string, got {factory!r}")
    _REGISTRY[name] = (factory, description)
    for hook in _REGISTER_HOOKS:
        hook(name, factory, description)


def is_builtin(name: str) -> bool:
    """True for the package's own environments (False for ones added with ``register``)."""
    return name in _BUILTIN


def get_factory(name: str) -> Callable:
    factory = _REGISTRY[_check_name(name)][0]
    if isinstance(factory, str):
        module, attr = factory.split(":")
        factory = getattr(importlib.import_module(module), attr)
    return factory


def make(name: str, **kwargs):
    """Make environment ``name`` with keyword configuration ``kwargs`` (the paper's defaults)."""
    factory = get_factory(name)
    try:
        sig = inspect.signature(factory)
        accepts_any = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
        known = [p for p in sig.parameters if p not in ("self", "kw", "kwargs")]
    except (TypeError, ValueError):
        accepts_any, known = True, []
    if not accepts_any:
        for key in kwargs:
            if key not in sig.parameters:
                hint = difflib.get_close_matches(key, known, n=1)
                extra = f" Did you mean {hint[0]!r}?" if hint else ""
                raise ValueError(
                    f"unknown option {key!r} for environment {name!r}; "
                    f"valid options: {sorted(known)}.{extra}"
                )
    try:
        return factory(**kwargs)
    except TypeError as err:
        if "unexpected keyword argument" not in str(err):
            raise
        raise ValueError(f"environment {name!r}: {err}; valid options: {sorted(known)}") from None


def _check_name(name: str) -> str:
    if name not in _REGISTRY:
        hint = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        extra = f" Did you mean {hint[0]!r}?" if hint else ""
        raise ValueError(f"unknown environment {name!r}. Known environments: {', '.join(names())}.{extra}")
    return name
