"""LIO as an RLlib algorithm: config errors, metrics, the zero meta-gradient check on the learner, schedules,
2 env runners + 2 learners, checkpoint restore."""
import numpy as np
import pytest
import torch

import rllib_coopai  # noqa: F401  (registers envs and algorithms)
from rllib_coopai.algorithms import get_config_class
from rllib_coopai.algorithms.lio import LIO, LIOConfig

torch.set_num_threads(1)

ER21 = {"n_agents": 2, "min_at_lever": 1}


def _small(cfg, **training):
    kw = dict(episodes_per_iteration=4, policy_hiddens=[16], incentive_hiddens=[16])
    kw.update(training)
    return cfg.env_runners(num_env_runners=0).debugging(seed=0).training(**kw)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"schedule": "three"}, "schedule"),
        ({"meta_gradient_scope": "everyone"}, r"meta_gradient_scope.*\['own', 'all_givers'\]"),
        ({"r_max": 0.0}, "r_max"),
        ({"policy_lr": -1.0}, "policy_lr"),
        ({"epsilon_start": 0.1, "epsilon_end": 0.5}, "epsilon_end"),
        ({"lio_agents": ["nobody"]}, "lio_agents"),
        ({"policy_learner": "ppo"}, "policy_learner"),
        ({"episodes_per_iteration": 0}, "episodes_per_iteration"),
        ({"preactivation_bound": 0.0}, "preactivation_bound"),
        ({"incentive_observed_actions": "beam"}, "incentive_observed_actions"),
        ({"weight_init": "xavier"}, r"weight_init.*\['torch', 'reference'\]"),
        ({"incentive_observed_actions": [3]}, r"incentive_observed_actions.*\[0, 2\]"),
        ({"incentive_observed_actions": [1, 1]}, "incentive_observed_actions"),
    ],
)
def test_config_validation_errors(kw, match):
    cfg = LIOConfig().environment("escape_room", env_config=ER21).training(**kw)
    with pytest.raises(ValueError, match=match):
        cfg.validate()


@pytest.mark.parametrize("setting,width", [("auto", 2), ("all", 6), ([4, 5], 3)])
def test_cleanup_incentive_head_sees_only_the_cleaning_beam_by_default(setting, width):
    """LIO thesis §5.3.2 / the authors' code's obs_cleaned_1hot: on Cleanup the incentive head sees, of each other
    agent's action, only whether it fired the cleaning beam ("auto"); "all" is the one-hot action."""
    cfg = LIOConfig().environment("cleanup", env_config={"map_size": "7x7"}).training(
        policy_learner="ac", incentive_observed_actions=setting
    )
    cfg.validate()
    spec = cfg.rl_module_spec.rl_module_specs["agent_0"]
    mod = spec.build()
    assert mod.observed_actions == ({"auto": [5], "all": None}.get(setting, setting) if isinstance(setting, str) else setting)
    # LIO thesis App. B.4.2, Table B.5: conv ("same" padding) -> FC 64 -> concat the action features -> FC 64 -> N
    assert mod.inc_enc[0].out_dim == 6 * 9 * 9 and mod.inc_enc[1].out_features == 64
    assert mod.inc_net[0].in_features == 64 + width
    acts = torch.tensor([5, 0, 3, 4, 5, 1])
    feats = mod.action_features([acts])
    assert feats.shape == (6, width)
    if setting == "auto":
        # the authors' code, obs_cleaned_1hot: a 2-dim one-hot of "fired the cleaning beam" (index 1)
        assert feats.tolist() == [[0, 1], [1, 0], [1, 0], [1, 0], [0, 1], [1, 0]]
        obs = torch.rand(1, *spec.observation_space.shape).expand(6, *spec.observation_space.shape)
        pay = mod.incentives(obs, feats)[:, 1]
        # every non-firing action is paid the same; firing is paid differently
        assert torch.allclose(pay[[1, 2, 3, 5]], pay[1].expand(4))
        assert not torch.isclose(pay[0], pay[1])
    elif setting == "all":
        assert torch.equal(feats, torch.nn.functional.one_hot(acts, 6).float())
    else:  # [4, 5]: none / stay / clean
        assert feats.argmax(-1).tolist() == [2, 0, 0, 1, 2, 0]


