"""The search strategies by command-line name: what kind each is and one line on it, without torch
or NNI (the command line lists them; :data:`nni_lista.search.explore.STRATEGIES` adds NNI's
strategy to each)."""

from __future__ import annotations

from typing import NamedTuple


class StrategyInfo(NamedTuple):
    """``kind``: ``multi-trial`` (the budget counts architectures trained), ``one-shot`` (supernet
    training batches) or ``weight-sharing`` (a supernet, then a multi-trial search over its subnets)."""

    kind: str
    summary: str


STRATEGY_INFO: dict[str, StrategyInfo] = {
    "random": StrategyInfo("multi-trial", "random sampling (the family members of the space first)"),
    "grid": StrategyInfo("multi-trial", "every architecture in turn (small spaces)"),
    "evolution": StrategyInfo("multi-trial", "regularized evolution (Real et al. 2019)"),
    "tpe": StrategyInfo("multi-trial", "tree-structured Parzen estimator (the family members of the space first)"),
    "rl": StrategyInfo("multi-trial", "policy-based RL (PPO, Zoph & Le 2017)"),
    "darts": StrategyInfo("one-shot", "DARTS (Liu et al. 2019)"),
    "gumbel-darts": StrategyInfo("one-shot", "Gumbel-softmax DARTS (SNAS)"),
    "enas": StrategyInfo("one-shot", "ENAS (Pham et al. 2018)"),
    "proxyless": StrategyInfo("one-shot", "ProxylessNAS"),
    "shared-evolution": StrategyInfo(
        "weight-sharing",
        "one supernet trained with uniform single-path sampling, then warm-started evolution over its "
        "subnets scored with inherited weights (Guo et al. 2020)",
    ),
    "random-one-shot": StrategyInfo("one-shot", "random single-path supernet (Bender et al. 2018)"),
}
