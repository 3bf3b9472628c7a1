"""``rllib train``: run checked experiments with ``tune.Tuner``.

Each experiment becomes one Tune run under ``STORAGE/NAME`` (default ``~/ray_results/NAME``): one
trial per point of the search space (x ``num_samples``), each with the resources RLlib requests
for its config (``Algorithm.default_resource_request``), CSV/JSON/TensorBoard logs (Tune's
``TBXLoggerCallback``: tags ``ray/tune/env_runners/social_welfare``, ...), checkpoints every
``checkpoint_frequency`` iterations and at the end, and one progress line per iteration.
"""
from __future__ import annotations

import json
import os
import signal
from typing import List, Optional

from rllib_coopai.cli.errors import CLIError
from rllib_coopai.cli.experiment import Experiment
from rllib_coopai.cli.progress import ProgressCallback, pick_metric, summary_lines


def default_storage_path() -> str:
    return os.path.abspath(os.path.expanduser(os.environ.get("RLLIB_COOPAI_RESULTS", "~/ray_results")))


def experiment_path(exp: Experiment) -> str:
    return os.path.join(exp.storage_path or default_storage_path(), exp.name)


def _checkpoint_iteration(ckpt_dir: str) -> Optional[int]:
    """``training_iteration`` stored in an RLlib Algorithm checkpoint (None if unreadable)."""
    import pickle

    try:
        with open(os.path.join(ckpt_dir, "algorithm_state.pkl"), "rb") as f:
            state = pickle.load(f)
        return int(state["training_iteration"])
    except Exception:  # noqa: BLE001 - any unreadable checkpoint: do not touch the logs
        return None


def _latest_checkpoint_iteration(trial_dir: str):
    """Iteration of the trial's newest checkpoint (0 without one; None if unreadable)."""
    ckpts = sorted(d for d in os.listdir(trial_dir)
                   if d.startswith("checkpoint_") and os.path.isdir(os.path.join(trial_dir, d)))
    return _checkpoint_iteration(os.path.join(trial_dir, ckpts[-1])) if ckpts else 0


def _rewrite_trial_logs(path: str, limit_of=None) -> None:
    """Rewrite each trial's ``result.json`` / ``progress.csv`` under ``path`` with one row per
    ``training_iteration`` (the LAST one logged: a resumed run's rows replace the rows it trained
    again), in iteration order; with ``limit_of(trial_dir)``, also drop rows past that iteration
    (``None``: leave that trial alone)."""
    import csv

    def iteration(value):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return None

    def one_per_iteration(rows, limit):
        last = {}
        for it, row in rows:
            if it is not None and (limit is None or it <= limit):
                last[it] = row
        return [last[it] for it in sorted(last)]

    for trial_dir, _, files in os.walk(path):
        if "result.json" not in files:
            continue
        limit = None
        if limit_of is not None:
            limit = limit_of(trial_dir)
            if limit is None:  # not an RLlib checkpoint we can read: leave the logs alone
                continue
        res_path = os.path.join(trial_dir, "result.json")
        rows = []
        with open(res_path, encoding="utf-8") as f:
            for ln in f:
                try:
                    it = iteration(json.loads(ln).get("training_iteration")) if ln.strip() else None
                except ValueError:
                    it = None
                rows.append((it, ln if ln.endswith("\n") else ln + "\n"))
        with open(res_path, "w", encoding="utf-8") as f:
            f.writelines(one_per_iteration(rows, limit))
        csv_path = os.path.join(trial_dir, "progress.csv")
        if os.path.exists(csv_path):
            with open(csv_path, newline="", encoding="utf-8") as f:
                table = list(csv.reader(f))
            if table and "training_iteration" in table[0]:
                col = table[0].index("training_iteration")
                body = [(iteration(r[col]) if len(r) > col else None, r) for r in table[1:]]
                with open(csv_path, "w", newline="", encoding="utf-8") as f:
                    csv.writer(f).writerows(table[:1] + one_per_iteration(body, limit))


def _meets(stop, metrics) -> bool:
    """Whether a trial's last result ``metrics`` already meets one of the ``stop`` criteria."""
    from ray.tune.utils import flatten_dict

    flat = flatten_dict(metrics or {}, delimiter="/")
    return any(isinstance(flat.get(k), (int, float)) and flat[k] >= v for k, v in stop.items())