def test_reference_weight_init_matches_the_tf1_initialisers():
    """weight_init="reference": Glorot-uniform kernels, zero dense biases, conv bias from
    tf.get_variable's Glorot default; the target critic starts equal to the critic."""
    torch.manual_seed(0)
    cfg = LIOConfig().environment("cleanup", env_config={"map_size": "7x7"}).training(
        policy_learner="ac", weight_init="reference", policy_hiddens=[64, 64], incentive_hiddens=[64, 64]
    )
    cfg.validate()
    mod = cfg.rl_module_spec.rl_module_specs["agent_0"].build()
    fc = mod.pi_net[0]  # 486 -> 64
    limit = (6.0 / (fc.in_features + fc.out_features)) ** 0.5
    assert fc.weight.abs().max() <= limit and fc.weight.abs().max() > 0.9 * limit
    assert torch.count_nonzero(fc.bias) == 0 and torch.count_nonzero(mod.inc_net[-1].weight) > 0
    conv = mod.pi_enc.conv[0]
    assert conv.bias.abs().max() <= (6.0 / 7) ** 0.5 and conv.bias.abs().max() > 0.1
    for a, b in zip(list(mod.vf_enc.parameters()) + list(mod.vf_net.parameters()), mod.vf_target.parameters()):
        assert torch.equal(a, b)
    # PyTorch's default is ~2.3x narrower on this layer (1/sqrt(486) vs sqrt(6/550))
    torch_mod = LIOConfig().environment("cleanup", env_config={"map_size": "7x7"}).training(
        policy_learner="ac", policy_hiddens=[64, 64]
    )
    torch_mod.validate()
    w = torch_mod.rl_module_spec.rl_module_specs["agent_0"].build().pi_net[0].weight
    assert w.abs().max() <= 486 ** -0.5 + 1e-6


def test_unknown_env_lists_known_names():
    with pytest.raises(ValueError, match="Known environments"):
        LIOConfig().environment("escape_rom").validate()


def test_registered_and_builds_from_environment_only(ray_session):
    """The throughput benchmark's path: get_config_class("LIO")().environment(...)."""
    cfg = get_config_class("LIO")().environment("escape_room", env_config=ER21)
    assert isinstance(cfg, LIOConfig)
    algo = cfg.env_runners(num_env_runners=0).build_algo()
    try:
        res = algo.train()
        assert "social_welfare" in res["env_runners"]
        for aid in ("player_0", "player_1"):
            lr = res["learners"][aid]
            for key in ("incentives_given", "incentives_received", "incentives_received_start",
                        "incentives_given_start"):
                assert key in lr, key
            assert 0.0 <= lr["incentives_given"] <= 2.0 * 5  # R_max per step, <= 5 steps
        assert res["learners"]["theta_hat_mismatch"] == 0.0  # committed params == graph's theta_hat
    finally:
        algo.stop()


@pytest.mark.parametrize("schedule", ["two_rollouts", "one_rollout"])
def test_zero_recipient_lr_zero_meta_gradient_on_learner(ray_session, schedule):
    """Oracle 17 through the learner: policy lr 0 -> meta-gradient exactly 0, cost gradient not."""
    for lr, zero in ((0.0, True), (0.05, False)):
        algo = _small(LIOConfig().environment("escape_room", env_config=ER21), policy_lr=lr, schedule=schedule).build_algo()
        try:
            w0 = {k: np.array(v, copy=True) for k, v in algo.get_module("player_1").get_state().items()}
            for _ in range(2):
                res = algo.train()
            lr_res = res["learners"]["player_0"]
            if zero:
                assert lr_res["meta_grad_norm"] == 0.0
                w1 = algo.get_module("player_1").get_state()
                for k in algo.get_module("player_1").policy_param_names():
                    np.testing.assert_array_equal(w0[k], w1[k])  # recipients did not move
            else:
                assert lr_res["meta_grad_norm"] > 0.0
            assert lr_res["cost_grad_norm"] > 0.0
            assert res["learners"]["theta_hat_mismatch"] == 0.0
        finally:
            algo.stop()


