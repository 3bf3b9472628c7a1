"""Classic RLlib experiment files (YAML/JSON) -> ``AlgorithmConfig`` + Tune ``param_space``.

Format (one or more experiments per file, as ``rllib train -f`` read them before Ray 2.41)::

    pd-ippo:                      # experiment name (the Tune run directory)
      run: IPPO                   # this package's algorithms or RLlib's (PPO, APPO, DQN, ...)
      env: prisoners_dilemma      # a registered env name, a class path (my_pkg.my_mod.MyEnv)
                                  # or a gymnasium id (CartPole-v1)
      stop: {training_iteration: 20}
      num_samples: 1
      checkpoint_config: {checkpoint_frequency: 10, checkpoint_at_end: true}
      config:                     # AlgorithmConfig keys (update_from_dict); search spaces allowed
        lr: {grid_search: [1.0e-3, 1.0e-4]}
        entropy_coeff: {uniform: [0.0, 0.01]}
        model_config: {fcnet_hiddens: [8, 8]}
        env_config: {horizon: 1}

Search spaces anywhere inside ``config`` (nested dicts included): ``{grid_search: [...]}``,
``{choice: [...]}``, ``{uniform: [lo, hi]}``, ``{loguniform: [lo, hi]}``, ``{randint: [lo, hi]}``,
``{quniform: [lo, hi, q]}``, ``{randn: [mean, sd]}``.

Everything a person can get wrong is checked here, in the driver, before Ray starts: the file, the
YAML, experiment keys, the algorithm and env names, every config key (unknown ones get the nearest
valid key), search-space specs, and the config itself (``validate()`` plus one env instance built
with each distinct searched value).
"""
from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

from rllib_coopai.cli.errors import CLIError, suggest

EXPERIMENT_KEYS = (
    "run", "algo", "env", "stop", "config", "checkpoint_config", "num_samples", "storage_path",
    "local_dir", "checkpoint_freq", "checkpoint_at_end", "keep_checkpoints_num", "max_failures",
    "description",
)
CHECKPOINT_KEYS = (
    "checkpoint_frequency", "checkpoint_at_end", "num_to_keep", "checkpoint_score_attribute",
    "checkpoint_score_order",
)
# Old result keys (old API stack) -> new ones, for ``stop:``.
STOP_KEY_ALIASES = {
    "episode_reward_mean": "env_runners/episode_return_mean",
    "sampler_results/episode_reward_mean": "env_runners/episode_return_mean",
    "env_runners/episode_reward_mean": "env_runners/episode_return_mean",
    "timesteps_total": "num_env_steps_sampled_lifetime",
    "social_welfare": "env_runners/social_welfare",
    "cooperation_rate": "env_runners/cooperation_rate",
    "agreement_rate": "env_runners/agreement_rate",
}
# Config keys ``update_from_dict`` handles itself although they are not attributes.
_SPECIAL_CONFIG_KEYS = {"multiagent", "callbacks", "model", "optimizer", "exploration_config",
                        "replay_buffer_config", "sample_collector", "env", "env_config"}
SEARCH_KINDS = ("grid_search", "choice", "uniform", "loguniform", "randint", "quniform", "randn")
DEFAULT_CHECKPOINT = {"checkpoint_frequency": 10, "checkpoint_at_end": True}


@dataclass
class Experiment:
    """One experiment of a file, checked and ready for ``tune.Tuner`` or ``build_algo()``."""

    name: str
    run: str
    algo_class: type
    config: Any                       # AlgorithmConfig, search spaces in place (Tune param_space)
    stop: Dict[str, float]
    checkpoint: Dict[str, Any]
    num_samples: int = 1
    storage_path: Optional[str] = None
    max_failures: int = 0
    search_paths: List[Tuple[str, ...]] = field(default_factory=list)
    source: str = ""
    stop_override: Dict[str, float] = field(default_factory=dict)  # given by --stop (in ``stop`` too)

    @property
    def env(self):
        return self.config.env

    @property
    def is_search(self) -> bool:
        return bool(self.search_paths) or self.num_samples > 1

    def concrete_config(self):
        """The config with every search space replaced by its first value (for ``build_algo``)."""
        return _apply(self, _first_values(self._raw_config))

    _raw_config: Dict[str, Any] = field(default_factory=dict, repr=False)


