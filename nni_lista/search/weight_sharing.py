"""Weight sharing: one supernet of the space trained once, then NNI's evolution over its
subnets scored with the weights they inherit (single-path one-shot, Guo et al. ECCV 2020).

1. The space itself is the supernet: every candidate of every choice exists once in the
   unfrozen :class:`~nni_lista.space.spaces.LISTASpace`, and :func:`set_path` makes each
   ``LayerChoice`` run one of them (NNI runs a choice's "dry-run" candidate when the space is
   not frozen; we set which). :func:`train_supernet` trains it end to end, a fresh uniformly
   random path for every batch, from the ISTA initialisation.
2. NNI's regularized evolution, warm-started with the family members of the space
   (:class:`~nni_lista.search.warm_start.WarmStartEvolution`), explores subnets; each is scored by
   :func:`score_with_inherited_weights`: its validation NMSE with the supernet's weights, no
   training (a forward pass over the validation set).
3. The best subnets are then retrained from scratch like any searched architecture.

The supernet stays in this process (a registry keyed by a name), so the strategy runs on
NNI's sequential engine, not on the manager.
"""

from __future__ import annotations

import time
from typing import Optional

import nni
import numpy as np
import torch
from nni.nas.nn.pytorch import LayerChoice

from nni_lista.train.evaluation import layer_estimates
from nni_lista.problem.metrics import nmse_db_per_layer
from nni_lista.problem.problems import Problem, seeded_generator
from nni_lista.space.spaces import LISTASpace
from nni_lista.train.training import adam, cosine_decay, layer_loss

_SUPERNET_STREAM = 103
_SUPERNETS: dict[str, tuple[LISTASpace, Problem]] = {}


def choices(space: LISTASpace) -> dict[str, LayerChoice]:
    """Every ``LayerChoice`` of the unfrozen space, by label."""
    return {module.label: module for module in space.modules() if isinstance(module, LayerChoice)}


def set_path(space: LISTASpace, sample: dict) -> None:
    """Make the unfrozen space compute subnet ``sample`` (a label -> value map of the space)."""
    for label, choice in choices(space).items():
        choice._dry_run_choice = sample[label]  # NNI's forward of an unfrozen choice runs this candidate


def random_path(space: LISTASpace, rng: np.random.RandomState) -> dict:
    """A uniformly random subnet: each label's value drawn independently."""
    return {label: choice.names[rng.randint(len(choice.names))] for label, choice in choices(space).items()}


def train_supernet(
    space: LISTASpace,
    problem: Problem,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    progress: bool = False,
    max_seconds: Optional[float] = None,
) -> dict:
    """Train the (ISTA-initialised) space for ``steps`` batches, each through a fresh random path:
    loss ``||D z_T - s||^2`` of the last layer, Adam at ``lr`` with cosine decay to 1 %.
    With ``max_seconds``, training stops after the batch that passes it (``steps`` says how many ran)."""
    from tqdm import tqdm

    optimizer = adam(space.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_decay(steps))
    generator = seeded_generator(seed, _SUPERNET_STREAM)
    rng = np.random.RandomState(seed)
    started = time.perf_counter()
    space.train()
    done = 0
    for _ in tqdm(range(steps), desc="supernet", disable=not progress, leave=False):
        if max_seconds is not None and done and time.perf_counter() - started >= max_seconds:
            break
        done += 1
        set_path(space, random_path(space, rng))
        split = problem.train_batch(batch, generator)
        loss = layer_loss(space, problem, split.b, split.s, space.layers - 1)
        if not torch.isfinite(loss):
            continue  # a path whose neurons blow up on this batch: skip it, the shared weights stay finite
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return {"steps": done, "seconds": round(time.perf_counter() - started, 3)}


def register(name: str, space: LISTASpace, problem: Problem) -> None:
    """Make a trained supernet available to :func:`score_with_inherited_weights` as ``name``."""
    _SUPERNETS[name] = (space, problem)


def release(name: str) -> None:
    _SUPERNETS.pop(name, None)


@torch.no_grad()
def inherited_nmse_db(space: LISTASpace, problem: Problem, sample: dict) -> list[float]:
    """Per-layer validation NMSE (dB) of subnet ``sample`` with the supernet's weights."""
    set_path(space, sample)
    return nmse_db_per_layer(layer_estimates(space, problem, problem.val), problem.val.s)


def score_with_inherited_weights(model, supernet: str, sample: Optional[dict] = None) -> float:
    """NNI's evaluation function of this strategy: the frozen ``model``'s architecture scored on
    the validation set with the weights of supernet ``supernet`` (reports ``-NMSE_dB``)."""
    space, problem = _SUPERNETS[supernet]
    sample = dict(sample if sample is not None else model.arch_sample)
    per_layer = inherited_nmse_db(space, problem, {label: sample[label] for label in choices(space)})
    for value in per_layer:
        nni.report_intermediate_result(-value if np.isfinite(value) else -1e3)
    final = -per_layer[-1] if np.isfinite(per_layer[-1]) else -1e3
    nni.report_final_result(final)
    return final