@pytest.mark.parametrize("bound", [None, 3.0])
def test_preactivation_bound_revives_a_saturated_incentive_head(ray_session, bound):
    """A giver whose incentive outputs sit deep in the sigmoid's tails (output layer x 1e4), with
    recipients that do not learn (meta-gradient 0) and the cost in the incentive Adam: without
    ``preactivation_bound`` no gradient reaches the head and it never moves (the "dead head" of
    docs/REPRODUCTION.md, ER(3,2)); with it, the cost pulls the pre-activations back."""
    algo = _small(LIOConfig().environment("escape_room", env_config=ER21), policy_lr=0.0,
                  separate_cost_optimizer=False, cost_coeff=1.0, incentive_lr=1e-2,
                  preactivation_bound=bound).build_algo()
    try:
        mod = algo.learner_group._learner.module["player_0"]
        gen = torch.Generator().manual_seed(0)
        obs = torch.rand((64,) + tuple(mod.observation_space.shape), generator=gen)
        onehot = torch.nn.functional.one_hot(torch.randint(0, 3, (64,), generator=gen), 3).float()
        with torch.no_grad():
            mod.inc_net[-1].weight.mul_(1e4)
            x0 = mod.incentive_preactivation(obs, onehot)[:, 1]
        assert x0.abs().min() > 20.0  # every node of the recipient saturated in float32
        w0 = {k: v.detach().clone() for k, v in mod.named_parameters() if k.startswith("inc_")}
        for _ in range(3):
            res = algo.train()
        assert res["learners"]["player_0"]["meta_grad_norm"] == 0.0
        with torch.no_grad():
            x1 = mod.incentive_preactivation(obs, onehot)[:, 1]
        w1 = {k: v.detach() for k, v in mod.named_parameters() if k.startswith("inc_")}
        if bound is None:
            assert all(torch.equal(w0[k], w1[k]) for k in w0)
        else:
            assert x1.abs().mean() < x0.abs().mean() - 1.0, (x0.abs().mean(), x1.abs().mean())
    finally:
        algo.stop()


def test_independent_pg_baseline_has_no_incentives(ray_session):
    from rllib_coopai.algorithms.lio import independent_pg_config

    algo = _small(independent_pg_config().environment("escape_room", env_config=ER21)).build_algo()
    try:
        mod = algo.get_module("player_0")
        assert not mod.gives_incentives and not hasattr(mod, "inc_net")
        res = algo.train()
        assert "incentives_given" not in res["learners"]["player_0"]
    finally:
        algo.stop()