# --------------------------------------------------------------------------------------- reading
def read_file(path: str) -> Dict[str, Any]:
    """Parse a YAML/JSON experiment file into a dict (``CLIError`` for every way that can fail)."""
    import yaml

    if not path:
        raise CLIError("no experiment file given: use `rllib train file PATH.yaml`.")
    if not os.path.exists(path):
        raise CLIError(f"experiment file {path!r} does not exist.")
    if os.path.isdir(path):
        raise CLIError(f"{path!r} is a directory; give an experiment file (.yaml/.yml/.json).")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise CLIError(f"cannot read experiment file {path!r}: {e.strerror}.") from e
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise CLIError(f"{path!r} is nested too deeply to read (YAML/JSON nesting of a few "
                       f"thousand levels); an experiment file needs only a few.") from None
    except yaml.constructor.ConstructorError as e:
        tag = str(getattr(e, "problem", "") or e)
        if "!!" in tag or "tag" in tag:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise CLIError(f"YAML tags such as `!!python/...` are not allowed in experiment files "
                           f"({path!r}{where}: {tag}); write plain values.") from e
        raise CLIError(f"cannot read {path!r}: {tag}.") from e
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise CLIError(f"YAML syntax error in {path!r}{where}: {problem}.") from e
    if not isinstance(data, dict) or not data:
        raise CLIError(
            f"{path!r} must hold a mapping `NAME: {{run: ALGO, env: ENV, stop: {{...}}, "
            f"config: {{...}}}}`; found {type(data).__name__}."
        )
    return data


def parse_json_arg(text: Optional[str], flag: str) -> Dict[str, Any]:
    if text is None or text == "":
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise CLIError(f"{flag} must be a JSON object, e.g. '{{\"lr\": 0.001}}': {e.msg} "
                       f"at character {e.pos} of {text!r}.") from e
    if not isinstance(value, dict):
        raise CLIError(f"{flag} must be a JSON object (a mapping), got {text!r}.")
    return value


