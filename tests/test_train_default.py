"""The `make train` entry point: default experiment choice and the early-stop rule."""
from rllib_coopai.train_default import converged, default_experiment


def test_default_is_dcl_on_one_shot_pd_and_ippo_on_request():
    name, config, _ = default_experiment()
    assert name == "DCL" and config.env == "prisoners_dilemma"
    name, config, _ = default_experiment("ippo")
    assert name == "IPPO" and config.env == "prisoners_dilemma"


def test_converged_needs_five_cooperative_iterations():
    coop = {"social_welfare": -2.02, "agreement_rate": 0.99}
    assert not converged([coop] * 4)
    assert converged([{"social_welfare": -4.0}] + [coop] * 5)
    assert not converged([coop] * 4 + [{"social_welfare": -2.5, "agreement_rate": 0.99}])
    assert not converged([coop] * 4 + [{"social_welfare": -2.0, "agreement_rate": 0.5}])
    assert converged([{"social_welfare": -2.0}] * 5), "agreement is optional (IPPO has none)"