@pytest.mark.parametrize("scope", ["own", "all_givers"])
def test_two_env_runners_two_learners(ray_session, scope):
    """num_env_runners=2, num_learners=2: whole episodes per learner, gradients all-reduced by hand,
    so both learners hold identical parameters after every update (policy and incentive head), with
    either meta-gradient scope."""

    def _world(learner):  # defined here so that Ray pickles it by value
        import torch.distributed as dist

        mod = learner.module["player_0"].unwrapped()
        size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        return size, {k: v.detach().clone() for k, v in mod.named_parameters()}

    cfg = (
        LIOConfig()
        .environment("escape_room", env_config={"n_agents": 3, "min_at_lever": 2})
        .env_runners(num_env_runners=2, num_cpus_per_env_runner=0.25)
        .learners(num_learners=2, num_cpus_per_learner=0.25)
        .debugging(seed=0)
        .training(episodes_per_iteration=4, policy_hiddens=[16], incentive_hiddens=[16], policy_lr=0.05,
                  schedule="one_rollout", meta_gradient_scope=scope)
    )
    algo = cfg.build_algo()
    try:
        for _ in range(2):
            res = algo.train()
        assert res["learners"]["theta_hat_mismatch"] == 0.0
        assert res["learners"]["player_2"]["meta_grad_norm"] > 0.0
        assert ("meta_grad_norm_other_heads" in res["learners"]["player_2"]) == (scope == "all_givers")
        # checkpoint state: one kept (theta, tau) per learner, each with its own shard of episodes
        kept = algo.get_state(components="lio_kept")["lio_kept"]
        assert sorted((k["rank"], k["world"]) for k in kept) == [(0, 2), (1, 2)]
        a0, a1 = (k["kept"]["data"]["player_0"]["actions"] for k in sorted(kept, key=lambda k: k["rank"]))
        assert a0.shape[0] == a1.shape[0] == 2  # 4 episodes split 2 + 2
        np.testing.assert_array_equal(kept[0]["kept"]["theta"]["player_1"]["pi_net.0.weight"],
                                      kept[1]["kept"]["theta"]["player_1"]["pi_net.0.weight"])
        algo.set_state({"lio_kept": kept[::-1]})  # every learner picks its own rank's entry
        again = algo.get_state(components="lio_kept")["lio_kept"]
        for k0 in kept:
            k1 = [k for k in again if k["rank"] == k0["rank"]][0]
            np.testing.assert_array_equal(k1["kept"]["data"]["player_0"]["obs"], k0["kept"]["data"]["player_0"]["obs"])
        out = [r.get() for r in algo.learner_group.foreach_learner(_world)]
        assert [size for size, _ in out] == [2, 2]
        for k, v in out[0][1].items():
            torch.testing.assert_close(out[1][1][k], v, msg=k)
        # the EnvRunners got the learners' weights
        runner_w = algo.env_runner_group.foreach_env_runner(
            lambda er: er.module["player_0"].get_state(), local_env_runner=False
        )
        for k, v in out[0][1].items():
            np.testing.assert_allclose(runner_w[0][k], v.numpy(), rtol=1e-6)
    finally:
        algo.stop()


@pytest.mark.parametrize("schedule", ["two_rollouts", "one_rollout"])
def test_checkpoint_restore(ray_session, tmp_path, schedule):
    algo = _small(LIOConfig().environment("escape_room", env_config=ER21), policy_lr=0.05, schedule=schedule).build_algo()
    try:
        for _ in range(2):
            algo.train()
        path = algo.save_to_path(str(tmp_path / "ckpt"))
        before = {a: algo.get_module(a).get_state() for a in ("player_0", "player_1")}
        kept = algo.learner_group._learner._kept
    finally:
        algo.stop()
    restored = LIO.from_checkpoint(path)
    try:
        assert restored.config.schedule == schedule
        for a, state in before.items():
            after = restored.get_module(a).get_state()
            for k, v in state.items():
                np.testing.assert_allclose(after[k], v, err_msg=f"{a}.{k}")
        if schedule == "one_rollout":  # the kept (theta, tau) came back with the checkpoint
            now, was = restored.learner_group._learner._kept, kept
            assert now is not None and now["n_eps"] == was["n_eps"]
            for part in ("theta", "committed", "data", "epsilon"):
                for j in was[part]:
                    items = was[part][j].items() if isinstance(was[part][j], dict) else [(None, was[part][j])]
                    for k, v in items:
                        got = now[part][j] if k is None else now[part][j][k]
                        np.testing.assert_array_equal(got.numpy(), v.numpy(), err_msg=f"{part}.{j}.{k}")
        res = restored.train()
        assert np.isfinite(res["learners"]["player_0"]["incentives_given"])
        if schedule == "one_rollout":  # the first iteration after the restore takes the incentive step
            assert res["learners"]["player_0"]["meta_grad_norm"] > 0.0
            assert res["learners"]["theta_hat_mismatch"] == 0.0
    finally:
        restored.stop()