def deep_merge(base: Dict[str, Any], override: Dict[str, Any]) -> Dict[str, Any]:
    """``override`` into a copy of ``base``; nested dicts merge unless one side is a search spec."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if (isinstance(value, dict) and isinstance(out.get(key), dict)
                and not is_search_spec(value) and not is_search_spec(out[key])):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --------------------------------------------------------------------------------- search spaces
def is_search_spec(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in SEARCH_KINDS


def _spec_error(path, msg):
    return CLIError(f"bad search space at config key {'/'.join(path)!r}: {msg}.")


def _numbers(path, kind, args, n):
    if not isinstance(args, (list, tuple)) or len(args) != n or not all(
            isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        raise _spec_error(path, f"{{{kind}: ...}} takes a list of {n} numbers, got {args!r}")
    return [float(a) for a in args]


def search_values(path, spec) -> Tuple[Any, List[Any]]:
    """``(tune search object, representative values)`` for one spec; checks its arguments."""
    from ray import tune

    kind, args = next(iter(spec.items()))
    if kind in ("grid_search", "choice"):
        if not isinstance(args, (list, tuple)) or not args:
            raise _spec_error(path, f"{{{kind}: [...]}} needs a non-empty list, got {args!r}")
        values = list(args)
        return ({"grid_search": values} if kind == "grid_search" else tune.choice(values)), values
    if kind in ("uniform", "loguniform"):
        lo, hi = _numbers(path, kind, args, 2)
        if not lo < hi:
            raise _spec_error(path, f"{{{kind}: [lo, hi]}} needs lo < hi, got {args!r}")
        if kind == "loguniform" and lo <= 0:
            raise _spec_error(path, f"{{loguniform: [lo, hi]}} needs lo > 0, got {args!r}")
        return getattr(tune, kind)(lo, hi), [lo, hi]
    if kind == "randint":
        if not (isinstance(args, (list, tuple)) and len(args) == 2
                and all(isinstance(a, int) and not isinstance(a, bool) for a in args)
                and args[0] < args[1]):
            raise _spec_error(path, f"{{randint: [lo, hi]}} needs two integers lo < hi, got {args!r}")
        return tune.randint(args[0], args[1]), [args[0], args[1] - 1]
    if kind == "quniform":
        lo, hi, q = _numbers(path, kind, args, 3)
        if not lo < hi or q <= 0:
            raise _spec_error(path, f"{{quniform: [lo, hi, q]}} needs lo < hi and q > 0, got {args!r}")
        return tune.quniform(lo, hi, q), [lo, hi]
    mean, sd = _numbers(path, kind, args, 2)  # randn
    if sd <= 0:
        raise _spec_error(path, f"{{randn: [mean, sd]}} needs sd > 0, got {args!r}")
    return tune.randn(mean, sd), [mean]


def iter_search_specs(obj, path=()) -> Iterator[Tuple[Tuple[str, ...], dict]]:
    if is_search_spec(obj):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from iter_search_specs(v, path + (str(k),))


def _replace_specs(obj, fn, path=()):
    if is_search_spec(obj):
        return fn(path, obj)
    if isinstance(obj, dict):
        return {k: _replace_specs(v, fn, path + (str(k),)) for k, v in obj.items()}
    return obj


def _first_values(cfg):
    return _replace_specs(cfg, lambda path, spec: search_values(path, spec)[1][0])


def _set_path(cfg, path, value):
    out = copy.deepcopy(cfg)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


# ------------------------------------------------------------------------------------ algorithms
def resolve_algorithm(name) -> Tuple[type, Any]:
    """``(Algorithm class, fresh default AlgorithmConfig)`` for a package or RLlib algorithm."""
    from rllib_coopai import algorithms as pkg

    if not isinstance(name, str) or not name:
        raise CLIError(f"`run:` must name an algorithm (e.g. IPPO, DCL, PPO), got {name!r}.")
    if name in pkg.ALGORITHMS:
        try:
            algo_cls = pkg.get_algorithm_class(name)
            config = pkg.get_config_class(name)()
        except (ImportError, AttributeError) as e:
            raise CLIError(
                f"algorithm {name!r} is listed by rllib_coopai but its implementation cannot be "
                f"imported in this install ({type(e).__name__}: {e}). Available now: "
                f"{', '.join(pkg.available())}."
            ) from e
        return algo_cls, config
    from ray.rllib.algorithms.registry import ALGORITHMS as RLLIB_ALGORITHMS
    from ray.rllib.algorithms.registry import _get_algorithm_class

    if name in RLLIB_ALGORITHMS:
        algo_cls = _get_algorithm_class(name)
        return algo_cls, algo_cls.get_default_config()
    from ray.tune.registry import TRAINABLE_CLASS, _global_registry

    if _global_registry.contains(TRAINABLE_CLASS, name):
        algo_cls = _global_registry.get(TRAINABLE_CLASS, name)
        if hasattr(algo_cls, "get_default_config"):
            return algo_cls, algo_cls.get_default_config()
    known = list(pkg.available()) + list(RLLIB_ALGORITHMS)
    raise CLIError(
        f"unknown algorithm {name!r} in `run:`. Known algorithms: {', '.join(known)} "
        f"(or a name registered with ray.tune.register_trainable).{suggest(name, known)}"
    )


def valid_config_keys(config) -> List[str]:
    keys = {k for k in vars(config) if not k.startswith("__")}
    keys |= {k[1:] for k in keys if k.startswith("_") and not k.startswith("__")}
    return sorted(keys | _SPECIAL_CONFIG_KEYS)


_STRING_SENTINELS = ("auto",)


def _check_value(key: str, value, default) -> None:
    """Type check of one top-level value against the default config's attribute, and range check
    against the package's one validator (``rllib_coopai.core.validation``)."""
    from rllib_coopai.core.validation import check_config_value, config_range

    if isinstance(value, dict) or value is None:
        return
    rng = config_range(key)
    numeric_default = (isinstance(default, (int, float)) and not isinstance(default, bool)) or (
        rng is not None)
    if isinstance(default, bool) and not isinstance(value, bool):
        raise CLIError(f"invalid value for config key {key!r}: {value!r} (expected true or false).")
    if numeric_default and isinstance(value, str):
        if value in _STRING_SENTINELS:
            return
        raise CLIError(f"invalid value for config key {key!r}: {value!r} (expected a number).")
    if rng is None or not isinstance(value, (int, float, list, tuple)):  # Tune search objects
        return
    try:
        check_config_value(key, value)
    except ValueError as e:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            raise CLIError(f"invalid value for config key {key!r}: {value!r} "
                           f"(must be {rng.describe()}).") from None
        raise CLIError(str(e).rstrip(".") + ".") from None


