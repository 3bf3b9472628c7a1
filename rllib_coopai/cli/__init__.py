"""The ``rllib`` command: ``train`` / ``evaluate`` / ``plot`` / ``list``.

Ray removed its own ``rllib`` CLI in 2.41; this package brings back ``rllib train file X.yaml``
(the classic RLlib experiment format) for its algorithms and RLlib's built-in ones. The pieces are
usable from Python too: :func:`load_experiments` / :func:`build_config` (YAML -> AlgorithmConfig
and Tune ``param_space``), :func:`run_experiment` (``tune.Tuner``), :func:`evaluate_checkpoint`,
:func:`plot_run`.
"""
from rllib_coopai.cli.errors import CLIError
from rllib_coopai.cli.experiment import Experiment, build_config, load_experiments

__all__ = ["CLIError", "Experiment", "build_config", "load_experiments"]
