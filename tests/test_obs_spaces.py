"""Every common observation space, through the one shared preprocessing, with every algorithm."""
import numpy as np
import pytest
import torch
from gymnasium import spaces

from rllib_coopai.algorithms import get_config_class
from rllib_coopai.modules.encoders import (
    EncodeObservations,
    ObsEncoder,
    encode_observation,
    module_observation_space,
)

import obs_space_envs

ALGOS = ("IPPO", "DCL", "LIO", "IncentiveDesigner", "AMD")


def _small(algo, env, env_config):
    cfg = (get_config_class(algo)().environment(env, env_config=env_config)
           .env_runners(num_env_runners=0).debugging(seed=0))
    training = {
        "IPPO": dict(train_batch_size_per_learner=32, minibatch_size=16, num_epochs=1),
        "DCL": dict(train_batch_size_per_learner=32),
        "LIO": dict(episodes_per_iteration=2, policy_hiddens=[8], incentive_hiddens=[8]),
        "IncentiveDesigner": dict(episodes_per_iteration=2, incentive_output="per_agent"),
        "AMD": dict(episodes_per_iteration=2, gradient="pg"),
    }[algo]
    return cfg.training(**training)


def test_encoding_equals_hand_computed_one_hot_and_flatten():
    dict_space = spaces.Dict({"last": spaces.MultiDiscrete([3, 2]), "t": spaces.Box(0, 1, (2, 1), np.float32)})
    cases = [
        (spaces.Discrete(4), 2, [0, 0, 1, 0]),
        (spaces.Discrete(3, start=-1), -1, [1, 0, 0]),
        (spaces.MultiDiscrete([2, 3], start=[-1, -1]), np.array([0, -1]), [0, 1, 1, 0, 0]),
        # Dict: keys in order ("last", "t"); MultiDiscrete one-hots, Box raveled
        (dict_space, {"t": np.array([[0.25], [0.5]], np.float32), "last": np.array([2, 0])},
         [0, 0, 1, 1, 0, 0.25, 0.5]),
        (spaces.Tuple((spaces.Discrete(2), spaces.Box(0, 1, (2, 2), np.float32))),
         (1, np.array([[0.1, 0.2], [0.3, 0.4]], np.float32)), [0, 1, 0.1, 0.2, 0.3, 0.4]),
        (spaces.Box(0, 1, (2, 2), np.float32), np.array([[0.1, 0.2], [0.3, 0.4]], np.float32),
         [0.1, 0.2, 0.3, 0.4]),
    ]
    for space, obs, expected in cases:
        enc = encode_observation(space, obs)
        assert enc.dtype == np.float32 and enc.tolist() == pytest.approx(expected), space
        assert module_observation_space(space).shape == (len(expected),)
        assert module_observation_space(space).contains(enc)
    # vectors and images reach the module unchanged
    for space in (spaces.Box(0, 1, (5,), np.float32), spaces.Box(0, 1, (3, 3, 4), np.float32)):
        assert module_observation_space(space) is space
        x = space.sample()
        assert encode_observation(space, x) is x


def test_obs_encoder_vectors_pass_and_images_get_the_conv():
    vec = ObsEncoder((7,))
    assert vec.out_dim == 7 and not list(vec.parameters())
    x = torch.arange(14.0).reshape(2, 7)
    assert torch.equal(vec(x), x)
    img = ObsEncoder((3, 3, 4))  # default: one 3x3 conv, 6 filters, stride 1, "same" padding
    conv = img.conv[0]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride) == (4, 6, (3, 3), (1, 1))
    assert img.out_dim == 6 * 3 * 3
    obs = torch.rand(5, 3, 3, 4)
    expected = torch.relu(conv(obs.permute(0, 3, 1, 2))).reshape(5, -1)
    assert torch.allclose(img(obs), expected)
    assert torch.allclose(img(obs.reshape(5, -1)), expected)  # flattened images (DCL's joint columns)


