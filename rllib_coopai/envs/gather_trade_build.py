"""Gather-Trade-Build (GTB): a small AI-Economist economy with bracketed taxes (ID thesis §6.3.1).

A 15x15 grid (the AI Economist's "env-pure_and_mixed-15x15" layout: ``W`` wood sources, ``S`` stone
sources, ``@`` water). ``n_agents`` (default 4, at most 4) start in the map's corners with fixed
build payments (``fixed_four_skill_and_loc``): ``agent_0`` worst skill at top-right (0, 14),
``agent_1`` bottom-left (14, 0), ``agent_2`` top-left (0, 0), ``agent_3`` best at bottom-right
(14, 14); payments ``[11.33, 13.27, 16.47, 22.25]`` coin per house; starting coin 10.

Actions (``Discrete(6 + 44)``, the same for all agents):

* ``0`` no-op; ``1..4`` move up / down / left / right (labor 1 when the agent actually moves;
  water, the map edge, other agents and other agents' houses block);
* ``5`` build: 1 wood + 1 stone -> a house on the agent's tile (plain land without a house) and
  the agent's build payment in coin; labor 10;
* ``6..49`` trade: a simplified **continuous double auction** (44 actions as in the thesis):
  ``k = a - 6``, resource ``k // 22`` (0 wood, 1 stone), side ``(k % 22) // 11`` (0 bid = buy,
  1 ask = sell), price ``k % 11`` coin (integers 0..10). A bid escrows its price in coin, an ask
  escrows one unit of the resource; at most ``max_num_orders`` (5) open orders per agent, resource
  and side; labor 0.25 per order placed. A new order is matched at once with the best resting
  order of another agent (bid >= ask; lowest ask / highest bid, oldest first); the trade happens at
  the *resting* order's price (the buyer's unused escrow is refunded). Unmatched orders rest for
  ``order_duration`` (50) steps, then expire and their escrow returns. Invalid orders (no coin, no
  resource, too many open orders) are no-ops without labor. Simplifications against the AI
  Economist's component: one order per agent per step, no order cancelling, matching only at
  placement time (resting orders never cross because every new order is matched on arrival).

After all agents' actions (processed in a random order each step) every agent gathers the
resource on its tile, if any (1 unit, labor 1; "Gather" with no bonus skill); empty source tiles
regrow with probability ``regen_prob`` (0.01) per step.

Taxes (``PeriodicBracketTax``, eqs 6.7 / 6.8): every ``tax_period`` steps (10; horizon 100 = 10
periods) each agent's period income ``z_i`` = total coin now - total coin after the last tax is
taxed by ``T(z) = sum_b tau_b * clip(z - m_b, 0, m_{b+1} - m_b)`` with the 7 lower cutoffs
``[0, 9.7, 39.475, 84.2, 160.725, 204.1, 510.3]`` (last bracket open); the tax actually
collected is ``min(T(z_i), coin in inventory)`` (escrow untouched) and the total is split
equally (6.8). The rates come from outside: ``set_tax_rates(rates)`` (the designer seat calls it
at the first step of every period), or ``tax_rates`` at construction (``"us_federal"`` =
``0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37``, ``"free_market"`` = zeros, or 7 numbers in [0, 1]);
``reset`` restores the constructor's rates.

Reward (C.16) ``r_t = u_t - u_{t-1}`` with utility (C.17 plus the code's labor weight)
``u = crra(total coin) - energy_cost * cumulative labor``, ``crra(z) = (z^(1-eta) - 1)/(1-eta)``,
``eta = 0.23``, ``energy_cost = 0.21``. "Total coin" = inventory + escrow (the AI Economist's
total endowment).

Observation (flat float32 ``Box``): an egocentric ``(2 r + 1)^2`` window (view radius ``r`` = 5,
11x11) with 7 channels [wood, stone, water, own house, others' houses, other agents, outside the
map], flattened channel-last, followed by a vector: own wood, stone, inventory coin, escrowed coin
(coin / 100), build payment / 10 (the agent's skill), the 7 current rates, the marginal rate at
its period income so far, period phase, episode phase, and the market (44 counts of open orders
per resource, side and price, divided by the number of agents).

``state()`` (the designer's view, no private skills or utilities): the full map as 4 channels
[wood, stone, houses, agents] plus per agent [wood, stone, total coin / 100, period income / 100],
the rates, the period phase and the market counts.

Info per agent per step: ``joint_action``; ``action_type`` (noop/move/build/trade); ``productivity``
(sum of total coin) and ``equality`` (1 - normalised Gini of total coin, ID thesis §6.3.1), the same
in every agent's info; ``totals`` {``tax_paid``, ``lump_sum``, ``houses_built``, ``trades``,
``labor``}; ``rates`` {``tax_rate_<b>``}; and ``tax`` = {``coin``, ``coin_before``, ``period_end``,
``income``, ``cap``, ``transfer``}: what a learner needs to replay eqs 6.7 / 6.8 / C.16 in torch
(total coin after / before the step, the period-end flag, the period income ``z``, the inventory
coin before the tax, the net transfer ``lump - tax`` actually applied).
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
from gymnasium import spaces

from rllib_coopai.envs.base import CoopParallelEnv, check_float, check_int

MAP_15 = (
    "WWW    @       ",
    "WSS    @       ",
    "WWW    @       ",
    "WWW    @       ",
    "WSS            ",
    "SWS            ",
    "       @       ",
    "@@@@  @@@@  @@@",
    "       @       ",
    "WWW    @    S  ",
    " WW         SS ",
    "WWW          SS",
    "W W    @       ",
    "W      @       ",
    "       @     S ",
)
CORNERS = ((0, 14), (14, 0), (0, 0), (14, 14))  # worst .. best skill (fixed_four_skill_and_loc)
BUILD_PAYMENTS = (11.33, 13.27, 16.47, 22.25)
BRACKET_CUTOFFS = (0.0, 9.7, 39.475, 84.2, 160.725, 204.1, 510.3)
US_FEDERAL_RATES = (0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37)
N_BRACKETS = len(BRACKET_CUTOFFS)
WOOD, STONE = 0, 1
MOVES = {1: (-1, 0), 2: (1, 0), 3: (0, -1), 4: (0, 1)}
BUILD = 5
TRADE0 = 6
N_PRICES = 11
N_TRADE = 2 * 2 * N_PRICES
N_ACTIONS = TRADE0 + N_TRADE
N_CHANNELS = 7


# ------------------------------------------------------------------------------------------------
# The economics, as plain functions (tests check them against hand-computed values).
# ------------------------------------------------------------------------------------------------
def bracket_tax(income, rates, cutoffs=BRACKET_CUTOFFS):
    """Eq 6.7: ``T(z) = sum_b tau_b * clip(z - m_b, 0, m_{b+1} - m_b)``, last bracket open."""
    z = np.asarray(income, np.float64)[..., None]
    lo = np.asarray(cutoffs, np.float64)
    hi = np.append(lo[1:], np.inf)
    taxable = np.clip(z - lo, 0.0, hi - lo)
    return (taxable * np.asarray(rates, np.float64)).sum(-1)


def marginal_rate(income, rates, cutoffs=BRACKET_CUTOFFS) -> float:
    """The rate of the bracket that holds ``income`` (the first bracket for ``income <= 0``)."""
    b = int(np.searchsorted(np.asarray(cutoffs), float(income), side="left")) - 1
    return float(np.asarray(rates)[min(max(b, 0), len(cutoffs) - 1)])


def redistribute(incomes, rates, caps=None, cutoffs=BRACKET_CUTOFFS):
    """Eq 6.8: (tax collected per agent, lump sum, net transfer ``lump - tax`` per agent).

    ``caps``: coin in inventory, the most that can be collected from each agent (None = no cap).
    """
    tax = bracket_tax(incomes, rates, cutoffs)
    if caps is not None:
        tax = np.minimum(tax, np.maximum(np.asarray(caps, np.float64), 0.0))
    lump = tax.mean(-1, keepdims=True)
    return tax, lump[..., 0], lump - tax


def crra(z, eta: float = 0.23):
    """C.17: ``(z^(1-eta) - 1) / (1 - eta)`` (isoelastic utility of coin)."""
    return (np.power(np.maximum(np.asarray(z, np.float64), 0.0), 1.0 - eta) - 1.0) / (1.0 - eta)


def utility(coin, labor, eta: float = 0.23, energy_cost: float = 0.21):
    """C.17 with the code's labor weight: ``crra(coin) - energy_cost * labor``."""
    return crra(coin, eta) - energy_cost * np.asarray(labor, np.float64)


