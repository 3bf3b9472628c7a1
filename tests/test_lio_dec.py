"""LIO-dec (LIO thesis §5.3.2): the givers rebuild the recipients' step from maximum-likelihood
estimates of their policies instead of their parameters."""
import pytest
import torch

from rllib_coopai.algorithms.lio import LIOConfig

torch.set_num_threads(1)


def _lio_dec(**training):
    kw = dict(episodes_per_iteration=4, policy_hiddens=[16], incentive_hiddens=[16],
              recipient_model="estimated")
    kw.update(training)
    return (LIOConfig().environment("escape_room", env_config={"n_agents": 2, "min_at_lever": 1})
            .env_runners(num_env_runners=0).debugging(seed=0).training(**kw))


def test_the_rebuilt_step_uses_the_estimates(ray_session):
    """With the models set to the recipients' true parameters (and a negligible fit step) the
    rebuilt step is the true one (mismatch ~0); with the fitted estimates it is not: a learner that
    ignored the estimates would give 0 in both cases."""
    algo = _lio_dec(opponent_model_lr=1e-12).build_algo()
    try:
        learner = algo.learner_group._learner
        mods, order = learner._modules()
        with torch.no_grad():
            for est, j in zip(learner._recipient_models.params, order):
                true = dict(mods[j].named_parameters())
                for k, v in est.items():
                    v.copy_(true[k])
        res = algo.train()["learners"]
        assert res["theta_hat_mismatch"] < 1e-5, res["theta_hat_mismatch"]
        assert all(res[j]["opponent_model_nll"] > 0 for j in order)
    finally:
        algo.stop()
    algo = _lio_dec().build_algo()  # the default: models start uninformed and are fitted
    try:
        res = algo.train()["learners"]
        assert res["theta_hat_mismatch"] > 1e-3, res["theta_hat_mismatch"]
        for _ in range(2):
            res = algo.train()["learners"]
        assert all(torch.isfinite(torch.tensor(res[j]["meta_grad_norm"])) for j in order)
    finally:
        algo.stop()


def test_fitting_lowers_the_negative_log_likelihood(ray_session):
    algo = _lio_dec(opponent_model_steps=50, opponent_model_lr=0.05).build_algo()
    try:
        learner = algo.learner_group._learner
        _, order = learner._modules()
        first = algo.train()["learners"]
        for _ in range(3):
            last = algo.train()["learners"]
        # the model of each recipient explains its actions better than the uniform policy (log 3)
        assert all(last[j]["opponent_model_nll"] < 1.0986 for j in order), (first, last)
    finally:
        algo.stop()


def test_bad_recipient_model():
    with pytest.raises(ValueError, match="recipient_model"):
        _lio_dec(recipient_model="guessed").validate()
    with pytest.raises(ValueError, match="opponent_model_lr"):
        _lio_dec(opponent_model_lr=float("nan")).validate()
