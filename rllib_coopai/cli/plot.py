"""``rllib plot RUN_DIR -o curves.png``: learning curves from Tune's ``progress.csv`` / ``result.json``.

Panels (only those with data): per-agent returns, social welfare (and mean episode return),
rates (cooperation, agreement, ...), incentives / payments / other method metrics. One line per
trial; the x axis is env steps sampled (iterations if absent).
"""
from __future__ import annotations

import json
import os
from typing import Dict, List

from rllib_coopai.cli.errors import CLIError
from rllib_coopai.cli.progress import cooperation_metrics


def _rows_from_json(path: str) -> List[Dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return rows


def _rows_from_csv(path: str) -> List[Dict]:
    import csv

    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for rec in csv.DictReader(f):
            row = {}
            for k, v in rec.items():
                try:
                    row[k] = float(v)
                except (TypeError, ValueError):
                    row[k] = v
            rows.append(row)
    return rows


def load_trials(run_dir: str) -> Dict[str, List[Dict]]:
    """``{trial name: [result, ...]}`` for every trial at or below ``run_dir``."""
    if not os.path.exists(run_dir):
        raise CLIError(f"run directory {run_dir!r} does not exist.")
    if not os.path.isdir(run_dir):
        raise CLIError(f"{run_dir!r} is not a directory; give a trial or experiment directory.")
    trials = {}
    for root, dirs, files in os.walk(run_dir):
        dirs[:] = [d for d in dirs if not d.startswith("checkpoint_")]
        rows = []
        if "result.json" in files:
            rows = _rows_from_json(os.path.join(root, "result.json"))
        if not rows and "progress.csv" in files:
            rows = _rows_from_csv(os.path.join(root, "progress.csv"))
        if rows:
            trials[os.path.relpath(root, run_dir) if root != run_dir else os.path.basename(root)] = rows
    if not trials:
        raise CLIError(f"no progress.csv or result.json under {run_dir!r} (is it a Tune run dir?).")
    return trials


def _x(row: Dict) -> float:
    for key in ("num_env_steps_sampled_lifetime", "env_runners/num_env_steps_sampled_lifetime"):
        v = row.get(key)
        if isinstance(v, dict):
            continue
        if isinstance(v, (int, float)):
            return float(v)
    v = row.get("training_iteration", 0)
    return float(v) if isinstance(v, (int, float)) else 0.0


def _panel(name: str) -> str:
    if name.startswith("agent_returns/"):
        return "per-agent returns"
    if name in ("social_welfare", "episode_return_mean"):
        return "social welfare / mean return"
    if name.endswith("_rate") or name.endswith("_rate/all"):
        return "rates"
    return "incentives and method metrics"


PANELS = ("per-agent returns", "social welfare / mean return", "rates",
          "incentives and method metrics")


def plot_run(run_dir: str, output: str = "curves.png") -> str:
    """Write the learning curves of every trial under ``run_dir`` to PNG ``output``; return its path.

    ``output`` may be a folder (existing, or ending in ``/``): the file is ``curves.png`` inside it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trials = load_trials(run_dir)
    series: Dict[str, Dict[str, Dict[str, List]]] = {p: {} for p in PANELS}
    uses_steps = True
    for trial, rows in sorted(trials.items()):
        for row in rows:
            uses_steps &= isinstance(row.get("num_env_steps_sampled_lifetime"), (int, float))
            x = _x(row)
            for name, value in cooperation_metrics(row).items():
                key = f"{name} [{trial}]" if len(trials) > 1 else name
                xs, ys = series[_panel(name)].setdefault(key, ([], []))
                xs.append(x)
                ys.append(value)
    panels = [p for p in PANELS if series[p]]
    if not panels:
        raise CLIError(f"the results under {run_dir!r} hold no episode metrics yet "
                       f"(no episode finished?).")
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.8 * len(panels)), sharex=True,
                             squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        for label, (xs, ys) in sorted(series[panel].items()):
            ax.plot(xs, ys, label=label, marker="." if len(xs) < 30 else None)
        ax.set_title(panel)
        ax.grid(alpha=0.3)
        if len(series[panel]) <= 12:
            ax.legend(fontsize=7, loc="best")
    axes[-1, 0].set_xlabel("env steps sampled" if uses_steps else "training iteration")
    fig.suptitle(os.path.basename(os.path.abspath(run_dir)), fontsize=10)
    fig.tight_layout()
    out = os.path.abspath(output)
    if os.path.isdir(out) or output.endswith(("/", os.sep)):  # a folder: curves.png inside it
        out = os.path.join(out, "curves.png")
    elif not os.path.splitext(out)[1]:  # matplotlib would add .png; say so in the returned path
        out += ".png"
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