@pytest.mark.parametrize("n_agents", [2, 3])
def test_meta_gradient_scope_all_givers_also_steps_the_other_heads(ray_session, n_agents):
    """``meta_gradient_scope="all_givers"`` (the reference code's ``minimize`` without ``var_list``):
    giver i's Adam also steps every other giver's head k along d Loss_i / d eta^k. Same seed, same
    data: after the first incentive step a head differs between the two scopes by exactly the
    other givers' first Adam steps, each +-lr per element (Adam's first step is lr * g / (|g| + eps)),
    so by 0, +-lr or +-2lr in ER(3,2). With N = 2 no other giver reaches a recipient: bitwise equal."""
    lr = 1e-2
    env_config = {"n_agents": n_agents, "min_at_lever": n_agents - 1}
    heads, n_params, res = {}, {}, {}
    for scope in ("own", "all_givers"):
        algo = _small(LIOConfig().environment("escape_room", env_config=env_config), policy_lr=0.05,
                      incentive_lr=lr, meta_gradient_scope=scope).build_algo()
        try:
            learner = algo.learner_group._learner
            n_params[scope] = sum(p.numel() for g in learner.get_optimizer("player_0", "incentive").param_groups
                                  for p in g["params"])
            res[scope] = algo.train()["learners"]
            assert res[scope]["player_0"]["meta_grad_norm"] > 0.0
            heads[scope] = {a: {k: v.detach().numpy().copy() for k, v in learner.module[a].named_parameters()
                                if k.startswith("inc_")} for a in learner.module.keys()}
        finally:
            algo.stop()
    own_size = n_params["own"]
    assert n_params["all_givers"] == (own_size * n_agents if n_agents >= 3 else own_size)
    for a in heads["own"]:
        for k, w_own in heads["own"][a].items():
            diff = heads["all_givers"][a][k] - w_own
            if n_agents == 2:
                np.testing.assert_array_equal(diff, 0.0)
                continue
            steps = np.abs(diff) / lr
            assert steps.max() <= 2.0 + 1e-4, (a, k, steps.max())
            # |g| >> Adam's eps almost everywhere: whole steps
            assert np.mean(np.abs(steps - np.round(steps)) < 1e-2) > 0.9, (a, k)
            # the other givers did move this head (inputs that are 0 in the whole batch get no gradient)
            assert np.mean(np.round(steps) >= 1) > 0.3, (a, k)
    if n_agents >= 3:
        assert max(float(np.abs(heads["all_givers"][a][k] - heads["own"][a][k]).max())
                   for a in heads["own"] for k in heads["own"][a]) > 2 * lr - 1e-4  # both others, same sign
        assert res["all_givers"]["player_0"]["meta_grad_norm_other_heads"] > 0.0
        assert "meta_grad_norm_other_heads" not in res["own"]["player_0"]
    # the giver's own part of the gradient does not depend on the scope
    assert res["own"]["player_0"]["meta_grad_norm"] == pytest.approx(res["all_givers"]["player_0"]["meta_grad_norm"])


def test_asymmetric_escape_room_lio_asym(ray_session):
    """LIO-asym: only player_0 has an incentive head; player_1 is plain PG and never pays."""
    algo = _small(
        LIOConfig().environment("escape_room", env_config={"asymmetric": True}), lio_agents=["player_0"]
    ).build_algo()
    try:
        assert algo.get_module("player_0").gives_incentives
        assert not algo.get_module("player_1").gives_incentives
        res = algo.train()
        assert "incentives_received_lever" in res["learners"]["player_1"]
        assert "incentives_given" not in res["learners"]["player_1"]
    finally:
        algo.stop()


