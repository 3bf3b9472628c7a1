"""Designer seat: a PettingZoo-level wrapper that adds a central incentive designer to any env.

Used by ``IncentiveDesigner`` (MetaGrad / dual-RL, ID thesis ch. 6) and ``AMD`` (AMD thesis §4.1-4.2).

One environment step of the wrapped game takes two wrapper steps (turn-based, as in AMD thesis §4.1.1:
"the planner's action is chosen *after* it observes the players' actions in the same step"):

1. *act*: every live agent of the inner env acts; the inner env is stepped at once, but its rewards
   are held back. Only the designer gets an observation: the state before the step plus the joint
   action (``designer_obs = [state(s_t), onehot(a_1), ..., onehot(a_N)]``; in Escape Room the
   ``3N`` one-hot positions plus the ``3N`` one-hot joint action, ID thesis App. C.2.2).
2. *pay*: the designer acts (its action is the incentive vector ``u``) and every agent receives
   ``r_i = r_i^env + pay_i(u, a)``; the agents get their next observations.

``state(s_t)`` is ``env.state()`` where the env defines it, else the concatenation of all agents'
observations. RLlib counts both wrapper steps as env steps, so ``num_env_steps_sampled`` is twice
the number of inner-env steps (the benchmarks report inner-env steps).

Incentive output (``output``):

* ``"per_action"``: one incentive per action index, paid to whichever agent took that action
  (MetaGrad in ER/Cleanup, ID thesis §6.3.2: ``pay_i = u[a_i]``) when every agent has the same
  number of actions; when the counts differ, one incentive per agent-action (``K = sum_i n_i``,
  agent ``i``'s block at offset ``o_i = n_1 + ... + n_{i-1}``: ``pay_i = u[o_i + a_i]``).
* ``"per_agent"``: one incentive per agent (AMD, AI-Economist-style planner: ``pay_i = u[i]``).
* ``"tax_brackets"``: the designer sets an economy's marginal tax rates (ID thesis §6.3.2, GTB): the
  inner env must have ``set_tax_rates``, ``n_brackets``, ``tax_period`` and ``t``
  (``gather_trade_build``). The output is ``n_brackets`` rates in ``[low, high]`` within
  ``[0, 1]``. The seat calls ``env.set_tax_rates(u)`` in the *pay* step of the first env step of
  every tax period (steps ``0, P, 2P, ...``; the AI Economist's planner also acts at the first step
  of a period, simultaneously with the agents, who see the rates from the next observation on);
  the rates hold until that period's end, where the env collects and redistributes the tax. The
  designer's actions at other steps have no effect. No payments: ``pay_i = 0``, the taxes act
  inside the env's rewards; each agent's info gets ``tax_rates_set`` (True at those steps).

Designer action (``action``):

* ``"continuous"``: ``Box(low, high, (K,))``; the wrapper clips to the bounds (ID thesis §6.3.2:
  bounded outputs, e.g. ``(0, 2)`` in ER; AMD: ``(-c, c)``).
* ``"menu"``: ``Discrete(len(menu) ** K)``, an assignment of one menu value to each of the K
  outputs (dual-RL (d), ID thesis §6.3.2; menu ``{0, 1.1, 2.0}`` by default).
* ``"factored"``: ``MultiDiscrete([len(menu)] * K)``, one menu index per output (the GTB dual-RL
  planner: 7 sub-spaces x 21 rates ``{0, 0.05, ..., 1}``, ID thesis §6.3.2).

Cap annealing (``cap_start``, ``cap_anneal_episodes``): every output is clipped to at most
``cap = cap_start + (high - cap_start) * min(1, episodes / cap_anneal_episodes)``, where
``episodes`` counts the resets of this seat (one env copy; with several EnvRunners each copy
anneals on its own count). ID thesis §6.3.2, App. C.2.1: the dual-RL planner's max rate rises 0.1 -> 1.0 over
the first 8k episodes. ``cap_start=None`` (default) disables it.

``revenue_neutral=True`` subtracts the mean payment (AMD thesis §4.2, revenue-neutral variant). The step's social
objective (``objective``):

* ``"sum"``: utilitarian ``sum_i r_i`` of the env rewards;
* ``"productivity_x_equality"`` (GTB, ID thesis §6.3.1: ``prod_t * eq_t``): where every acting
  agent's info reports ``productivity`` and ``equality`` (``gather_trade_build``: total coin and
  1 - normalised Gini of coin), exactly ``productivity * equality`` of the env; otherwise (an env
  without those numbers) the stand-in ``sum_i r_i * equality(r)`` over the step's env rewards;
* a callable ``f(rewards_array) -> float``.

The designer's reward per step is ``objective_scale * objective`` (``objective_form="level"``;
MetaGrad in GTB uses ``r_scalar = 1e-2``) or ``objective_scale * (objective_t - objective_{t-1})``
(``"difference"``: the AI Economist planner's marginal reward, used by dual-RL in GTB; the
objective before the first step comes from the reset infos where they report it, else 0), minus
the step's total payment when ``subtract_payments=True`` (dual-RL (c) and the test-time accounting
of ID thesis §6.3.2). The ``social_objective`` info is always the unscaled level.

Info contract: each agent's info gets ``extrinsic_reward`` (its env reward) and ``totals``
``{"designer_payment": pay_i, "designer_payment/<action type>": pay_i}`` (action type = the env's
``action_type`` info or the action index, prefixed ``<agent>.`` when the agents' action counts
differ, since then each agent's actions have their own incentives; not with ``tax_brackets``,
which pays nothing) and
``social_objective`` (the step's objective, the same
number in every agent's info: the designer has no observation in the paying step, so RLlib would
drop an info given to it there). The designer's info carries ``social_objective``,
``designer_payment_total`` and ``incentives``.
"""
from __future__ import annotations

