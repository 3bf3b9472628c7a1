"""Third-party packages register environments through the ``rllib_coopai.plugins`` entry points.

A real (tiny) distribution is put on ``sys.path``: its ``*.dist-info/entry_points.txt`` names a
function that registers the test trust game, exactly as an installed package would.
"""
import sys
import warnings

import pytest

import rllib_coopai
from rllib_coopai import envs


def _write_plugin(root, dist, module, body, entry):
    (root / module).mkdir()
    (root / module / "__init__.py").write_text(body)
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{rllib_coopai.PLUGIN_GROUP}]\n{entry}\n")


def test_entry_point_plugin_registers_an_env(tmp_path, monkeypatch):
    _write_plugin(tmp_path, "coop_trust_plugin", "coop_trust_plugin",
                  "def register():\n"
                  "    import rllib_coopai\n"
                  "    from tests.user_envs.trust_game import TrustGame\n"
                  "    rllib_coopai.envs.register('plugin_trust_game', TrustGame, 'from a plugin')\n",
                  "trust = coop_trust_plugin:register")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "plugin_trust_game" not in envs.names()
    loaded = rllib_coopai.load_plugins(strict=True)
    assert loaded["trust"] is None
    assert "plugin_trust_game" in envs.names()
    env = envs.make("plugin_trust_game")
    obs, _ = env.reset(seed=0)
    assert set(obs) == set(env.possible_agents)
    # The name reaches Ray's registry too (what env runners in other processes read).
    from ray.tune.registry import ENV_CREATOR, _global_registry

    assert _global_registry.contains(ENV_CREATOR, "plugin_trust_game")
    envs.registry._REGISTRY.pop("plugin_trust_game")  # other tests iterate envs.names()
    rllib_coopai._loaded_plugins.pop("trust", None)


def test_broken_plugin_warns_and_names_itself(tmp_path, monkeypatch):
    _write_plugin(tmp_path, "coop_broken_plugin", "coop_broken_plugin",
                  "def register():\n    raise RuntimeError('no license file')\n",
                  "broken = coop_broken_plugin:register")
    monkeypatch.syspath_prepend(str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rllib_coopai.load_plugins()
    assert any("broken" in str(w.message) and "no license file" in str(w.message) for w in caught)
    rllib_coopai._loaded_plugins.pop("broken", None)
    with pytest.raises(RuntimeError, match="no license file"):
        rllib_coopai.load_plugins(strict=True)
    rllib_coopai._loaded_plugins.pop("broken", None)