def _restore_with_stop(path: str, exp: Experiment, stopper=None):
    """``Tuner.restore`` of the run at ``path``, whose trials then stop by ``stopper``.

    Tune restores the stopper a run was started with from its experiment state and ignores a new
    one; the stored copy takes ``stopper``'s criteria instead (``CheckedStopper.resume``): the
    criteria the run was stopping by, updated by the keys given with ``--stop``
    (``exp.stop_override``). When ``--stop`` changes them and no trial's last result meets them
    yet, finished trials continue too (from their last checkpoint), so that ``--resume --stop
    '{"training_iteration": 50}'`` extends a finished 25-iteration run.
    """
    import ray
    from ray import tune

    from rllib_coopai.cli.stopper import CheckedStopper

    stopper = stopper if stopper is not None else CheckedStopper({})
    saved = CheckedStopper.load(path)
    if saved is None or ray.util.client.ray.is_connected():
        if exp.stop_override:
            why = ("it is connected through Ray Client" if saved is not None else
                   "it was started by an older rllib_coopai that did not record them")
            raise CLIError(f"--stop with --resume: the stop criteria of the run at {path!r} cannot "
                           f"be changed ({why}). Resume without --stop (it keeps its criteria), or "
                           f"start a new run with the new ones (another experiment name or "
                           f"--storage-path).")
        return tune.Tuner.restore(path, trainable=exp.algo_class, resume_errored=True,
                                  param_space=exp.config)
    new = {**saved.stop, **exp.stop_override}
    stopper.stop, stopper.run_id = new, saved.run_id
    stopper.resume()
    stopper.save(path)
    resume = tune.ResumeConfig(unfinished=tune.ResumeConfig.ResumeType.RESUME,
                               errored=tune.ResumeConfig.ResumeType.RESUME)
    tuner = tune.Tuner.restore(path, trainable=exp.algo_class, param_space=exp.config,
                               _resume_config=resume)
    if new != saved.stop:
        shown = ", ".join(f"{k} >= {v}" for k, v in new.items()) or "none"
        print(f"   stop criteria changed by --stop: {shown}", flush=True)
        try:
            last = [r.metrics for r in tuner.get_results() if r.error is None]
        except RuntimeError:  # Tune could not read the run's results: nothing is met yet
            last = []
        if any(_meets(new, metrics) for metrics in last):
            print("   (trials that already meet them are not trained further)", flush=True)
        else:
            resume.finished = tune.ResumeConfig.ResumeType.RESUME
            tuner = tune.Tuner.restore(path, trainable=exp.algo_class, param_space=exp.config,
                                       _resume_config=resume)
    return tuner


def _callbacks():
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback

    return [ProgressCallback(), CSVLoggerCallback(), JsonLoggerCallback(), TBXLoggerCallback()]


def run_experiment(exp: Experiment, *, resume: bool = False, verbose: int = 0,
                   stopper=None):
    """Run ``exp`` with Tune; return the ``ResultGrid``. Ray must be initialised."""
    from ray import tune

    if verbose == 0:  # our ProgressCallback replaces Tune's status table
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    storage = exp.storage_path or default_storage_path()
    path = os.path.join(storage, exp.name)
    run_config = tune.RunConfig(
        name=exp.name,
        storage_path=storage,
        stop=stopper if stopper is not None else (exp.stop or None),
        checkpoint_config=tune.CheckpointConfig(**exp.checkpoint),
        failure_config=tune.FailureConfig(max_failures=exp.max_failures),
        callbacks=_callbacks(),
        verbose=verbose,
    )
    if resume:
        if not tune.Tuner.can_restore(path):
            raise CLIError(f"--resume: no Tune experiment to resume at {path!r} (run it once "
                           f"without --resume, or pass the same --storage-path).")
        print(f"Resuming {exp.name} from {path} (unfinished and errored trials continue from "
              f"their last checkpoint)", flush=True)
        tuner = _restore_with_stop(path, exp, stopper)
        # The iterations after the newest checkpoint are trained again: drop their rows now; Tune
        # may restore from an older checkpoint than the newest on disk (one written while the run
        # was being interrupted), so after the run keep the last row of each iteration as well.
        _rewrite_trial_logs(path, _latest_checkpoint_iteration)
        try:
            return tuner.fit()
        finally:
            _rewrite_trial_logs(path)
    tuner = tune.Tuner(
        exp.algo_class,
        param_space=exp.config,
        tune_config=tune.TuneConfig(num_samples=exp.num_samples),
        run_config=run_config,
    )
    if stopper is not None and os.path.isdir(path):  # for --resume (and --stop with it)
        stopper.save(path)
    return tuner.fit()