import itertools
from typing import Callable, Optional, Sequence, Union

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rllib_coopai.envs.base import check_bool, check_choice, check_float, check_int
from rllib_coopai.metrics.welfare import equality
from rllib_coopai.wrappers.base import ParallelWrapperBase

DESIGNER_ID = "designer"
OUTPUTS = ("per_action", "per_agent", "tax_brackets")
ACTIONS = ("continuous", "menu", "factored")
OBJECTIVES = ("sum", "productivity_x_equality")
OBJECTIVE_FORMS = ("level", "difference")


def social_objective(rewards: np.ndarray, objective: Union[str, Callable] = "sum",
                     infos: Optional[Sequence[dict]] = None) -> float:
    """The designer's objective of one step (ID thesis §6.3.2, R^ID).

    ``"productivity_x_equality"`` uses the env's own ``productivity`` and ``equality`` where every
    info in ``infos`` reports them (GTB, ID thesis §6.3.1); otherwise ``sum(r) * equality(r)``.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    if callable(objective):
        return float(objective(rewards))
    if objective == "sum":
        return float(rewards.sum())
    env_pe = env_productivity_x_equality(infos)
    if env_pe is not None:
        return env_pe
    return float(rewards.sum() * equality(rewards))


def env_productivity_x_equality(infos: Optional[Sequence[dict]]) -> Optional[float]:
    """``productivity * equality`` as reported by the env (the first info), or None."""
    infos = [i for i in (infos or []) if i is not None]
    if infos and all("productivity" in i and "equality" in i for i in infos):
        return float(infos[0]["productivity"]) * float(infos[0]["equality"])
    return None


def per_action_offsets(action_sizes: Optional[Sequence[int]]) -> Optional[np.ndarray]:
    """Start of each agent's block of ``per_action`` outputs, or None when all agents share one
    block (equal action counts)."""
    if action_sizes is None or len(set(int(n) for n in action_sizes)) <= 1:
        return None
    return np.concatenate([[0], np.cumsum(action_sizes)[:-1]]).astype(np.int64)


def payments(u, actions, output: str, revenue_neutral: bool = False,
             action_sizes: Optional[Sequence[int]] = None):
    """Payments to each agent from the designer output ``u`` and the executed actions.

    Works on numpy arrays and torch tensors with leading batch dims:
    ``u``: ``(..., K)``; ``actions``: ``(..., N)`` integer. Returns ``(..., N)``.
    ``action_sizes`` (each agent's action count): with ``per_action`` and unequal counts, ``u``
    holds one block per agent (``K = sum(action_sizes)``) and agent ``i`` is paid
    ``u[offset_i + a_i]``.
    """
    offsets = per_action_offsets(action_sizes) if output == "per_action" else None
    if offsets is not None:
        if u.shape[-1] != int(sum(action_sizes)):
            raise ValueError(f"per_action incentives for action counts {list(action_sizes)} need "
                             f"{int(sum(action_sizes))} outputs, got {u.shape[-1]}")
        try:
            import torch

            if isinstance(actions, torch.Tensor):
                actions = actions.long() + torch.as_tensor(offsets, device=actions.device)
            else:
                actions = np.asarray(actions, np.int64) + offsets
        except ImportError:  # pragma: no cover - torch is a hard dependency of the package
            actions = np.asarray(actions, np.int64) + offsets
    if output == "tax_brackets":  # taxes act inside the env's rewards: no payments
        if isinstance(u, np.ndarray):
            return np.zeros(np.shape(actions), np.float64)
        return torch_zeros_like(actions, u)
    if output == "per_action":
        try:
            import torch

            if isinstance(u, torch.Tensor):
                pay = torch.gather(u, -1, actions.long())
            else:
                pay = np.take_along_axis(np.asarray(u), np.asarray(actions, np.int64), -1)
        except ImportError:  # pragma: no cover - torch is a hard dependency of the package
            pay = np.take_along_axis(np.asarray(u), np.asarray(actions, np.int64), -1)
    else:
        pay = u
    if revenue_neutral:  # AMD thesis §4.2, revenue-neutral variant: r^p_i <- r^p_i - mean_j r^p_j
        if isinstance(pay, np.ndarray):
            pay = pay - pay.mean(-1, keepdims=True)
        else:
            pay = pay - pay.mean(-1, keepdim=True)
    return pay


def torch_zeros_like(actions, u):
    import torch

    return torch.zeros(actions.shape, dtype=u.dtype, device=u.device)


def joint_action_onehot(actions: Sequence[int], sizes: Sequence[int]) -> np.ndarray:
    """Concatenated one-hot encoding of a joint action."""
    out = np.zeros(int(sum(sizes)), np.float32)
    offset = 0
    for a, n in zip(actions, sizes):
        out[offset + int(a)] = 1.0
        offset += int(n)
    return out


class DesignerSeatWrapper(ParallelWrapperBase):
    """Add a designer agent (id ``designer_id``) to a PettingZoo ``ParallelEnv``.

    Args:
        env: the inner PettingZoo ParallelEnv (all agents with ``Discrete`` actions).
        output: ``"per_action"``, ``"per_agent"`` or ``"tax_brackets"`` (see module docstring).
        action: ``"continuous"`` (bounded Box), ``"menu"`` (Discrete over menu assignments) or
            ``"factored"`` (MultiDiscrete, one menu index per output).
        low, high: bounds of each incentive (``low < high``; within [0, 1] for tax rates).
        menu: the incentive values of the ``"menu"`` / ``"factored"`` action.
        revenue_neutral: payments minus their mean (sum of payments = 0).
        objective: ``"sum"``, ``"productivity_x_equality"`` or a callable of the rewards array.
        objective_form: ``"level"`` or ``"difference"`` (marginal objective per step).
        objective_scale: factor on the designer's objective reward (> 0).
        subtract_payments: the designer's reward is the objective minus the total payment.
        cap_start, cap_anneal_episodes: linear max-output cap annealing (None = off).
        designer_id: agent id of the designer seat.
    """

    metadata = {"render_modes": ["ansi"], "name": "designer_seat", "is_parallelizable": True}

    def __init__(
        self,
        env: ParallelEnv,
        output: str = "per_action",
        action: str = "continuous",
        low: float = 0.0,
        high: float = 2.0,
        menu: Sequence[float] = (0.0, 1.1, 2.0),
        revenue_neutral: bool = False,
        objective: Union[str, Callable] = "sum",
        subtract_payments: bool = True,
        objective_form: str = "level",
        objective_scale: float = 1.0,
        cap_start: Optional[float] = None,
        cap_anneal_episodes: int = 8000,
        designer_id: str = DESIGNER_ID,
    ):
        self.env = env
        self.output = check_choice("output", output, OUTPUTS)
        self.action = check_choice("action", action, ACTIONS)
        self.low = check_float("low", low)
        self.high = check_float("high", high)
        if not self.high > self.low:
            raise ValueError(f"high must be > low, got low={low}, high={high}")
        self.revenue_neutral = check_bool("revenue_neutral", revenue_neutral)
        self.subtract_payments = check_bool("subtract_payments", subtract_payments)
        if not callable(objective):
            check_choice("objective", objective, OBJECTIVES)
        self.objective = objective
        self.objective_form = check_choice("objective_form", objective_form, OBJECTIVE_FORMS)
        self.objective_scale = check_float("objective_scale", objective_scale, 0.0, None,
                                           low_open=True)
        self.cap_start = None if cap_start is None else check_float("cap_start", cap_start)
        self.cap_anneal_episodes = check_int("cap_anneal_episodes", cap_anneal_episodes, 1, None)
        self._episodes = -1
        self._last_objective = 0.0
        self.menu = np.asarray([check_float("menu value", m) for m in menu], np.float64)
        if self.menu.size < 1:
            raise ValueError("menu must hold at least one incentive value")
        self.designer_id = designer_id
        self.env_agents = list(env.possible_agents)
        if designer_id in self.env_agents:
            raise ValueError(f"designer_id {designer_id!r} clashes with an agent id of the env")
        self.possible_agents = self.env_agents + [designer_id]
        self.n = len(self.env_agents)
        self.action_sizes = []
        for a in self.env_agents:
            sp = env.action_space(a)
            if not isinstance(sp, spaces.Discrete):
                raise ValueError(
                    f"the designer seat needs Discrete agent actions; {a!r} has {sp}"
                )
            self.action_sizes.append(int(sp.n))
        if self.output == "tax_brackets":
            missing = [k for k in ("set_tax_rates", "n_brackets", "tax_period")
                       if not hasattr(env, k)]
            if missing:
                raise ValueError(
                    f"output='tax_brackets' (IncentiveDesigner: incentive_output) needs an "
                    f"economy env with {missing} "
                    "(e.g. 'gather_trade_build')")
            if self.low < 0.0 or self.high > 1.0:
                raise ValueError(f"tax rates need 0 <= low < high <= 1, got low={low}, high={high}")
        self.action_offsets = per_action_offsets(self.action_sizes)
        per_action_k = (self.action_sizes[0] if self.action_offsets is None
                        else int(sum(self.action_sizes)))
        self.n_outputs = {"per_action": per_action_k, "per_agent": self.n,
                          "tax_brackets": int(getattr(env, "n_brackets", 0))}[self.output]
        self._has_state = callable(getattr(env, "state", None)) and _state_ok(env)
        self.state_dim = int(self._state_now_shape(env))
        d_obs = self.state_dim + int(sum(self.action_sizes))
        self.designer_obs_space = spaces.Box(-np.inf, np.inf, (d_obs,), np.float32)
        if self.action == "continuous":
            self.designer_action_space = spaces.Box(
                np.float32(self.low), np.float32(self.high), (self.n_outputs,), np.float32
            )
        elif self.action == "factored":
            self.designer_action_space = spaces.MultiDiscrete([len(self.menu)] * self.n_outputs)
        else:
            self.designer_action_space = spaces.Discrete(len(self.menu) ** self.n_outputs)
            self._menu_table = np.array(
                list(itertools.product(self.menu, repeat=self.n_outputs)), np.float64
            )
        self.observation_spaces = {a: env.observation_space(a) for a in self.env_agents}
        self.observation_spaces[designer_id] = self.designer_obs_space
        self.action_spaces = {a: env.action_space(a) for a in self.env_agents}
        self.action_spaces[designer_id] = self.designer_action_space
        self.render_mode = getattr(env, "render_mode", None)
        self.agents = []
        self._pending = None
        self._state = None
        self._obs = None

    # ------------------------------------------------------------------------------------
    def _state_now_shape(self, env) -> int:
        if self._has_state:
            return int(np.prod(env.state_space.shape)) if hasattr(env, "state_space") else 0
        # no state(): the agents' observations, flattened as gymnasium's spaces.flatten does
        # (one-hot for Discrete / MultiDiscrete, Dict / Tuple parts concatenated)
        return int(sum(spaces.flatdim(env.observation_space(a)) for a in self.env_agents))

    def _state_vec(self) -> np.ndarray:
        if self._has_state:
            return np.asarray(self.env.state(), np.float32).ravel()
        parts = []
        for a in self.env_agents:
            space = self.observation_space(a)
            parts.append(np.asarray(spaces.flatten(space, self._obs[a]), np.float32) if a in self._obs
                         else np.zeros(spaces.flatdim(space), np.float32))
        return np.concatenate(parts)

    def incentive_vector(self, designer_action) -> np.ndarray:
        """The designer's action as the incentive vector ``u`` (length K)."""
        if self.action == "menu":
            u = self._menu_table[int(designer_action)]
        elif self.action == "factored":
            u = self.menu[np.asarray(designer_action, np.int64).ravel()]
        else:
            u = np.clip(np.asarray(designer_action, np.float64).ravel(), self.low, self.high)
        cap = self.current_cap()
        return u if cap is None else np.minimum(u, cap)

    def current_cap(self) -> Optional[float]:
        """The annealed maximum output (None without annealing)."""
        if self.cap_start is None:
            return None
        frac = min(1.0, max(self._episodes, 0) / self.cap_anneal_episodes)
        return self.cap_start + (self.high - self.cap_start) * frac

    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self.designer_action_space.seed(seed + 977)
        self._obs = dict(obs)
        self._pending = None
        self._episodes += 1
        start = env_productivity_x_equality(
            [infos.get(a) for a in self.env.agents] if isinstance(infos, dict) else None)
        self._last_objective = 0.0 if start is None else start
        self.agents = list(self.env.agents)
        return obs, infos

    def step(self, actions):
        if self._pending is None:
            return self._act(actions)
        return self._pay(actions)

    def _act(self, actions):
        acting = list(self.env.agents)
        state = self._state_vec()
        joint = [int(actions[a]) if a in actions else 0 for a in self.env_agents]
        out = self.env.step({a: actions[a] for a in acting})
        self._pending = (acting, joint, out)
        d_obs = np.concatenate([state, joint_action_onehot(joint, self.action_sizes)])
        self.agents = [self.designer_id]
        did = self.designer_id
        return {did: d_obs.astype(np.float32)}, {}, {did: False}, {did: False}, {did: {}}

    def _pay(self, actions):
        acting, joint, (obs, rew, term, trunc, infos) = self._pending
        self._pending = None
        u = self.incentive_vector(actions[self.designer_id])
        joint_arr = np.asarray(joint, np.int64)
        pay = np.asarray(payments(u, joint_arr, self.output, self.revenue_neutral,
                                  self.action_sizes), np.float64)
        env_r = np.array([float(rew.get(a, 0.0)) for a in self.env_agents])
        objective = social_objective(env_r[[self.env_agents.index(a) for a in acting]],
                                     self.objective, [infos.get(a) for a in acting])
        rates_set = False
        if self.output == "tax_brackets" and (self.env.t - 1) % self.env.tax_period == 0:
            self.env.set_tax_rates(u)  # first step of a tax period: the designer sets the rates
            rates_set = True
        rewards, new_infos = {}, {}
        for i, a in enumerate(self.env_agents):
            if a not in acting:
                continue
            info = dict(infos.get(a, {}))
            info["extrinsic_reward"] = float(env_r[i])
            if self.output != "tax_brackets":  # taxes are no payments (they act in the env)
                totals = dict(info.get("totals", {}))
                kind = info.get("action_type", joint[i])
                if self.action_offsets is not None and self.output == "per_action":
                    kind = f"{a}.{kind}"  # each agent's actions have their own incentives
                totals["designer_payment"] = totals.get("designer_payment", 0.0) + float(pay[i])
                totals[f"designer_payment/{kind}"] = float(pay[i])
                info["totals"] = totals
            info["social_objective"] = objective  # the step's objective, same in every agent's info
            if self.output == "tax_brackets":
                info["tax_rates_set"] = rates_set
            new_infos[a] = info
            rewards[a] = float(env_r[i] + pay[i])
        total_pay = float(pay.sum())
        did = self.designer_id
        signal = objective - self._last_objective if self.objective_form == "difference" \
            else objective
        self._last_objective = objective
        rewards[did] = self.objective_scale * signal - (total_pay if self.subtract_payments else 0.0)
        new_infos[did] = {"social_objective": objective, "designer_payment_total": total_pay,
                          "incentives": u.tolist()}
        self._obs.update(obs)
        self.agents = list(self.env.agents)
        done = not self.agents
        out_obs = dict(obs)
        terms = {a: bool(term.get(a, False)) for a in acting}
        truncs = {a: bool(trunc.get(a, False)) for a in acting}
        if done:
            out_obs[did] = np.zeros(self.designer_obs_space.shape, np.float32)
            terms[did] = all(terms.values()) if terms else True
            truncs[did] = not terms[did]
        else:
            terms[did] = False
            truncs[did] = False
        return out_obs, rewards, terms, truncs, new_infos

    def state(self):
        return self._state_vec()



def _state_ok(env) -> bool:
    try:
        return hasattr(env, "state_space")
    except Exception:  # noqa: BLE001
        return False


DESIGNER_KEYS = ("output", "action", "low", "high", "menu", "revenue_neutral", "objective",
                 "subtract_payments", "objective_form", "objective_scale", "cap_start",
                 "cap_anneal_episodes")


def make_designer_env(name: str, env_config: Optional[dict] = None, designer: Optional[dict] = None):
    """``DesignerSeatWrapper(rllib_coopai.envs.make(name, **env_config), **designer)``."""
    from rllib_coopai import envs

    return DesignerSeatWrapper(envs.make(name, **dict(env_config or {})), **dict(designer or {}))
