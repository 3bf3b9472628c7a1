"""N-player Escape Room ER(N, M) (LIO thesis §5.1, App. B.4.1) and its asymmetric 2-player variant.

Symmetric game (``asymmetric=False``, the default)
--------------------------------------------------
Every agent is at one of three positions, with action index = target position:
``0 = lever``, ``1 = start``, ``2 = door`` (choosing the current position means "stay").
All agents begin at ``start``. The door is open at a step iff at least ``min_at_lever`` (M) agents
*choose lever at that step* (moving to or staying at the lever). Reward per agent per step (the
reference code's rule, the only one consistent with the reported optima 9 / 8 / 17):

* ``+10`` if the door is open and the agent's action is ``door``;
* ``0`` if the agent stays where it is (including staying at the lever);
* ``-1`` for any other move (including moving to the lever, even when that opens the door).

The episode *terminates* after a step where the door is open and some agent ends at the door, and
is *truncated* after ``horizon`` steps (default 5). Collective optimum ``10(N-M) - M`` in one step.

Observations (``obs_mode``), float32 ``Box``:

* ``"lio"`` (default): own 1-hot position (3) + 1-hot position of every other agent (3 each, in
  ``possible_agents`` order, skipping self) + ``N-1`` slots for the cumulative incentive this agent
  has given each other agent in the episode. The env always writes 0 there; an incentive wrapper
  (LIO) fills the slots. Length ``3 + 3(N-1) + (N-1)``.
* ``"designer"``: own + others' 1-hot positions only, length ``3N`` (the ID experiments).

``state()`` returns the designer's view of the positions: the 1-hot positions of all agents in
``possible_agents`` order (``3N``); the designer's joint-action input is ``infos[a]["joint_action"]``.

Asymmetric variant (``asymmetric=True``, N = 2, LIO thesis App. B.5.1)
------------------------------------------------------------------------------------------
Player 1 (``player_0``) has actions ``0 = start``, ``1 = door``; player 2 (``player_1``) has
``0 = start``, ``1 = lever``. Both start at ``start``. The door is open iff player 2 chooses the
lever. Player 1 gets ``+10`` when it goes to (or stays at) the open door, otherwise ``-1`` every
step; player 2 gets ``-1`` for changing position, else 0. Once player 1 has exited, no more rewards
are paid and the episode runs to the fixed ``horizon`` (the reference code's ``max_steps``).
Global optimum of the sum = +9. Observations: player 1 sees its 1-hot position (2) + player 2's
(2); player 2 sees its own (2). ``min_at_lever`` and ``obs_mode`` are ignored.

Info contract: ``joint_action``; ``action_type`` in {"lever", "start", "door"} (the executed move's
target); ``cooperated`` = the agent chose the lever (the costly, door-opening act) -- in the
asymmetric game only player 2 has it; ``door_open`` (bool).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from gymnasium import spaces

from rllib_coopai.envs.base import CoopParallelEnv, check_bool, check_choice, check_int

LEVER, START, DOOR = 0, 1, 2
POSITION_NAMES = ("lever", "start", "door")
EXIT_REWARD = 10.0
MOVE_COST = -1.0


class EscapeRoomEnv(CoopParallelEnv):
    """Escape Room ER(N, M).

    Args:
        n_agents: N >= 2 (forced to 2 by ``asymmetric=True``).
        min_at_lever: M, agents that must pull the lever to open the door, in [1, N-1].
        horizon: maximum steps per episode (paper: 5).
        obs_mode: ``"lio"`` (3 + 3(N-1) + (N-1)) or ``"designer"`` (3N), see module docstring.
        asymmetric: the asymmetric 2-player variant (player 1 exits, player 2 pulls).
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "name": "escape_room", "is_parallelizable": True}
    #: every value the ``action_type`` info can take (metrics per action type use this order)
    ACTION_TYPES = POSITION_NAMES

    def __init__(
        self,
        n_agents: int = 2,
        min_at_lever: int = 1,
        horizon: int = 5,
        obs_mode: str = "lio",
        asymmetric: bool = False,
        render_mode: Optional[str] = None,
    ):
        super().__init__(render_mode)
        self.asymmetric = check_bool("asymmetric", asymmetric)
        self.horizon = check_int("horizon", horizon, 1, None)
        self.obs_mode = check_choice("obs_mode", obs_mode, ("lio", "designer"))
        if self.asymmetric:
            n = check_int("n_agents", n_agents, 2, 2)
            self.min_at_lever = 1
        else:
            n = check_int("n_agents", n_agents, 2, None)
            self.min_at_lever = check_int("min_at_lever", min_at_lever, 1, n - 1)
        self.possible_agents = [f"player_{i}" for i in range(n)]
        self._n = n
        self._eye3 = np.eye(3, dtype=np.float32)
        self._eye2 = np.eye(2, dtype=np.float32)
        if self.asymmetric:
            self.observation_spaces = {
                self.possible_agents[0]: spaces.Box(0.0, 1.0, (4,), np.float32),
                self.possible_agents[1]: spaces.Box(0.0, 1.0, (2,), np.float32),
            }
            self.action_spaces = {a: spaces.Discrete(2) for a in self.possible_agents}
        else:
            pos_len = 3 * n
            if self.obs_mode == "lio":
                high = np.concatenate(
                    [np.ones(pos_len, np.float32), np.full(n - 1, np.inf, np.float32)]
                )
                low = np.zeros(pos_len + n - 1, np.float32)
                space = spaces.Box(low, high, dtype=np.float32)
            else:
                space = spaces.Box(0.0, 1.0, (pos_len,), np.float32)
            self.observation_spaces = {a: space for a in self.possible_agents}
            self.action_spaces = {a: spaces.Discrete(3) for a in self.possible_agents}
            # order[i] = [i, others...]: own position first, then the others in agent order.
            self._order = np.array(
                [[i] + [j for j in range(n) if j != i] for i in range(n)], dtype=np.int64
            )
            self._pad = np.zeros(n - 1 if self.obs_mode == "lio" else 0, np.float32)
        self.state_space = spaces.Box(0.0, 1.0, (3 * n if not self.asymmetric else 4,), np.float32)
        self._pos = np.full(n, START, np.int64)
        self._t = 0
        self._solved = False
        self._last = None
        self._door_open = False

    # ------------------------------------------------------------------------------------
    def _observe(self):
        if self.asymmetric:
            p1, p2 = self._pos
            o1 = np.concatenate([self._eye2[p1], self._eye2[p2]])
            return {self.possible_agents[0]: o1, self.possible_agents[1]: self._eye2[p2].copy()}
        onehots = self._eye3[self._pos[self._order]].reshape(self._n, -1)  # (N, 3N)
        if self._pad.size:
            onehots = np.concatenate([onehots, np.zeros((self._n, self._pad.size), np.float32)], 1)
        return {a: onehots[i] for i, a in enumerate(self.possible_agents)}

    def state(self) -> np.ndarray:
        if self.asymmetric:
            return np.concatenate([self._eye2[self._pos[0]], self._eye2[self._pos[1]]])
        return self._eye3[self._pos].ravel()

    def _reset(self, options):
        # Symmetric: start = 1; asymmetric: start = 0 in both agents' 2-action encodings.
        self._pos = np.full(self._n, 0 if self.asymmetric else START, np.int64)
        self._t = 0
        self._solved = False
        self._last = None
        self._door_open = False
        return self._observe(), {a: {} for a in self.agents}

    def _step(self, actions):
        agents = self.possible_agents
        act = np.fromiter((actions[a] for a in agents), np.int64, self._n)
        joint = tuple(act.tolist())
        self._t += 1
        if self.asymmetric:
            rewards_arr, terminated, types, coop = self._step_asym(act)
        else:
            door_open = int(np.count_nonzero(act == LEVER)) >= self.min_at_lever
            to_door = act == DOOR
            rewards_arr = np.where(
                door_open & to_door, EXIT_REWARD, np.where(act == self._pos, 0.0, MOVE_COST)
            )
            self._pos = act
            self._door_open = door_open
            terminated = bool(door_open and to_door.any())
            types = [POSITION_NAMES[k] for k in joint]
            coop = [k == LEVER for k in joint]
        truncated = (not terminated) and self._t >= self.horizon
        self._last = joint
        obs = self._observe()
        rewards = {a: float(rewards_arr[i]) for i, a in enumerate(agents)}
        infos = {}
        for i, a in enumerate(agents):
            info = {"joint_action": joint, "action_type": types[i], "door_open": self._door_open}
            if coop[i] is not None:
                info["cooperated"] = coop[i]
            infos[a] = info
        terminations = {a: terminated for a in agents}
        truncations = {a: truncated for a in agents}
        if terminated or truncated:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _step_asym(self, act):
        a1, a2 = int(act[0]), int(act[1])
        door_open = a2 == 1
        rewards = np.zeros(2)
        if not self._solved:
            rewards[0] = EXIT_REWARD if (door_open and a1 == 1) else MOVE_COST
            rewards[1] = MOVE_COST if a2 != self._pos[1] else 0.0
        self._pos = act
        self._door_open = door_open
        if door_open and a1 == 1:
            self._solved = True
        types = ["door" if a1 == 1 else "start", "lever" if a2 == 1 else "start"]
        return rewards, False, types, [None, a2 == 1]

    def _render_text(self) -> str:
        if self.asymmetric:
            names = [("start", "door")[self._pos[0]], ("start", "lever")[self._pos[1]]]
            rows = [f"  {a}: {p}" for a, p in zip(self.possible_agents, names)]
            head = f"EscapeRoom-asym t={self._t}/{self.horizon} solved={self._solved}"
        else:
            cells = {k: [] for k in range(3)}
            for i, p in enumerate(self._pos):
                cells[int(p)].append(str(i))
            rows = [
                f"  [{POSITION_NAMES[k]:>5}] {' '.join(cells[k]) or '-'}" for k in range(3)
            ]
            head = (
                f"EscapeRoom ER({self._n},{self.min_at_lever}) t={self._t}/{self.horizon} "
                f"door={'OPEN' if self._door_open else 'closed'}"
            )
        if self._last is not None:
            head += f" last joint action={self._last}"
        return "\n".join([head] + rows)


def given_incentive_slots(env) -> int:
    """Number of "cumulative incentives given" slots that end ``env``'s observations (0: none):
    symmetric Escape Room with ``obs_mode="lio"`` (LIO thesis App. B.4.1). ``env`` may be wrapped
    (an RLlib adapter's ``par_env``)."""
    env = getattr(env, "par_env", env)
    if isinstance(env, EscapeRoomEnv) and env.obs_mode == "lio" and not env.asymmetric:
        return len(env.possible_agents) - 1
    return 0
