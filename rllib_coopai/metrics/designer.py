"""Episode metrics of designer-seat envs (the incentive designers and AMD)."""
from __future__ import annotations

from collections import defaultdict

from rllib_coopai.metrics.callbacks import _KEY, CoopMetricsCallback
from rllib_coopai.wrappers.designer import DESIGNER_ID


class DesignerMetricsCallback(CoopMetricsCallback):
    """``CoopMetricsCallback`` for designer-seat envs.

    Extra episode metrics: ``social_objective`` (the designer's objective of the env rewards,
    before payments), ``social_objective_net`` (minus all payments: the test-time accounting of
    ID thesis §6.3.2), ``designer_return`` (its reward, net of payments where configured),
    ``p_cooperate/<agent>`` (sampled P(C)) and ``p_all_cooperate`` (= P(CC) in 2-player games).
    Economies (infos with ``productivity`` / ``equality``, GTB): ``final_productivity`` and
    ``final_equality`` at the episode's last step and ``sum_productivity_x_equality`` (the
    episode's ``sum_t prod_t * eq_t``, ID thesis §6.3.1; = ``social_objective`` when the seat's
    objective is ``"productivity_x_equality"``). Usable without a designer seat too (e.g. IPPO
    under fixed tax rates: ``config.callbacks(DesignerMetricsCallback)``).
    Payments per agent and per action type come from the ``totals`` info
    (``designer_payment/<agent>``, ``designer_payment/<type>/<agent>``).
    """

    def on_episode_start(self, *, episode, **kwargs) -> None:
        super().on_episode_start(episode=episode, **kwargs)
        acc = episode.custom_data[_KEY]
        acc["designer"] = [0.0, 0.0]
        acc["coop"] = defaultdict(lambda: [0.0, 0])
        acc["allcoop"] = [0.0, 0]

    def on_episode_step(self, *, episode, **kwargs) -> None:
        if _KEY not in episode.custom_data:
            self.on_episode_start(episode=episode)
        acc = episode.custom_data[_KEY]
        infos = episode.get_infos(-1)
        rewards = episode.get_rewards(-1)
        step_obj = [i["social_objective"] for a, i in infos.items()
                    if a != DESIGNER_ID and i and "social_objective" in i]
        if step_obj:  # the same number in every agent's info: count it once per step
            acc["designer"][0] += float(step_obj[0])
        econ = [(i["productivity"], i["equality"]) for a, i in infos.items()
                if a != DESIGNER_ID and i and "productivity" in i and "equality" in i]
        if econ:  # an economy (GTB): the latest productivity and equality, sum of their product
            acc["econ"] = econ[0]
            acc["econ_sum"] = acc.get("econ_sum", 0.0) + float(econ[0][0]) * float(econ[0][1])
        if DESIGNER_ID in rewards:
            acc["designer"][1] += float(rewards[DESIGNER_ID])
        coop = [bool(i["cooperated"]) for a, i in infos.items() if i and "cooperated" in i]
        for a, i in infos.items():
            if i and "cooperated" in i:
                c = acc["coop"][a]
                c[0] += float(i["cooperated"])
                c[1] += 1
        if coop:
            acc["allcoop"][0] += float(all(coop))
            acc["allcoop"][1] += 1
        # The base class must not count the designer's reward as an agent return.
        saved = acc["returns"].get(DESIGNER_ID)
        super().on_episode_step(episode=episode, **kwargs)
        if saved is None:
            acc["returns"].pop(DESIGNER_ID, None)
        else:
            acc["returns"][DESIGNER_ID] = saved

    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
        acc = episode.custom_data.get(_KEY)
        if acc is None:
            return
        acc["returns"].pop(DESIGNER_ID, None)
        super().on_episode_end(episode=episode, metrics_logger=metrics_logger, **kwargs)
        self.record("social_objective", acc["designer"][0])
        paid = sum(v for (name, _), v in acc["totals"].items() if name == "designer_payment")
        self.record("social_objective_net", acc["designer"][0] - paid)
        self.record("designer_return", acc["designer"][1])
        if "econ" in acc:
            self.record("final_productivity", float(acc["econ"][0]))
            self.record("final_equality", float(acc["econ"][1]))
            self.record("sum_productivity_x_equality", acc["econ_sum"])
        for a, (s, n) in acc["coop"].items():
            if n:
                self.record(("p_cooperate", str(a)), s / n)
        if acc["allcoop"][1]:
            self.record("p_all_cooperate", acc["allcoop"][0] / acc["allcoop"][1])
