"""``rllib`` faults: bad input that must exit 2 before Ray starts, misspelled stop keys, Ctrl-C
(exit 130), ``--resume`` without duplicated result rows and with a new ``--stop``, ``plot -o DIR``."""
import csv
import json
import os
import signal
import subprocess
import time

import pytest

from rllib_coopai.cli.errors import CLIError
from tests.test_cli import ENV, ROOT, TINY, _console_script, _ray_args

PD = os.path.join(ROOT, "tuned_configs", "ippo", "prisoners_dilemma.yaml")
HEAD = "a:\n  run: IPPO\n  env: prisoners_dilemma\n"


def _bad_inputs(tmp_path):
    a_file = tmp_path / "not_a_dir"
    a_file.write_text("x")
    files = {
        "max_failures": HEAD + "  max_failures: abc\n",
        "deep": "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "tag": HEAD + "  config:\n    lr: !!python/object/apply:os.getcwd []\n",
        "hiddens": HEAD + "  config:\n    model_config: {fcnet_hiddens: [-5]}\n",
        "huge_env": "a:\n  run: IPPO\n  env: " + "x" * 200_000 + "\n",
    }
    paths = {}
    for key, text in files.items():
        paths[key] = tmp_path / f"{key}.yaml"
        paths[key].write_text(text)
    return {
        "max_failures": ([str(paths["max_failures"])], "max_failures of experiment 'a' must be an integer"),
        "deep": ([str(paths["deep"])], "nested too deeply"),
        "tag": ([str(paths["tag"])], "YAML tags such as `!!python/...` are not allowed"),
        "hiddens": ([str(paths["hiddens"])], "fcnet_hiddens of experiment 'a' must be a list of layer sizes"),
        "storage_file": ([PD, "--storage-path", str(a_file / "runs")], "is a file, not a directory"),
        "huge_env": ([str(paths["huge_env"])], "unknown environment 'xxxxxxxxxx"),
    }


@pytest.mark.parametrize("case", ["max_failures", "deep", "tag", "hiddens", "storage_file", "huge_env"])
def test_bad_input_exits_2_before_ray(case, tmp_path, capsys):
    import ray

    from rllib_coopai.cli.main import main

    ray_was_up = ray.is_initialized()
    args, expect = _bad_inputs(tmp_path)[case]
    assert main(["train", "-f", *args, "--stop", '{"training_iteration": 1}']) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("rllib train: error:"), err[:3000]
    assert expect in lines[0], (expect, err[:3000])
    assert "syntax error" not in lines[0]
    assert len(err) < 5000 and "x" * 300 not in err
    assert ray.is_initialized() == ray_was_up


def _fake_run(tmp_path):
    trial = tmp_path / "run" / "trial_0"
    trial.mkdir(parents=True)
    with open(trial / "result.json", "w") as f:
        for it in range(1, 4):
            f.write(json.dumps({"training_iteration": it, "num_env_steps_sampled_lifetime": 10 * it,
                                "env_runners": {"social_welfare": float(it)}}) + "\n")
    return tmp_path / "run"


@pytest.mark.parametrize("form", ["existing_dir", "new_dir/", "no_extension"])
def test_plot_output_is_where_it_says(form, tmp_path, capsys):
    from rllib_coopai.cli.main import main

    run = _fake_run(tmp_path)
    target = tmp_path / "out"
    if form == "existing_dir":
        target.mkdir()
        arg, expect = str(target), target / "curves.png"
    elif form == "new_dir/":
        arg, expect = str(target) + "/", target / "curves.png"
    else:
        arg, expect = str(target), tmp_path / "out.png"
    assert main(["plot", str(run), "-o", arg]) == 0
    out = capsys.readouterr().out
    assert expect.is_file() and expect.stat().st_size > 0
    assert f"wrote {expect}" in out, out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["run", expect.relative_to(tmp_path).parts[0]])


def _train_pd(stop, tmp_path):
    """``rllib train`` of the IPPO prisoner's dilemma config (tiny batches) with ``--stop stop``."""
    return subprocess.run(
        [_console_script(), "train", "-f", PD, "--stop", json.dumps(stop),
         "--config", json.dumps(TINY), "--storage-path", str(tmp_path), *_ray_args()],
        cwd=ROOT, env=ENV, timeout=300, capture_output=True, text=True)


def test_misspelled_stop_key_exits_2_with_did_you_mean(tmp_path):
    """A typo of a known result key is refused before Ray starts: nothing is trained."""
    proc = _train_pd({"training_iteratoin": 3}, tmp_path)
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "stop criterion 'training_iteratoin'" in proc.stderr
    assert "Did you mean 'training_iteration'?" in proc.stderr
    assert "Started a local Ray instance" not in proc.stdout + proc.stderr
    assert not list(tmp_path.rglob("result.json"))  # refused before any trial started