@pytest.mark.parametrize("num_envs", [1, 4])
def test_escape_room_observation_holds_incentives_given(ray_session, num_envs):
    """LIO thesis App. B.4.1: the last N-1 entries of an ER agent's observation = incentives it gave each other
    agent so far in the episode (filled on the EnvRunner by LIOGivenIncentivesObservation), also
    on a vectorised EnvRunner whose episodes end at different steps (one batched forward per giver)."""
    cfg = _small(LIOConfig().environment("escape_room", env_config={"n_agents": 3, "min_at_lever": 2}))
    algo = cfg.env_runners(num_envs_per_env_runner=num_envs).build_algo()
    try:
        episodes = algo.env_runner.sample(num_episodes=6, explore=True)
        agents = ["player_0", "player_1", "player_2"]
        checked = 0
        for ep in episodes:
            obs = {a: torch.as_tensor(np.asarray(ep.agent_episodes[a].get_observations(), np.float32)) for a in agents}
            act = {a: torch.as_tensor(np.asarray(ep.agent_episodes[a].get_actions(), np.int64)) for a in agents}
            for i, a in enumerate(agents):
                mod = algo.env_runner.module[a]
                others = [b for b in agents if b != a]
                onehot = torch.cat([torch.nn.functional.one_hot(act[b], 3).float() for b in others], -1)
                with torch.no_grad():
                    paid = mod.incentives(obs[a][:-1], onehot)  # [T, N]
                cum = torch.cumsum(paid, 0)[:, [agents.index(b) for b in others]]
                torch.testing.assert_close(obs[a][1:, -2:], cum, rtol=1e-5, atol=1e-5)
                assert torch.all(obs[a][0, -2:] == 0)
                checked += 1
        assert len(episodes) >= 6 and checked == 3 * len(episodes) and any(len(ep) > 1 for ep in episodes)
        if num_envs > 1:
            assert len({len(ep) for ep in episodes}) > 1, "episodes of different lengths"
            assert all(ep.is_done for ep in episodes)
            for _ in range(2):  # and the learner trains on a vectorised EnvRunner's episodes
                res = algo.train()
            assert res["learners"]["theta_hat_mismatch"] == 0.0
            assert res["env_runners"]["num_episodes"] >= 4 and res["learners"]["player_0"]["meta_grad_norm"] > 0
    finally:
        algo.stop()


def test_actor_critic_lio_on_cleanup(ray_session):
    """policy_learner="ac" (eqs B.9-B.10) on Cleanup 7x7 (image observations, conv encoder)."""
    cfg = LIOConfig().environment("cleanup", env_config={"map_size": "7x7"}).env_runners(num_env_runners=0)
    cfg = cfg.debugging(seed=0).training(
        policy_learner="ac", episodes_per_iteration=2, policy_hiddens=[16], incentive_hiddens=[16],
        critic_hiddens=[16], cost_coeff=1e-4, separate_cost_optimizer=False, policy_lr=0.01,
    )
    algo = cfg.build_algo()
    try:
        for _ in range(2):
            res = algo.train()
        assert res["learners"]["theta_hat_mismatch"] == 0.0
        for aid in ("agent_0", "agent_1"):
            lr = res["learners"][aid]
            assert np.isfinite(lr["critic_loss"]) and lr["meta_grad_norm"] > 0
            assert "incentives_received_clean" in lr or "incentives_received_other" in lr
    finally:
        algo.stop()


@pytest.mark.parametrize("kw,match", [
    ({"giver_critic": "both"}, r"giver_critic.*\['total', 'extrinsic'\]"),
    ({"giver_critic": "extrinsic"}, r"giver_critic='extrinsic' needs policy_learner='ac'"),
])
def test_giver_critic_validation(kw, match):
    cfg = LIOConfig().environment("escape_room", env_config=ER21).training(**kw)
    with pytest.raises(ValueError, match=match):
        cfg.validate()