def _print_header(exp: Experiment) -> None:
    path = experiment_path(exp)
    kind = (f"Tune search over {', '.join('/'.join(p) for p in exp.search_paths) or 'samples'}, "
            f"num_samples={exp.num_samples}" if exp.is_search else "single trial")
    stop = ", ".join(f"{k} >= {v}" for k, v in exp.stop.items()) or "none (runs until stopped)"
    print(f"== {exp.name}: {exp.run} on {exp.env!r} ({kind}); stop: {stop}", flush=True)
    print(f"   results, checkpoints, TensorBoard: {path}", flush=True)
    print(f"   watch with: tensorboard --logdir {path}", flush=True)


def report(exp: Experiment, results) -> int:
    """Print the best trial's summary and every error; return the exit status (0 ok, 1 failed)."""
    errors = list(results.errors)
    ok = [r for r in results if r.error is None and r.metrics]
    status = 0
    for r in results:
        if r.error is not None:
            status = 1
            first = str(r.error).strip().splitlines()
            print(f"!! trial in {r.path} failed: {first[-1] if first else r.error}", flush=True)
    if not ok:
        print(f"== {exp.name}: no trial finished ({len(errors)} failed)", flush=True)
        return 1
    metric, mode = pick_metric(ok[0].metrics)
    best = max(ok, key=lambda r: _metric(r.metrics, metric))
    print(f"== {exp.name}: {len(ok)} trial(s) finished, {len(errors)} failed. Best trial by "
          f"{metric} ({mode}):", flush=True)
    print(f"  trial dir:       {best.path}", flush=True)
    if best.checkpoint is not None:
        print(f"  checkpoint:      {best.checkpoint.path}", flush=True)
    params = _searched_params(exp, best.config)
    if params:
        print(f"  config:          {params}", flush=True)
    for line in summary_lines(best.metrics):
        print(line, flush=True)
    return status


def _metric(metrics, name):
    node = metrics
    for part in name.split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return float(node) if isinstance(node, (int, float)) else float("-inf")


def _searched_params(exp: Experiment, config) -> str:
    out = []
    for path in exp.search_paths:
        node = config
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        out.append(f"{'/'.join(path)}={node!r}")
    return ", ".join(out)


def _report_interrupt(exp: Experiment, results) -> None:
    for r in results:
        it = (r.metrics or {}).get("training_iteration", 0)
        ckpt = r.checkpoint.path if r.checkpoint is not None else "none (no checkpoint yet)"
        print(f"!! {exp.name}: trial in {r.path} interrupted at iteration {it}; last checkpoint: "
              f"{ckpt}", flush=True)
    print(f"   continue with the same command and --resume (it restarts from the last checkpoint).",
          flush=True)


def train(experiments: List[Experiment], *, resume: bool = False, verbose: int = 0) -> int:
    """Run every experiment; return the exit status (0 ok, 1 a trial failed, 130 interrupted).

    Ctrl-C lets Tune save the run and stop its trials (a second Ctrl-C stops at once); the
    interrupted trials are reported with their iteration and last checkpoint.
    """
    status = 0
    for exp in experiments:
        _print_header(exp)
        from rllib_coopai.cli.stopper import CheckedStopper  # imports Ray Tune

        stopper = CheckedStopper(exp.stop)

        def after_tune_handled_ctrl_c(sig, frame):  # Tune restores this after its own handler ran
            raise KeyboardInterrupt

        previous = signal.getsignal(signal.SIGINT)
        try:
            signal.signal(signal.SIGINT, after_tune_handled_ctrl_c)
        except ValueError:  # not the main thread: leave signals to Tune
            previous = None
        try:
            results = run_experiment(exp, resume=resume, verbose=verbose, stopper=stopper)
            interrupted = previous is not None and signal.getsignal(signal.SIGINT) is after_tune_handled_ctrl_c
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        stopper.check(exp)
        if interrupted:
            _report_interrupt(exp, results)
            return 130
        status = max(status, report(exp, results))
    return status


def init_ray(address: Optional[str] = None, num_cpus: Optional[int] = None, verbose: bool = False):
    """Connect to ``address`` (a running cluster, ``auto``) or start a local Ray."""
    import ray

    if ray.is_initialized():
        return
    kwargs = dict(include_dashboard=False, log_to_driver=verbose, ignore_reinit_error=True)
    if address:
        try:
            ray.init(address=address, log_to_driver=verbose, ignore_reinit_error=True)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise CLIError(f"cannot connect to the Ray cluster at --address {address!r}: {e}") from e
        return
    if num_cpus is not None:  # a CPU count means a new local Ray (not one already running here)
        kwargs["num_cpus"] = num_cpus
        kwargs["address"] = "local"
    ray.init(**kwargs)