@pytest.mark.parametrize("stop, expect", [
    ({"training_iteratoin": 3}, "Did you mean 'training_iteration'?"),
    ({"env_runners/episode_return_man": 1}, "Did you mean 'env_runners/episode_return_mean'?"),
    ({"env_runners": {"social_welfre": 0}}, "Did you mean 'env_runners/social_welfare'?"),
    ({"social_welfar": 0}, "Did you mean 'env_runners/social_welfare'?"),
    ({"time_total_ss": 10}, "Did you mean 'time_total_s'?"),
    ({"training_iteration": "ten"}, "stop criterion 'training_iteration' given by --stop must be a number"),
    ({"training_iteration": float("nan")}, "must be a finite number, got nan"),
])
def test_stop_keys_and_values_checked_before_ray(stop, expect, capsys):
    import ray

    from rllib_coopai.cli.main import main

    ray_was_up = ray.is_initialized()
    assert main(["train", "-f", PD, "--stop", json.dumps(stop)]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("rllib train: error:"), err
    assert expect in lines[0], (expect, err)
    assert ray.is_initialized() == ray_was_up


@pytest.mark.parametrize("key, near", [
    ("training_iteration", None), ("env_runners/episode_return_min", None),
    ("evaluation/env_runners/episode_return_mean", None),
    ("env_runners/agent_returns/player_0", None),          # below a known dict-valued metric
    ("env_runners/agent_episode_returns_mean/p0", None),
    ("learners/player_0/vf_los", None),                    # module ids are the run's own
    ("my_custom_metric", None),                            # not near a known key: checked later
    ("learners/__all_modules__/nonfinite_updates_skiped",
     "learners/__all_modules__/nonfinite_updates_skipped"),
    ("num_env_steps_sampled_lifetim", "num_env_steps_sampled_lifetime"),
    ("episode_reward_mean", None),                         # old name: mapped, not refused
])
def test_near_miss_is_only_a_typo_of_a_known_key(key, near):
    from rllib_coopai.cli.stopper import near_miss

    assert near_miss(key) == near


def test_unknown_stop_key_exits_2_after_first_iteration(tmp_path):
    """A key not near any known one may be the algorithm's own: the run checks it against its
    first result and exits 2 with the result keys' names."""
    proc = _train_pd({"my_custom_metric": 3}, tmp_path)
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "stop criterion 'my_custom_metric'" in proc.stderr
    assert "checked after its first iteration" in proc.stderr
    rows = (next(tmp_path.rglob("result.json"))).read_text().splitlines()
    assert len(rows) == 1  # stopped after its first iteration


def _iterations(trial_dir):
    with open(os.path.join(trial_dir, "progress.csv"), newline="") as f:
        csv_its = [int(r["training_iteration"]) for r in csv.DictReader(f)]
    with open(os.path.join(trial_dir, "result.json")) as f:
        json_its = [json.loads(ln)["training_iteration"] for ln in f if ln.strip()]
    return csv_its, json_its


def test_ctrl_c_exits_130_and_resume_has_no_duplicate_rows(tmp_path):
    """SIGINT after iteration 3 (checkpoints every 2): exit 130 naming the iteration and the
    checkpoint; ``--resume`` restarts from the last checkpoint and logs the iterations after it
    once (the resumed run keeps the first run's stop: 25 iterations). Each iteration lasts at
    least 1 s, so the signal lands well before iteration 25 however long Tune takes to act on it."""
    exp = tmp_path / "exp.yaml"
    exp.write_text(HEAD + "  checkpoint_config: {checkpoint_frequency: 2}\n")
    slow = dict(TINY, min_time_s_per_iteration=1.0)
    cmd = [_console_script(), "train", "-f", str(exp), "--config", json.dumps(slow),
           "--storage-path", str(tmp_path / "runs"), *_ray_args()]
    stop = ["--stop", '{"training_iteration": 25}']
    proc = subprocess.Popen(cmd + stop, cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    trial_dir = None
    while time.time() < deadline and proc.poll() is None:
        found = list((tmp_path / "runs").rglob("result.json"))
        if found and len(found[0].read_text().splitlines()) >= 3:
            trial_dir = found[0].parent
            break
        time.sleep(0.2)
    assert trial_dir is not None, "no 3 iterations within 240 s"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-3000:] + err[-3000:]
    assert "interrupted at iteration" in out and "last checkpoint:" in out, out[-3000:]
    assert "trial(s) finished" not in out
    csv_its, json_its = _iterations(trial_dir)
    last = json_its[-1]
    assert 3 <= last < 25 and json_its == list(range(1, last + 1)) and csv_its == json_its
    assert f"interrupted at iteration {last}" in out
    resumed = subprocess.run(cmd + stop + ["--resume"],
                             cwd=ROOT, env=ENV, timeout=300, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    csv_its, json_its = _iterations(trial_dir)
    assert json_its == list(range(1, 26)), json_its
    assert csv_its == json_its


def test_resumed_logs_keep_one_row_per_iteration(tmp_path):
    """Tune may restore from a checkpoint older than the newest on disk (one written while the run
    was interrupted); the resumed run's rows then repeat iterations: after the run, the last row
    of each iteration is kept, in iteration order, in result.json and progress.csv alike."""
    from rllib_coopai.cli.train import _rewrite_trial_logs

    trial = tmp_path / "exp" / "trial_0"
    trial.mkdir(parents=True)
    its = [1, 2, 3, 4, 5] + list(range(5, 9))  # first run to 5, resumed from 4
    runs = ["a"] * 5 + ["b"] * 4
    (trial / "result.json").write_text(
        "".join(json.dumps({"training_iteration": i, "run": r}) + "\n" for i, r in zip(its, runs)))
    (trial / "progress.csv").write_text(
        "run,training_iteration\n" + "".join(f"{r},{i}\n" for i, r in zip(its, runs)))
    _rewrite_trial_logs(str(tmp_path / "exp"))
    rows = [json.loads(ln) for ln in (trial / "result.json").read_text().splitlines()]
    assert [r["training_iteration"] for r in rows] == list(range(1, 9))
    assert [r["run"] for r in rows] == ["a"] * 4 + ["b"] * 4
    csv_rows = (trial / "progress.csv").read_text().splitlines()
    assert csv_rows[0] == "run,training_iteration"
    assert csv_rows[1:] == [f"{'a' if i < 5 else 'b'},{i}" for i in range(1, 9)]
    # With a limit (before a resume): rows past the checkpoint's iteration go.
    _rewrite_trial_logs(str(tmp_path / "exp"), lambda d: 3)
    assert [json.loads(ln)["training_iteration"]
            for ln in (trial / "result.json").read_text().splitlines()] == [1, 2, 3]


def test_resume_honours_a_new_stop(tmp_path):
    """``--resume --stop`` changes the stop criteria of the resumed run (Tune alone keeps the
    stored ones): a finished 2-iteration run resumed with ``training_iteration: 4`` continues from
    its last checkpoint to iteration 4, each iteration logged once."""
    exp = tmp_path / "exp.yaml"
    exp.write_text(HEAD)
    cmd = [_console_script(), "train", "-f", str(exp), "--config", json.dumps(TINY),
           "--storage-path", str(tmp_path / "runs"), *_ray_args()]
    first = subprocess.run(cmd + ["--stop", '{"training_iteration": 2}'],
                           cwd=ROOT, env=ENV, timeout=300, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    trial_dir = next((tmp_path / "runs").rglob("result.json")).parent
    assert _iterations(trial_dir) == ([1, 2], [1, 2])
    resumed = subprocess.run(cmd + ["--stop", '{"training_iteration": 4}', "--resume"],
                             cwd=ROOT, env=ENV, timeout=300, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "stop criteria changed by --stop: training_iteration >= 4" in resumed.stdout
    assert _iterations(trial_dir) == ([1, 2, 3, 4], [1, 2, 3, 4])


def test_resumed_stopper_takes_the_new_criteria(tmp_path):
    """Tune unpickles the stopper a run started with; once a resumed run registered its stopper,
    that copy stops by the new criteria and reports unknown keys to the new stopper."""
    import pickle

    from rllib_coopai.cli.stopper import CheckedStopper

    started = CheckedStopper({"training_iteration": 2})
    started.save(str(tmp_path))
    stored = pickle.dumps(started)
    saved = CheckedStopper.load(str(tmp_path))
    assert (saved.run_id, saved.stop) == (started.run_id, {"training_iteration": 2})
    assert pickle.loads(stored).stop == {"training_iteration": 2}  # nothing registered yet
    resumed = CheckedStopper({"training_iteration": 4, "my_key": 1}, run_id=saved.run_id)
    resumed.resume()
    copy = pickle.loads(stored)
    assert copy.stop == resumed.stop and copy.token == resumed.token
    assert not copy("t", {"training_iteration": 3, "my_key": 0})
    assert copy("t", {"training_iteration": 4, "my_key": 0})
    assert copy("t", {"training_iteration": 1}) and copy.stop_all()  # my_key missing
    with pytest.raises(CLIError, match="stop criterion 'my_key'"):
        resumed.check(type("E", (), {"name": "a", "run": "IPPO"})())


def test_resume_with_stop_refused_when_the_criteria_are_unknown(tmp_path):
    from rllib_coopai.cli.experiment import make_experiment
    from rllib_coopai.cli.train import _restore_with_stop

    exp = make_experiment("a", {"run": "IPPO", "env": "prisoners_dilemma"},
                          stop={"training_iteration": 4})
    with pytest.raises(CLIError, match=r"--stop with --resume: the stop criteria of the run at "
                                       r".* cannot be changed .* Resume without --stop"):
        _restore_with_stop(str(tmp_path), exp)
