"""Entry point of the ``rllib`` console script (and ``python -m rllib_coopai``).

    rllib train file EXPERIMENT.yaml [--stop JSON] [--config JSON] [--num-samples N]
                                     [--storage-path DIR] [--seed S] [--address ADDR] [--resume]
    rllib train -f EXPERIMENT.yaml ...
    rllib evaluate CHECKPOINT|TRIAL_DIR|EXPERIMENT_DIR [--trial ID] [--metric KEY] [--episodes N]
                   [--render]
    rllib plot RUN_DIR [-o curves.png]
    rllib list [--keys ALGO]
    rllib crossplay CHECKPOINT... [--env NAME] [--welfare util,egal] [--episodes N] [-o DIR]

Every command takes ``--import MODULE`` (repeatable): modules that register a user's environments
or algorithms, imported before anything else; the current directory is importable, so
``env: my_module.MyEnv`` in a YAML file finds ``./my_module.py``.

Bad input (missing file, YAML error, unknown algorithm/env/key, invalid value, an env class path
that does not import) exits with status 2 and a one-paragraph message before Ray starts;
``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
import traceback
from typing import List, Optional

from rllib_coopai.cli.errors import CLIError

EXIT_BAD_INPUT = 2


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show full tracebacks instead of one-paragraph errors")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (repeatable), e.g. one that calls "
                        "rllib_coopai.envs.register; the current directory is importable")


def import_user_modules(modules: List[str]) -> None:
    """Put the current directory on ``sys.path`` (as ``python -m`` does) and import ``modules``.

    Also loads the ``rllib_coopai.plugins`` entry points. Runs before Ray starts; a module that
    cannot be imported is a ``CLIError`` naming it and the reason.
    """
    import importlib

    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    import rllib_coopai

    rllib_coopai.load_plugins()
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - any failure of a user's module
            what = ("not found (is it installed, or in the current directory?)"
                    if isinstance(e, ModuleNotFoundError) and e.name and
                    (name == e.name or name.startswith(e.name + ".")) else "failed to import")
            raise CLIError(f"--import {name}: module {what}: {type(e).__name__}: {e}") from e


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rllib",
        description="Train, evaluate and plot RLlib experiments (rllib_coopai's algorithms and "
                    "RLlib's built-in ones) from classic YAML experiment files.",
    )
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show full tracebacks instead of one-paragraph errors")
    sub = parser.add_subparsers(dest="command", metavar="{train,evaluate,plot,list,crossplay}")

    t = sub.add_parser("train", help="run the experiments of a YAML file with Ray Tune",
                       description="Run the experiments of a YAML/JSON file with Ray Tune: "
                                   "`rllib train file X.yaml` or `rllib train -f X.yaml`.")
    t.add_argument("target", nargs="*", metavar="file PATH",
                   help="`file PATH` (classic form) or just PATH")
    t.add_argument("-f", "--file", dest="file", help="experiment file (YAML or JSON)")
    t.add_argument("--stop", help='JSON stop criteria, e.g. \'{"training_iteration": 20}\' '
                                   "(added to / overriding the file's `stop`; with --resume, "
                                   "added to / overriding the criteria the run was started with)")
    t.add_argument("--config", help='JSON config overrides, e.g. \'{"lr": 0.001, "env_config": '
                                     '{"horizon": 5}}\' (nested dicts merge key by key)')
    t.add_argument("--num-samples", type=int, help="trials per search point (Tune num_samples)")
    t.add_argument("--storage-path", help="where runs go (default ~/ray_results)")
    t.add_argument("--seed", type=int, help="config seed (env, modules, sampling)")
    t.add_argument("--address", help="address of a running Ray cluster (`auto`, "
                                      "`ray://head:10001`); default: start a local Ray")
    t.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all)")
    t.add_argument("--resume", action="store_true",
                   help="continue an interrupted run (same name and storage path); with --stop, "
                        "also a finished one up to the new criteria")
    t.add_argument("-v", "--verbose", action="count", default=0,
                   help="show worker logs (-v) and Tune's own status table (-vv)")
    _common(t)

    e = sub.add_parser("evaluate", help="roll out a trained checkpoint and print its metrics")
    e.add_argument("checkpoint", help="a checkpoint dir, a trial dir (its newest checkpoint) or "
                                      "an experiment dir (the best trial's newest checkpoint)")
    e.add_argument("--trial", help="in an experiment dir: the trial whose dir name contains this "
                                   "(e.g. its trial id) instead of the best one")
    e.add_argument("--metric", help="in an experiment dir: rank trials by this result key "
                                    "(default: what `rllib train` ranked by: "
                                    "env_runners/social_welfare, else the mean episode return)")
    e.add_argument("--episodes", type=int, default=10, help="episodes to roll out (default 10)")
    e.add_argument("--render", action="store_true", help="print each step (text rendering)")
    e.add_argument("--explore", action="store_true",
                   help="sample actions instead of the greedy ones")
    e.add_argument("--seed", type=int, default=None, help="env seed")
    e.add_argument("--address", help="address of a running Ray cluster; default: a local Ray")
    _common(e)

    pl = sub.add_parser("plot", help="learning curves of a run as PNG")
    pl.add_argument("run_dir", help="a trial dir or an experiment dir (one curve per trial)")
    pl.add_argument("-o", "--output", default="curves.png", help="PNG file (default curves.png)")
    _common(pl)

    cp = sub.add_parser("crossplay", help="cross-play league of checkpoints: payoff and NormalizedScore matrices",
                        description="Play every ordered pair of checkpoints (any algorithms of the package, one "
                                    "2-player env) in both seats; write payoffs.csv, crossplay.json and "
                                    "crossplay.png (normative-disagreement paper §4.2).")
    cp.add_argument("checkpoints", nargs="+", help="checkpoint, trial or experiment dirs (newest checkpoint)")
    cp.add_argument("--env", help="env the league plays (default: the checkpoints' common env)")
    cp.add_argument("--env-config", help="JSON env config, merged over the checkpoints' own")
    cp.add_argument("--welfare", default="util,egal",
                    help="welfare set W for NormalizedScore, comma-separated (util, egal, nash, ks; default util,egal)")
    cp.add_argument("--disagreement", help="per-step disagreement payoffs D0,D1 (default: the paper's profile "
                                           "for its envs, App. B.2)")
    cp.add_argument("--maxima", help="per welfare function, the max of w to normalise by (default: the "
                                      "empirical max over all pairs)")
    cp.add_argument("--episodes", type=int, default=10, help="episodes per ordered pair (default 10)")
    cp.add_argument("--seed", type=int, default=0, help="env / sampling seed (default 0)")
    cp.add_argument("--explore", action="store_true", help="sample actions instead of the greedy ones")
    cp.add_argument("-o", "--output", default="crossplay", help="output dir (default ./crossplay)")
    cp.add_argument("--address", help="address of a running Ray cluster; default: a local Ray")
    _common(cp)

    ls = sub.add_parser("list", help="algorithms and environments with one-line descriptions")
    ls.add_argument("--keys", metavar="ALGO", help="list the config keys of algorithm ALGO")
    _common(ls)
    return parser


def _train_target(args) -> str:
    target = list(args.target)
    if target and target[0] == "file":
        target = target[1:]
    if args.file and target:
        raise CLIError(f"give the experiment file once (got -f {args.file!r} and {target!r}).")
    if args.file:
        return args.file
    if len(target) != 1:
        raise CLIError("usage: rllib train file PATH.yaml (or rllib train -f PATH.yaml); "
                       f"got {' '.join(args.target) or 'no file'}.")
    return target[0]


def cmd_train(args) -> int:
    from rllib_coopai.cli.experiment import load_experiments, parse_json_arg, read_file
    from rllib_coopai.cli.train import init_ray, train

    path = _train_target(args)
    read_file(path)  # file and YAML errors before the (slow) Ray import
    import_user_modules(args.imports)  # also registers the package's envs and algorithms

    if args.num_samples is not None and args.num_samples < 1:
        raise CLIError(f"--num-samples must be >= 1, got {args.num_samples}.")
    experiments = load_experiments(
        path,
        stop=parse_json_arg(args.stop, "--stop"),
        config_overrides=parse_json_arg(args.config, "--config"),
        num_samples=args.num_samples,
        storage_path=args.storage_path,
        seed=args.seed,
    )
    if args.resume:
        from ray import tune

        from rllib_coopai.cli.train import experiment_path

        for exp in experiments:
            if not tune.Tuner.can_restore(experiment_path(exp)):
                raise CLIError(f"--resume: no Tune experiment to resume at "
                               f"{experiment_path(exp)!r} (run it once without --resume, or pass "
                               f"the same --storage-path).")
    init_ray(args.address, args.num_cpus, verbose=args.verbose > 0)
    return train(experiments, resume=args.resume, verbose=1 if args.verbose > 1 else 0)


def cmd_evaluate(args) -> int:
    from rllib_coopai.cli.evaluate import evaluate_checkpoint

    if args.episodes < 1:
        raise CLIError(f"--episodes must be >= 1, got {args.episodes}.")
    if args.address:
        from rllib_coopai.cli.train import init_ray

        init_ray(args.address)
    evaluate_checkpoint(args.checkpoint, episodes=args.episodes, render=args.render,
                        explore=args.explore, seed=args.seed, trial=args.trial,
                        metric=args.metric)
    return 0


def cmd_plot(args) -> int:
    from rllib_coopai.cli.plot import plot_run

    out = plot_run(args.run_dir, args.output)
    print(f"wrote {out}")
    return 0


def cmd_list(args) -> int:
    from rllib_coopai import algorithms, envs

    if args.keys:
        from rllib_coopai.cli.experiment import resolve_algorithm, valid_config_keys

        _, config = resolve_algorithm(args.keys)
        keys = [k for k in valid_config_keys(config) if not k.startswith("_")]
        print(f"Config keys of {args.keys} ({type(config).__name__}):")
        print(textwrap.fill(", ".join(keys), width=100, initial_indent="  ", subsequent_indent="  "))
        return 0
    avail = set(algorithms.available())
    print("Algorithms (rllib_coopai):")
    for name in algorithms.ALGORITHMS:
        note = "" if name in avail else "  [not importable in this install]"
        print(f"  {name:<20} {algorithms.describe(name)}{note}")
    from ray.rllib.algorithms.registry import ALGORITHMS as RLLIB

    print("Algorithms (RLlib built-in; single- or multi-agent with your own policies):")
    print(textwrap.fill(", ".join(RLLIB), width=96, initial_indent="  ", subsequent_indent="  "))
    print("Environments (rllib_coopai; also any gymnasium id, e.g. CartPole-v1):")
    for name in envs.names():
        print(f"  {name:<30} {envs.describe(name)}")
    return 0


def _floats(text: Optional[str], flag: str):
    if text is None:
        return None
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise CLIError(f"{flag} needs comma-separated numbers, got {text!r}.") from None


def cmd_crossplay(args) -> int:
    from rllib_coopai.cli.crossplay import run_league
    from rllib_coopai.cli.experiment import parse_json_arg

    if args.address:
        from rllib_coopai.cli.train import init_ray

        init_ray(args.address)
    result = run_league(
        args.checkpoints, env=args.env, env_config=parse_json_arg(args.env_config, "--env-config"),
        episodes=args.episodes, welfare=[w for w in args.welfare.split(",") if w.strip()],
        disagreement=_floats(args.disagreement, "--disagreement"), maxima=_floats(args.maxima, "--maxima"),
        out_dir=args.output, seed=args.seed, explore=args.explore)
    labels = [c["label"] for c in result["checkpoints"]]
    print(f"Cross-play on {result['env']!r}, {result['episodes']} episode(s) per pair, "
          f"W = {{{', '.join(result['welfare'])}}}, disagreement {tuple(result['disagreement'])}")
    print("NormalizedScore (rows: seat 0, columns: seat 1):")
    width = max(len(x) for x in labels)
    for lab, row in zip(labels, result["normalized_score"]):
        print(f"  {lab:<{width}}  " + "  ".join(f"{v:6.3f}" for v in row))
    cross = result["cross_play_score"]
    print(f"  self-play mean {result['self_play_score']:.3f}"
          + ("" if cross is None else f", cross-play mean {cross:.3f}"))
    print(f"wrote {os.path.join(args.output, 'payoffs.csv')}, crossplay.json, crossplay.png")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "plot": cmd_plot, "list": cmd_list,
            "crossplay": cmd_crossplay}


def _paragraph(msg: str, word_limit: int = 200, limit: int = 4000) -> str:
    """``msg`` on one line; words over ``word_limit`` characters (a pasted file as an env name)
    and the whole text over ``limit`` are cut, saying how long they were."""
    words = []
    for w in str(msg).split():
        words.append(w if len(w) <= word_limit else f"{w[:60]}...[{len(w)} characters]")
    text = " ".join(words)
    return text if len(text) <= limit else f"{text[:limit]}...[{len(text)} characters in all]"


class _DropNoise(logging.Filter):
    """RLlib's "You are running X on the new API stack!" notice is noise on a command line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "on the new API stack! This is the new default" not in record.getMessage()


def main(argv: Optional[List[str]] = None) -> int:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    noise = _DropNoise()
    logging.getLogger("ray.rllib.algorithms.algorithm_config").addFilter(noise)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    debug = getattr(args, "debug", False)
    try:
        if args.command != "train":
            import_user_modules(getattr(args, "imports", []))  # registers envs and algorithms
        return COMMANDS[args.command](args)
    except CLIError as e:
        if debug:
            traceback.print_exc()
        print(f"rllib {args.command}: error: {_paragraph(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"rllib {args.command}: interrupted; `rllib train ... --resume` continues a run.",
              file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one paragraph unless --debug
        if debug:
            raise
        print(f"rllib {args.command}: failed: {type(e).__name__}: {_paragraph(e)[:2000]} "
              f"(run with --debug for the traceback)", file=sys.stderr)
        return 1


def console_main() -> None:  # pragma: no cover - thin wrapper
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
