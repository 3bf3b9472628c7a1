"""The ``rllib`` command, run for real in subprocesses (tiny batches, num_env_runners=0).

One module-scoped training run (2 iterations of IPPO on the one-shot PD from the tuned YAML) is
reused by the checkpoint / TensorBoard / evaluate / plot tests.
"""
import glob
import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
TINY = {"train_batch_size_per_learner": 32, "minibatch_size": 32, "num_epochs": 1,
        "num_env_runners": 0}
ENV = dict(os.environ, RAY_AUTH_MODE="disabled", PYTHONWARNINGS="ignore")


def rllib(*args, cwd=ROOT, timeout=300):
    """Run the console script's code path (``python -m rllib_coopai``) and capture its output."""
    return subprocess.run([PY, "-m", "rllib_coopai", *args], cwd=cwd, env=ENV, timeout=timeout,
                          capture_output=True, text=True)


def _ray_args():
    """Reuse this test process's Ray (other test modules' session) instead of starting another;
    else let the command start its own local Ray with 2 CPUs."""
    import ray

    if ray.is_initialized():
        return ["--address", ray.get_runtime_context().gcs_address]
    return ["--num-cpus", "2"]


def _console_script():
    return os.path.join(os.path.dirname(PY), "rllib")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    storage = tmp_path_factory.mktemp("runs")
    proc = subprocess.run(
        [_console_script(), "train", "file", "tuned_configs/ippo/prisoners_dilemma.yaml",
         "--stop", json.dumps({"training_iteration": 2}), "--config", json.dumps(TINY),
         "--storage-path", str(storage), "--seed", "3", *_ray_args()],
        cwd=ROOT, env=ENV, timeout=300, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return storage / "ippo-prisoners-dilemma", proc


def test_train_prints_progress_and_summary(trained):
    run_dir, proc = trained
    out = proc.stdout
    lines = [ln for ln in out.splitlines() if "] iter " in ln]
    assert len(lines) == 2, out
    # time, env steps, return, social welfare, per-agent returns, cooperation rate on every line
    for i, line in enumerate(lines, start=1):
        assert f"iter {i} |" in line and "steps" in line and "SW " in line, line
        assert "R:player_0" in line and "R:player_1" in line and "coop" in line, line
    assert "Best trial" in out and "social_welfare:" in out and "checkpoint:" in out
    assert f"tensorboard --logdir {run_dir}" in out


def test_train_writes_checkpoint_and_tensorboard_events(trained):
    run_dir, _ = trained
    trials = [d for d in glob.glob(str(run_dir / "IPPO_*")) if os.path.isdir(d)]
    assert len(trials) == 1
    ckpts = glob.glob(os.path.join(trials[0], "checkpoint_*"))
    assert ckpts and os.path.isfile(os.path.join(ckpts[0], "class_and_ctor_args.pkl"))
    events = glob.glob(os.path.join(trials[0], "events.out.tfevents*"))
    assert events
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(events[0])
    acc.Reload()
    tags = acc.Tags()["scalars"]
    for name in ("env_runners/social_welfare", "env_runners/cooperation_rate",
                 "env_runners/agent_returns/player_0", "env_runners/agent_returns/player_1"):
        assert f"ray/tune/{name}" in tags, tags
    assert len(acc.Scalars("ray/tune/env_runners/social_welfare")) == 2
    # the seed and the overrides reached the trial's config
    params = json.load(open(os.path.join(trials[0], "params.json")))
    assert params["seed"] == 3 and params["_train_batch_size_per_learner"] == 32


def test_evaluate_checkpoint(trained):
    run_dir, _ = trained
    address = [a for a in _ray_args() if a != "--num-cpus" and a != "2"]
    proc = rllib("evaluate", str(run_dir), "--episodes", "4", "--render", *address)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "episodes:        4" in out
    for key in ("social_welfare:", "cooperation_rate:", "agent_returns/player_0:",
                "agent_returns/player_1:"):
        assert key in out, out
    assert "joint=" in out  # --render printed the PD's text rendering
    sw = float(out.split("social_welfare:")[1].split()[0])
    assert -6.0 <= sw <= 4.0  # PD payoffs (DCL paper Table 1) bound the social welfare


def test_plot_learning_curves(trained, tmp_path, capsys):
    from rllib_coopai.cli.main import main

    run_dir, _ = trained
    png = tmp_path / "curves.png"
    assert main(["plot", str(run_dir), "-o", str(png)]) == 0
    assert f"wrote {png}" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_grid_search_runs_four_trials(tmp_path):
    exp = tmp_path / "search.yaml"
    exp.write_text(textwrap.dedent("""
        pd-grid:
          run: IPPO
          env: prisoners_dilemma
          stop: {training_iteration: 1}
          checkpoint_config: {checkpoint_frequency: 0, checkpoint_at_end: true}
          config:
            lr: {grid_search: [1.0e-3, 1.0e-4]}
            env_config:
              horizon: {grid_search: [1, 2]}
            entropy_coeff: {uniform: [0.0, 0.01]}
            train_batch_size_per_learner: 32
            minibatch_size: 32
            num_epochs: 1
            num_env_runners: 0
    """))
    proc = subprocess.run([_console_script(), "train", "-f", str(exp), "--storage-path",
                           str(tmp_path / "runs"), *_ray_args()],
                          cwd=ROOT, env=ENV, timeout=400, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    trials = glob.glob(str(tmp_path / "runs" / "pd-grid" / "IPPO_*" / "progress.csv"))
    assert len(trials) == 4
    configs = [json.load(open(os.path.join(os.path.dirname(t), "params.json"))) for t in trials]
    assert sorted((c["lr"], c["env_config"]["horizon"]) for c in configs) == [
        (1e-4, 1), (1e-4, 2), (1e-3, 1), (1e-3, 2)]
    assert all(0.0 <= c["entropy_coeff"] <= 0.01 for c in configs)
    assert "4 trial(s) finished, 0 failed" in proc.stdout
    assert "config:          lr=" in proc.stdout  # the best trial's searched values


def test_list(capsys):
    from rllib_coopai.cli.main import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "IPPO" in out and "PPO" in out and "DCL" in out
    assert "prisoners_dilemma" in out and "escape_room" in out
    assert main(["list", "--keys", "IPPO"]) == 0
    assert "share_policy" in capsys.readouterr().out


BAD = {
    "missing": ("/nonexistent/exp.yaml", None, "does not exist"),
    "yaml": ("bad.yaml", "a:\n  run: IPPO\n  env: [prisoners\n", "YAML syntax error"),
    "algo": ("algo.yaml", "a:\n  run: IPPOO\n  env: prisoners_dilemma\n", "Did you mean 'IPPO'"),
    "env": ("env.yaml", "a:\n  run: IPPO\n  env: prisoner_dilemma\n",
            "unknown environment 'prisoner_dilemma'"),
    "key": ("key.yaml", "a:\n  run: IPPO\n  env: prisoners_dilemma\n  config:\n    lrr: 0.1\n",
            "unknown config key 'lrr' for algorithm IPPO (IPPOConfig). Did you mean 'lr'"),
    "env_value": ("ev.yaml", "a:\n  run: IPPO\n  env: prisoners_dilemma\n  config:\n"
                  "    env_config: {horizon: 0}\n", "horizon must be an integer >= 1"),
    "value": ("v.yaml", "a:\n  run: IPPO\n  env: prisoners_dilemma\n  config:\n"
              "    entropy_coeff: -1\n", "'entropy_coeff': -1 (must be >= 0"),
    "type": ("t.yaml", "a:\n  run: IPPO\n  env: prisoners_dilemma\n  config:\n"
             "    train_batch_size_per_learner: abc\n", "expected a number"),
    "search": ("s.yaml", "a:\n  run: IPPO\n  env: prisoners_dilemma\n  config:\n"
               "    lr: {loguniform: [0, 1]}\n", "loguniform: [lo, hi]} needs lo > 0"),
    "search_value": ("sv.yaml", "a:\n  run: IPPO\n  env: prisoners_dilemma\n  config:\n"
                     "    env_config: {horizon: {grid_search: [1, -1]}}\n",
                     "horizon must be an integer >= 1"),
}


def _bad_files(tmp_path):
    paths = {}
    for name, (fname, text, _) in BAD.items():
        if text is None:
            paths[name] = fname
        else:
            (tmp_path / fname).write_text(text)
            paths[name] = str(tmp_path / fname)
    return paths


def test_bad_input_subprocess_exit_status_2(tmp_path):
    """The real command: status 2, one paragraph naming the problem, traceback only with --debug."""
    paths = _bad_files(tmp_path)
    runs = {
        "algo": [PY, "-m", "rllib_coopai", "train", "file", paths["algo"]],
        "debug": [_console_script(), "train", "-f", paths["missing"], "--debug"],
    }
    procs = {k: subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for k, cmd in runs.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=280)
        assert proc.returncode == 2, (name, out[-2000:], err[-2000:])
        msg = [ln for ln in err.splitlines() if ln.startswith("rllib train: error:")]
        assert len(msg) == 1 and BAD["missing" if name == "debug" else name][2] in msg[0], err
        assert ("Traceback" in err) == (name == "debug"), (name, err[-2000:])
        assert "Started a local Ray instance" not in out + err


@pytest.mark.parametrize("name", sorted(BAD) + ["stop_json", "resume", "num_samples"])
def test_bad_inputs_exit_2_with_message(name, tmp_path, capsys):
    """Every kind of bad input through ``main()`` (the console script's function): status 2 and
    one line naming the problem, no traceback, Ray never started."""
    import ray

    from rllib_coopai.cli.main import main

    ray_was_up = ray.is_initialized()
    paths = _bad_files(tmp_path)
    pd = os.path.join(ROOT, "tuned_configs", "ippo", "prisoners_dilemma.yaml")
    argv, expect = {
        "stop_json": (["train", "-f", pd, "--stop", "{training_iteration: 1"],
                      "--stop must be a JSON object"),
        "resume": (["train", "-f", pd, "--resume", "--storage-path", str(tmp_path / "none")],
                   "no Tune experiment to resume"),
        "num_samples": (["train", "-f", pd, "--num-samples", "0"], "--num-samples must be >= 1"),
    }.get(name, (["train", "file", paths.get(name, ""), "--stop", '{"training_iteration": 1}'],
                 BAD.get(name, (None, None, None))[2]))
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("rllib train: error:"), err
    assert expect in lines[0], (expect, err)
    assert ray.is_initialized() == ray_was_up  # the check happened before Ray was needed