def _translate_keys(config, cfg: Dict[str, Any], run: str) -> Dict[str, Any]:
    """Check every top-level key against the config class; map property names to attributes."""
    attrs = set(vars(config))
    public = [k for k in valid_config_keys(config) if not k.startswith("_")]
    out = {}
    for key, value in cfg.items():
        if not isinstance(key, str):
            raise CLIError(f"config keys must be strings, got {key!r}.")
        new = config._translate_special_keys(key, warn_deprecated=False)
        if new in attrs and not new.startswith("_"):
            if not is_search_spec(value):
                _check_value(new, value, getattr(config, new, None))
            out[new] = value
        elif "_" + new in attrs:           # properties such as model_config, learner_class
            if not is_search_spec(value):
                default = getattr(config, "_" + new, None)
                if default is None:
                    try:
                        default = getattr(config, new, None)
                    except Exception:  # noqa: BLE001 - a property that cannot compute yet
                        default = None
                _check_value(new, value, default)
            out["_" + new] = value
        elif new in _SPECIAL_CONFIG_KEYS or key in _SPECIAL_CONFIG_KEYS:
            out[key] = value
        elif new in attrs:                 # private attribute named explicitly
            out[new] = value
        else:
            raise CLIError(
                f"unknown config key {key!r} for algorithm {run} ({type(config).__name__})."
                f"{suggest(key, public)} Valid keys are the attributes of "
                f"{type(config).__name__} (see `rllib list --keys {run}`)."
            )
    return out


def _probe_env(config, run: str) -> None:
    """Build the config's env once (unknown names / bad env_config fail here)."""
    env = config.env
    if env is None:
        raise CLIError(f"no environment: give `env: NAME` in the experiment (see `rllib list`).")
    if not isinstance(env, str):
        return
    from ray.rllib.env.env_context import EnvContext

    from rllib_coopai.wrappers.rllib_env import EnvSpecError, resolve_env

    env_config = dict(config.env_config or {})
    try:  # registered names, class paths (registered with Ray here) and gymnasium ids
        _, creator = resolve_env(env)
    except EnvSpecError as e:
        raise CLIError(str(e).rstrip(".") + ".") from e
    try:
        if creator is None:
            import gymnasium as gym

            instance = gym.make(env, **env_config)
        else:
            instance = creator(EnvContext(env_config, worker_index=0))
    except EnvSpecError as e:
        raise CLIError(str(e).rstrip(".") + ".") from e
    except CLIError:
        raise
    except (ValueError, TypeError, KeyError, AssertionError) as e:
        raise CLIError(f"invalid env_config for environment {env!r}: {e}") from e
    try:
        instance.close()
    except Exception:  # noqa: BLE001 - closing a probe env is best effort
        pass


def _apply(exp_or_run, cfg: Dict[str, Any]):
    """A fresh config of the experiment's algorithm with ``cfg`` applied (no validation)."""
    if isinstance(exp_or_run, Experiment):
        run, env = exp_or_run.run, exp_or_run.config.env
    else:
        run, env = exp_or_run
    _, config = resolve_algorithm(run)
    cfg = dict(cfg)
    env = cfg.pop("env", env)
    config.update_from_dict(_translate_keys(config, cfg, run))
    if env is not None:
        config.environment(env=env)
    return config


