"""Scripted cleaner: agent_0's action is always 'clean' (5); does AC agent_1 learn to harvest?"""
import sys, time, json, torch, numpy as np, ray
torch.set_num_threads(1)
import rllib_coopai
from ray.tune.registry import register_env
from rllib_coopai.envs import make
from rllib_coopai.wrappers.rllib_env import RLlibParallelEnv
from rllib_coopai.algorithms.lio import LIOConfig

def creator(cfg):
    par = make("cleanup", **cfg)
    w = RLlibParallelEnv(par)
    orig = w.step
    def step(actions):
        actions = dict(actions); actions[list(actions)[0] if "agent_0" not in actions else "agent_0"] = 5
        return orig(actions)
    w.step = step
    return w
register_env("cleanup_s0", creator)
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
runs = json.loads(sys.argv[1]); minutes = float(sys.argv[2])
base = dict(incentives=False, policy_learner="ac", policy_lr=0.001, critic_lr=0.001, entropy_coeff=0.1,
            epsilon_end=0.05, epsilon_div=100, episodes_per_iteration=4, policy_hiddens=[64, 64])
for ov in runs:
    kw = {**base, **ov}
    cfg = LIOConfig().environment("cleanup_s0", env_config={"map_size": "7x7"}).env_runners(num_env_runners=0).debugging(seed=0).training(**kw)
    algo = cfg.build_algo(); t0 = time.time(); sw = []; i = 0
    while time.time() - t0 < 60 * minutes:
        res = algo.train(); i += 1
        ar = res["env_runners"].get("agent_returns", {})
        sw.append(ar.get("agent_1", float("nan")))
        if i % 25 == 0:
            print(ov, i, res["env_runners"].get("num_env_steps_sampled_lifetime"), round(time.time()-t0), "agent_1 ret(last25)", round(float(np.mean(sw[-25:])),2), flush=True)
    algo.stop()