def test_connector_writes_encoded_observations_into_the_episode():
    from ray.rllib.env.multi_agent_episode import MultiAgentEpisode

    raw = spaces.Dict({"a0": spaces.Discrete(3), "a1": spaces.Box(0, 1, (2,), np.float32)})
    piece = EncodeObservations(raw, spaces.Dict({"a0": spaces.Discrete(2), "a1": spaces.Discrete(2)}))
    assert piece.observation_space["a0"].shape == (3,) and piece.observation_space["a1"] is raw["a1"]
    ep = MultiAgentEpisode(observations=[{"a0": 1, "a1": np.array([0.5, 0.25], np.float32)}],
                           observation_space=raw, action_space=piece.input_action_space)
    piece(rl_module=None, batch={}, episodes=[ep])
    piece(rl_module=None, batch={}, episodes=[ep])  # a second call does not encode twice
    assert ep.agent_episodes["a0"].get_observations(-1).tolist() == [0.0, 1.0, 0.0]
    assert ep.agent_episodes["a1"].get_observations(-1).tolist() == [0.5, 0.25]


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("kind", obs_space_envs.KINDS)
def test_every_algorithm_trains_on_every_observation_kind(ray_session, algo, kind):
    env = obs_space_envs.register()
    algo_ = _small(algo, env, {"obs": kind, "horizon": 4}).build_algo()
    try:
        for _ in range(2):
            result = algo_.train()
        assert result["env_runners"]["num_episodes_lifetime"] > 0
        assert np.isfinite(result["env_runners"]["social_welfare"])
    finally:
        algo_.stop()


@pytest.mark.parametrize("algo", ["IPPO", "DCL", "LIO", "IncentiveDesigner", "AMD"])
def test_agents_with_different_observation_and_action_spaces(ray_session, algo):
    env = obs_space_envs.register()
    algo_ = _small(algo, env, {"obs": ["discrete", "image"], "actions": [2, 3], "horizon": 4}).build_algo()
    try:
        result = algo_.train()
        assert np.isfinite(result["env_runners"]["social_welfare"])
    finally:
        algo_.stop()


def test_shared_policy_needs_equal_spaces_and_says_which_key():
    env = obs_space_envs.register()
    cfg = get_config_class("IPPO")().environment(env, env_config={"obs": ["discrete", "image"]})
    with pytest.raises(ValueError, match=r"share_policy=True.*share_policy=False"):
        cfg.training(share_policy=True).validate()


def test_dcl_trains_on_coin_game_images(ray_session):
    """Image observations go through the conv encoder (this crashed with a shape mismatch before)."""
    algo = _small("DCL", "coin_game", {"horizon": 10}).build_algo()
    try:
        nets = algo.get_module("player_0").slot()
        assert isinstance(nets.encoders["proposal"].conv[0], torch.nn.Conv2d)
        for _ in range(2):
            result = algo.train()
        assert result["env_runners"]["num_episodes_lifetime"] > 0
        assert "critic_loss" in result["learners"]["player_0"]
    finally:
        algo.stop()


def test_ippo_trains_on_discrete_observations(ray_session):
    """RLlib's catalog has no encoder for Discrete observations; the shared one-hot gives it a vector."""
    env = obs_space_envs.register()
    algo = _small("IPPO", env, {"obs": "discrete", "horizon": 4}).build_algo()
    try:
        assert algo.get_module("a0").observation_space.shape == (5,)
        for _ in range(2):
            result = algo.train()
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] >= 64
    finally:
        algo.stop()


def test_unsupported_observation_space_fails_at_build_with_the_supported_kinds():
    from rllib_coopai.modules.encoders import check_observation_space

    with pytest.raises(ValueError, match=r"agent 'x'.*Supported: Box.*Discrete"):
        check_observation_space(spaces.Dict({"s": spaces.Text(5)}), "x")