def _validate(run: str, env, cfg: Dict[str, Any], what: str = "") -> None:
    from rllib_coopai.core.validation import check_config_numbers

    config = _apply((run, env), cfg)
    _probe_env(config, run)
    try:
        # RLlib's built-in algorithms too (the package's own run it again in validate()).
        check_config_numbers(config, run)
        config.validate()
    except CLIError:
        raise
    except (ValueError, TypeError, KeyError, AssertionError) as e:
        msg = str(e).strip().rstrip(".")
        if msg.startswith("unknown environment"):
            raise CLIError(msg + ".") from e
        raise CLIError(f"invalid configuration for {run} on {config.env!r}{what}: {msg}.") from e


def build_config(run: str, env, cfg: Dict[str, Any]):
    """Checked ``AlgorithmConfig`` for ``cfg`` (search specs become Tune search objects).

    Returns ``(algo_class, config, search_paths)``. The config is validated with each distinct
    value a search can take (first/last of a range), so a bad value fails before any trial starts.
    """
    algo_cls, default = resolve_algorithm(run)
    if not isinstance(cfg, dict):
        raise CLIError(f"`config:` must be a mapping of AlgorithmConfig keys, got {cfg!r}.")
    _translate_keys(default, cfg, run)  # unknown keys first: the clearest message
    specs = list(iter_search_specs(cfg))
    reps = {path: search_values(path, spec)[1] for path, spec in specs}
    base = _first_values(cfg)
    _validate(run, env, base)
    for path, values in reps.items():
        for value in values[1:]:
            _validate(run, env, _set_path(base, path, value), f" (with {'/'.join(path)}={value!r})")
    param_cfg = _replace_specs(cfg, lambda path, spec: search_values(path, spec)[0])
    config = _apply((run, env), param_cfg)
    return algo_cls, config, [p for p, _ in specs]


# ----------------------------------------------------------------------------------- experiments
def _stop_dict(stop, where: str) -> Dict[str, float]:
    from ray.tune.utils import flatten_dict

    if stop is None:
        return {}
    if not isinstance(stop, dict):
        raise CLIError(f"`stop` {where} must be a mapping like {{training_iteration: 20}}, got {stop!r}.")
    from rllib_coopai.cli.stopper import check_stop_value

    out = {}
    for key, value in flatten_dict(stop, delimiter="/").items():
        check_stop_value(key, value, where)  # numbers only; typos of known keys: did you mean
        out[STOP_KEY_ALIASES.get(key, key)] = value
    return out


def _checkpoint_dict(spec: Dict[str, Any]) -> Dict[str, Any]:
    ckpt = dict(DEFAULT_CHECKPOINT)
    given = spec.get("checkpoint_config") or {}
    if not isinstance(given, dict):
        raise CLIError(f"`checkpoint_config` must be a mapping, got {given!r}.")
    for key in given:
        if key not in CHECKPOINT_KEYS:
            raise CLIError(f"unknown checkpoint_config key {key!r}.{suggest(key, CHECKPOINT_KEYS)} "
                           f"Valid keys: {', '.join(CHECKPOINT_KEYS)}.")
    ckpt.update(given)
    if "checkpoint_freq" in spec:
        ckpt["checkpoint_frequency"] = spec["checkpoint_freq"]
    if "checkpoint_at_end" in spec:
        ckpt["checkpoint_at_end"] = spec["checkpoint_at_end"]
    if "keep_checkpoints_num" in spec:
        ckpt["num_to_keep"] = spec["keep_checkpoints_num"]
    freq = ckpt["checkpoint_frequency"]
    if isinstance(freq, bool) or not isinstance(freq, int) or freq < 0:
        raise CLIError(f"checkpoint_frequency must be an integer >= 0, got {freq!r}.")
    return ckpt