def test_extrinsic_giver_critic_leaves_the_other_weights_as_drawn():
    """giver_critic="extrinsic" adds a second critic (+ target) to the givers only, built after
    everything else: every other tensor is drawn exactly as with the default, so the recorded
    seeds of docs/results/lio reproduce; the new target starts equal to the new critic."""
    def build(**kw):
        cfg = LIOConfig().environment("cleanup", env_config={"map_size": "7x7"}).training(
            policy_learner="ac", weight_init="reference", lio_agents=["agent_1"], **kw)
        cfg.validate()
        specs = cfg.rl_module_spec.rl_module_specs
        torch.manual_seed(3)
        return {a: specs[a].build() for a in ("agent_0", "agent_1")}

    base, ext = build(), build(giver_critic="extrinsic")
    assert not base["agent_1"].extrinsic_critic and not ext["agent_0"].extrinsic_critic  # agent_0 gives nothing
    assert ext["agent_1"].extrinsic_critic
    for a in ("agent_0", "agent_1"):
        sd_b, sd_e = base[a].state_dict(), ext[a].state_dict()
        extra = sorted(k for k in sd_e if k not in sd_b)
        assert all(k.startswith("ext_vf_") for k in extra) and (bool(extra) == (a == "agent_1"))
        for k, v in sd_b.items():
            assert torch.equal(v, sd_e[k]), k
    m = ext["agent_1"]
    for p, tp in zip(list(m.ext_vf_enc.parameters()) + list(m.ext_vf_net.parameters()), m.ext_vf_target.parameters()):
        assert torch.equal(p, tp) and not tp.requires_grad
    assert not set(m.extrinsic_critic_param_names()) & set(m.critic_param_names() + m.policy_param_names()
                                                             + m.incentive_param_names())


def test_extrinsic_giver_critic_removes_the_received_incentive_bias(ray_session):
    """Actor-critic LIO on Cleanup 7x7 before any apple exists (first episodes: extrinsic reward 0,
    every head pays ~R_max/2 per step). With the reference code's critic (fit to extrinsic +
    received rewards) the giver's extrinsic TD error of eq. 5.10 has a mean of about minus the
    incentives received per step; with giver_critic="extrinsic" it is near 0, and the second
    critic tracks the extrinsic reward while the first still tracks the total."""
    means = {}
    for mode in ("total", "extrinsic"):
        cfg = LIOConfig().environment("cleanup", env_config={"map_size": "7x7"}).env_runners(num_env_runners=0)
        cfg = cfg.debugging(seed=0).training(
            policy_learner="ac", episodes_per_iteration=2, policy_hiddens=[16], incentive_hiddens=[16],
            critic_hiddens=[16], cost_coeff=1e-4, separate_cost_optimizer=False, policy_lr=1e-3,
            critic_lr=3e-2, incentive_lr=1e-4, giver_critic=mode, gamma=0.0,
        )
        algo = cfg.build_algo()
        try:
            for _ in range(12):
                res = algo.train()
            lr = res["learners"]
            assert lr["theta_hat_mismatch"] == 0.0
            means[mode] = {a: lr[a]["giver_td_mean"] for a in ("agent_0", "agent_1")}
            received = {a: lr[a]["incentives_received"] / 50.0 for a in ("agent_0", "agent_1")}  # per step
            if mode == "extrinsic":
                assert "extrinsic_critic_loss" in lr["agent_0"]
                for a in ("agent_0", "agent_1"):
                    assert abs(means[mode][a]) < 0.25 * received[a], (means[mode][a], received[a])
            else:
                assert "extrinsic_critic_loss" not in lr["agent_0"]
                for a in ("agent_0", "agent_1"):
                    assert means[mode][a] < -0.5 * received[a], (means[mode][a], received[a])
        finally:
            algo.stop()