def gini_equality(coin) -> float:
    """1 - normalised Gini (ID thesis §6.3.1): 1 for equal coin, 0 if one agent holds everything."""
    x = np.asarray(coin, np.float64)
    n = x.shape[-1]
    total = x.sum()
    if n < 2 or total <= 0:
        return 1.0
    gini = np.abs(x[:, None] - x[None, :]).sum() / (2 * n * total)
    return float(1.0 - gini / ((n - 1) / n))


def _parse_rates(name: str, rates: Union[str, Sequence[float]]) -> np.ndarray:
    if isinstance(rates, str):
        presets = {"us_federal": US_FEDERAL_RATES, "free_market": (0.0,) * N_BRACKETS}
        if rates not in presets:
            raise ValueError(f"{name} must be one of {sorted(presets)} or {N_BRACKETS} numbers "
                             f"in [0, 1], got {rates!r}")
        return np.asarray(presets[rates], np.float64)
    arr = np.asarray(rates, np.float64).ravel()
    if arr.shape != (N_BRACKETS,) or not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must be {N_BRACKETS} numbers in [0, 1], got {rates!r}")
    return arr


class GatherTradeBuildEnv(CoopParallelEnv):
    """Gather-Trade-Build with PeriodicBracketTax (see the module docstring).

    Args:
        n_agents: 2..4 (corners and build payments taken in the fixed order).
        horizon: steps per episode (100).
        tax_period: steps per tax period (10); in [2, horizon].
        tax_rates: ``"us_federal"`` (default), ``"free_market"`` or 7 rates in [0, 1].
        build_payments: coin per house per agent (default: four fixed skills).
        starting_coin: 10.
        starting_inventory: (wood, stone) each agent holds at reset ((0, 0); more makes early
            builds, hence incomes and taxes, likely: used by CI-sized tests).
        regen_prob: per-step regrowth probability of an empty source tile (0.01).
        view_radius: egocentric window radius (5 -> 11x11).
        isoelastic_eta: CRRA eta (0.23); energy_cost: labor weight (0.21).
        build_labor (10), move_labor (1), gather_labor (1), trade_labor (0.25).
        max_num_orders: open orders per agent, resource and side (5).
        order_duration: steps an order rests before it expires (50).
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "name": "gather_trade_build", "is_parallelizable": True}
    #: every value the ``action_type`` info can take (metrics per action type use this order)
    ACTION_TYPES = ("noop", "move", "build", "trade")

    def __init__(
        self,
        n_agents: int = 4,
        horizon: int = 100,
        tax_period: int = 10,
        tax_rates: Union[str, Sequence[float]] = "us_federal",
        build_payments: Sequence[float] = BUILD_PAYMENTS,
        starting_coin: float = 10.0,
        starting_inventory: Sequence[float] = (0.0, 0.0),
        regen_prob: float = 0.01,
        view_radius: int = 5,
        isoelastic_eta: float = 0.23,
        energy_cost: float = 0.21,
        build_labor: float = 10.0,
        move_labor: float = 1.0,
        gather_labor: float = 1.0,
        trade_labor: float = 0.25,
        max_num_orders: int = 5,
        order_duration: int = 50,
        render_mode: Optional[str] = None,
    ):
        super().__init__(render_mode)
        n = check_int("n_agents", n_agents, 2, len(CORNERS))
        self.horizon = check_int("horizon", horizon, 1, None)
        self.tax_period = check_int("tax_period", tax_period, 2, self.horizon)
        self.default_rates = _parse_rates("tax_rates", tax_rates)
        pays = [check_float("build_payments", p, 0.0, None) for p in build_payments]
        if len(pays) < n:
            raise ValueError(f"build_payments needs at least n_agents={n} values, got {len(pays)}")
        self.build_payments = np.asarray(pays[:n], np.float64)
        self.starting_coin = check_float("starting_coin", starting_coin, 0.0, None)
        inv0 = [check_float("starting_inventory", x, 0.0, None) for x in starting_inventory]
        if len(inv0) != 2:
            raise ValueError(f"starting_inventory must be (wood, stone), got {starting_inventory!r}")
        self.starting_inventory = np.asarray(inv0, np.float64)
        self.regen_prob = check_float("regen_prob", regen_prob, 0.0, 1.0)
        self.view_radius = check_int("view_radius", view_radius, 0, 14)
        self.eta = check_float("isoelastic_eta", isoelastic_eta, 0.0, None, low_open=True)
        if self.eta == 1.0:
            raise ValueError("isoelastic_eta must differ from 1 (crra divides by 1 - eta)")
        self.energy_cost = check_float("energy_cost", energy_cost, 0.0, None)
        self.build_labor = check_float("build_labor", build_labor, 0.0, None)
        self.move_labor = check_float("move_labor", move_labor, 0.0, None)
        self.gather_labor = check_float("gather_labor", gather_labor, 0.0, None)
        self.trade_labor = check_float("trade_labor", trade_labor, 0.0, None)
        self.max_num_orders = check_int("max_num_orders", max_num_orders, 1, None)
        self.order_duration = check_int("order_duration", order_duration, 1, None)
        self.cutoffs = np.asarray(BRACKET_CUTOFFS, np.float64)
        self.n_brackets = N_BRACKETS

        grid = np.array([list(row) for row in MAP_15])
        self.size = grid.shape[0]
        self.water = grid == "@"
        self.source = np.stack([grid == "W", grid == "S"])  # [2, H, W]
        self.possible_agents = [f"agent_{i}" for i in range(n)]
        self.start_pos = [CORNERS[i] for i in range(n)]
        w = 2 * self.view_radius + 1
        self.vec_dim = 5 + N_BRACKETS + 3 + N_TRADE
        obs_dim = w * w * N_CHANNELS + self.vec_dim
        self.observation_spaces = {
            a: spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32) for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(N_ACTIONS) for a in self.possible_agents}
        state_dim = 4 * self.size * self.size + 4 * n + N_BRACKETS + 1 + N_TRADE
        self.state_space = spaces.Box(-np.inf, np.inf, (state_dim,), np.float32)
        self.rates = self.default_rates.copy()
        self._t = 0

    # ------------------------------------------------------------------------------------------
    # Tax rates from outside (the designer seat).
    def set_tax_rates(self, rates) -> None:
        """Set the 7 marginal rates (each in [0, 1]) used at the next period end."""
        self.rates = _parse_rates("rates", rates)

    @property
    def t(self) -> int:
        return self._t

    # ------------------------------------------------------------------------------------------
    def _reset(self, options: dict):
        n = self.n_agents
        self._t = 0
        self.rates = self.default_rates.copy()
        self.resources = self.source.copy()            # [2, H, W] bool: a unit is on the tile
        self.houses = -np.ones((self.size, self.size), np.int64)  # owner index or -1
        self.pos = np.array(self.start_pos, np.int64)
        self.inv = np.tile(self.starting_inventory, (n, 1))  # wood, stone in inventory
        self.coin = np.full(n, self.starting_coin)     # coin in inventory
        self.labor = np.zeros(n)
        self.last_coin = np.full(n, self.starting_coin)  # total coin after the last tax
        # Open orders: list of dicts (agent, resource, side, price, placed step); escrow arrays.
        self.orders = []
        self.escrow_coin = np.zeros(n)
        self.escrow_res = np.zeros((n, 2))
        self.util = utility(self.total_coin(), self.labor, self.eta, self.energy_cost)
        obs = {a: self._obs(i) for i, a in enumerate(self.possible_agents)}
        coins = self.total_coin()
        info = {"productivity": float(coins.sum()), "equality": gini_equality(coins)}
        return obs, {a: dict(info) for a in self.possible_agents}

    def total_coin(self) -> np.ndarray:
        return self.coin + self.escrow_coin

    # ------------------------------------------------------------------------------------------
    def _step(self, actions):
        n = self.n_agents
        acts = np.fromiter((actions[a] for a in self.possible_agents), np.int64, n)
        coin_before = self.total_coin().copy()
        built = np.zeros(n)
        trades = np.zeros(n)
        self._expire_orders()
        for i in self.np_random.permutation(n):
            act = int(acts[i])
            if act in MOVES:
                self._move(i, *MOVES[act])
            elif act == BUILD:
                built[i] = self._build(i)
            elif act >= TRADE0:
                k = act - TRADE0
                trades += self._order(i, k // (2 * N_PRICES), (k % (2 * N_PRICES)) // N_PRICES,
                                      k % N_PRICES)
        # Gather: one unit of the resource on the agent's tile, labor 1.
        for i in range(n):
            r, c = self.pos[i]
            for res in (WOOD, STONE):
                if self.resources[res, r, c]:
                    self.resources[res, r, c] = False
                    self.inv[i, res] += 1.0
                    self.labor[i] += self.gather_labor
        # Regrowth of empty source tiles.
        empty = self.source & ~self.resources
        grow = self.np_random.random(empty.shape) < self.regen_prob
        self.resources |= empty & grow
        self._t += 1
        # Periodic bracket tax (eqs 6.7, 6.8) at the end of every period.
        period_end = self._t % self.tax_period == 0
        income = np.zeros(n)
        tax = np.zeros(n)
        transfer = np.zeros(n)
        cap = self.coin.copy()
        lump = 0.0
        if period_end:
            income = self.total_coin() - self.last_coin
            tax, lump, transfer = redistribute(income, self.rates, caps=self.coin,
                                               cutoffs=self.cutoffs)
            lump = float(lump)
            self.coin = self.coin + transfer
            self.last_coin = self.total_coin().copy()
        coins = self.total_coin()
        util = utility(coins, self.labor, self.eta, self.energy_cost)
        rewards_arr = util - self.util  # C.16
        self.util = util
        prod = float(coins.sum())
        eq = gini_equality(coins)
        done = self._t >= self.horizon
        joint = tuple(int(a) for a in acts)
        obs, rewards, terms, truncs, infos = {}, {}, {}, {}, {}
        rates_info = {f"tax_rate_{b}": float(self.rates[b]) for b in range(N_BRACKETS)}
        for i, a in enumerate(self.possible_agents):
            obs[a] = self._obs(i)
            rewards[a] = float(rewards_arr[i])
            terms[a] = False
            truncs[a] = done
            act = int(acts[i])
            kind = ("noop" if act == 0 else "move" if act in MOVES else
                    "build" if act == BUILD else "trade")
            infos[a] = {
                "joint_action": joint,
                "action_type": kind,
                "productivity": prod,
                "equality": eq,
                "totals": {"tax_paid": float(tax[i]), "lump_sum": lump,
                           "houses_built": float(built[i]), "trades": float(trades[i]),
                           "labor": float(self.labor[i]) if done else 0.0},
                "rates": rates_info,
                "tax": {"coin": float(coins[i]), "coin_before": float(coin_before[i]),
                        "period_end": bool(period_end), "income": float(income[i]),
                        "cap": float(cap[i]), "transfer": float(transfer[i])},
            }
        if done:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    # ------------------------------------------------------------------------------------------
    def _blocked(self, i: int, r: int, c: int) -> bool:
        if not (0 <= r < self.size and 0 <= c < self.size) or self.water[r, c]:
            return True
        if self.houses[r, c] >= 0 and self.houses[r, c] != i:
            return True
        others = np.delete(np.arange(self.n_agents), i)
        return bool(np.any((self.pos[others, 0] == r) & (self.pos[others, 1] == c)))

    def _move(self, i: int, dr: int, dc: int) -> None:
        r, c = self.pos[i] + (dr, dc)
        if not self._blocked(i, int(r), int(c)):
            self.pos[i] = (r, c)
            self.labor[i] += self.move_labor

    def _build(self, i: int) -> float:
        r, c = self.pos[i]
        if (self.inv[i, WOOD] < 1 or self.inv[i, STONE] < 1 or self.houses[r, c] >= 0
                or self.source[:, r, c].any() or self.water[r, c]):
            return 0.0
        self.inv[i] -= 1.0
        self.houses[r, c] = i
        self.coin[i] += self.build_payments[i]
        self.labor[i] += self.build_labor
        return 1.0

    def _order(self, i: int, res: int, side: int, price: int) -> np.ndarray:
        """Place a bid (side 0) / ask (side 1) and match it; returns trades per agent."""
        traded = np.zeros(self.n_agents)
        mine = sum(1 for o in self.orders if o[0] == i and o[1] == res and o[2] == side)
        if mine >= self.max_num_orders:
            return traded
        if side == 0:
            if self.coin[i] < price:
                return traded
            self.coin[i] -= price
            self.escrow_coin[i] += price
        else:
            if self.inv[i, res] < 1:
                return traded
            self.inv[i, res] -= 1
            self.escrow_res[i, res] += 1
        self.labor[i] += self.trade_labor
        # Best resting counter-order of another agent that crosses; oldest first among equals.
        best = None
        for k, o in enumerate(self.orders):
            if o[0] == i or o[1] != res or o[2] == side:
                continue
            if (side == 0 and o[3] <= price) or (side == 1 and o[3] >= price):
                key = (o[3] if side == 0 else -o[3], o[4])
                if best is None or key < best[0]:
                    best = (key, k)
        if best is None:
            self.orders.append((i, res, side, price, self._t))
            return traded
        j, _, _, p, _ = self.orders.pop(best[1])
        buyer, seller = (i, j) if side == 0 else (j, i)
        bid_price = price if side == 0 else p
        # Trade at the resting order's price p: the seller's unit goes to the buyer.
        self.escrow_res[seller, res] -= 1
        self.inv[buyer, res] += 1
        self.escrow_coin[buyer] -= bid_price
        self.coin[buyer] += bid_price - p
        self.coin[seller] += p
        traded[[buyer, seller]] = 1.0
        return traded

    def _expire_orders(self) -> None:
        keep = []
        for o in self.orders:
            i, res, side, price, placed = o
            if self._t - placed >= self.order_duration:
                if side == 0:
                    self.escrow_coin[i] -= price
                    self.coin[i] += price
                else:
                    self.escrow_res[i, res] -= 1
                    self.inv[i, res] += 1
            else:
                keep.append(o)
        self.orders = keep

    def market_counts(self) -> np.ndarray:
        """Open orders per (resource, side, price), flattened like the trade actions (44)."""
        counts = np.zeros(N_TRADE, np.float64)
        for _, res, side, price, _ in self.orders:
            counts[res * 2 * N_PRICES + side * N_PRICES + price] += 1.0
        return counts

    # ------------------------------------------------------------------------------------------
    def _obs(self, i: int) -> np.ndarray:
        rad = self.view_radius
        w = 2 * rad + 1
        size = self.size
        pad = rad
        big = np.zeros((N_CHANNELS, size + 2 * pad, size + 2 * pad), np.float32)
        big[6] = 1.0
        inner = (slice(None), slice(pad, pad + size), slice(pad, pad + size))
        layers = np.zeros((N_CHANNELS, size, size), np.float32)
        layers[0] = self.resources[WOOD]
        layers[1] = self.resources[STONE]
        layers[2] = self.water
        layers[3] = self.houses == i
        layers[4] = (self.houses >= 0) & (self.houses != i)
        for j in range(self.n_agents):
            if j != i:
                layers[5, self.pos[j, 0], self.pos[j, 1]] = 1.0
        big[inner] = layers
        r, c = self.pos[i]
        window = big[:, r:r + w, c:c + w]  # centred on (r, c) after padding
        z = float(self.total_coin()[i] - self.last_coin[i])
        vec = np.concatenate([
            [self.inv[i, WOOD], self.inv[i, STONE], self.coin[i] / 100.0,
             self.escrow_coin[i] / 100.0, self.build_payments[i] / 10.0],
            self.rates,
            [marginal_rate(z, self.rates, self.cutoffs), (self._t % self.tax_period) / self.tax_period,
             self._t / self.horizon],
            self.market_counts() / self.n_agents,
        ])
        return np.concatenate([np.moveaxis(window, 0, -1).ravel(), vec]).astype(np.float32)

    def state(self) -> np.ndarray:
        """The designer's view (module docstring): map, inventories, incomes, rates, market."""
        agents = np.zeros((self.size, self.size), np.float32)
        agents[self.pos[:, 0], self.pos[:, 1]] = 1.0
        grid = np.stack([self.resources[WOOD], self.resources[STONE], self.houses >= 0, agents])
        coins = self.total_coin()
        per_agent = np.stack([self.inv[:, WOOD], self.inv[:, STONE], coins / 100.0,
                              (coins - self.last_coin) / 100.0], -1)
        return np.concatenate([
            grid.astype(np.float32).ravel(), per_agent.ravel(), self.rates,
            [(self._t % self.tax_period) / self.tax_period], self.market_counts() / self.n_agents,
        ]).astype(np.float32)

    def _render_text(self) -> str:
        chars = np.array([list(row) for row in MAP_15])
        chars[(chars == "W") & ~self.resources[WOOD]] = "w"
        chars[(chars == "S") & ~self.resources[STONE]] = "s"
        chars[self.houses >= 0] = "H"
        for i, (r, c) in enumerate(self.pos):
            chars[r, c] = str(i)
        lines = ["".join(row) for row in chars]
        lines.append(f"t={self._t} coin={np.round(self.total_coin(), 2).tolist()} "
                     f"wood={self.inv[:, WOOD].tolist()} stone={self.inv[:, STONE].tolist()}")
        return "\n".join(lines)