def make_experiment(name: str, spec: Dict[str, Any], *, stop=None, config_overrides=None,
                    num_samples=None, storage_path=None, seed=None, env=None, run=None,
                    source: str = "") -> Experiment:
    """One checked :class:`Experiment` from a classic experiment mapping plus CLI overrides."""
    if not isinstance(spec, dict):
        raise CLIError(f"experiment {name!r} must be a mapping with `run`, `env`, `config`, ...; "
                       f"got {spec!r}.")
    for key in spec:
        if key not in EXPERIMENT_KEYS:
            raise CLIError(f"unknown key {key!r} in experiment {name!r}.{suggest(key, EXPERIMENT_KEYS)} "
                           f"Valid keys: {', '.join(EXPERIMENT_KEYS)}.")
    run = run or spec.get("run") or spec.get("algo")
    if run is None:
        raise CLIError(f"experiment {name!r} has no `run:` (the algorithm, e.g. `run: IPPO`).")
    cfg = spec.get("config") or {}
    if not isinstance(cfg, dict):
        raise CLIError(f"`config` of experiment {name!r} must be a mapping, got {cfg!r}.")
    cfg = deep_merge(cfg, config_overrides or {})
    try:  # IncentiveDesigner + designer: metagrad | rl -> MetaGrad | DualRLDesigner
        from rllib_coopai.algorithms import resolve_alias

        run, cfg = resolve_alias(run, cfg)
    except ValueError as e:
        raise CLIError(f"experiment {name!r}: {e}") from None
    if seed is not None:
        cfg["seed"] = int(seed)
    env = env or cfg.pop("env", None) or spec.get("env")
    algo_cls, config, paths = build_config(run, env, cfg)
    samples = spec.get("num_samples", 1) if num_samples is None else num_samples
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise CLIError(f"num_samples must be an integer >= 1, got {samples!r}.")
    failures = spec.get("max_failures", 0)
    if isinstance(failures, bool) or not isinstance(failures, int) or failures < -1:
        raise CLIError(f"max_failures of experiment {name!r} must be an integer >= 0 (or -1 for "
                       f"unlimited retries), got {failures!r}.")
    storage = storage_path or spec.get("storage_path") or spec.get("local_dir")
    if storage:
        if not isinstance(storage, str):
            raise CLIError(f"storage_path must be a directory path, got {storage!r}.")
        full = os.path.abspath(os.path.expanduser(storage))
        probe = full
        while probe and not os.path.exists(probe):
            probe = os.path.dirname(probe) if os.path.dirname(probe) != probe else ""
        if probe and not os.path.isdir(probe):
            raise CLIError(f"storage path {storage!r} cannot hold results: {probe!r} is a file, "
                           f"not a directory.")
    hidden = (cfg.get("model_config") or {}).get("fcnet_hiddens") if isinstance(
        cfg.get("model_config"), dict) else None
    if hidden is not None and (not isinstance(hidden, (list, tuple)) or any(
            isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden)):
        raise CLIError(f"model_config.fcnet_hiddens of experiment {name!r} must be a list of "
                       f"layer sizes, each an integer >= 1, got {hidden!r}.")
    exp = Experiment(
        name=str(name), run=run, algo_class=algo_cls, config=config,
        stop={**_stop_dict(spec.get("stop"), f"of experiment {name!r}"), **(stop or {})},
        checkpoint=_checkpoint_dict(spec), num_samples=samples,
        storage_path=os.path.abspath(os.path.expanduser(storage)) if storage else None,
        max_failures=int(failures), search_paths=paths, source=source,
        stop_override=dict(stop or {}),
    )
    exp._raw_config = cfg
    return exp


def load_experiments(path: str, *, stop=None, config_overrides=None, num_samples=None,
                     storage_path=None, seed=None) -> List[Experiment]:
    """All experiments of file ``path`` with the CLI's overrides applied and checked.

    ``stop`` / ``config_overrides`` are dicts (``--stop`` / ``--config``); ``config_overrides``
    merges into each experiment's ``config`` (nested dicts such as ``env_config`` merge key by key).
    """
    data = read_file(path)
    stop = _stop_dict(stop, "given by --stop") if stop else {}
    if "run" in data or "algo" in data:  # a single experiment without a name: use the file name
        data = {os.path.splitext(os.path.basename(path))[0]: data}
    return [
        make_experiment(name, spec, stop=stop, config_overrides=config_overrides,
                        num_samples=num_samples, storage_path=storage_path, seed=seed, source=path)
        for name, spec in data.items()
    ]
