"""NNI evaluators built from small arguments: a problem *spec* (settings + seed, or a problem
file path) and a training config as plain dicts -- never tensors, so they travel to trials
as short JSON (docs/nni-notes.md: pickled tensors break the manager engine).

* :func:`multi_trial_evaluator` -- a ``FunctionalEvaluator`` for multi-trial strategies: it
  ISTA-initialises the sampled network, trains it with :mod:`nni_lista.train.training`, reports the
  validation NMSE of every layer as intermediate results (as ``-dB``, higher is better; under
  the stage-wise protocol each as soon as its layer is trained) and a
  final result whose ``default`` is ``-NMSE_dB`` of the last layer on the validation set.
* :func:`one_shot_evaluator` -- NNI's ``Lightning`` evaluator around :class:`SupernetModule`,
  fed by a seeded fresh-sample training stream and the fixed validation set.

Search selects on the validation set; the test set is kept for the final comparison.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Optional

import torch
from torch.utils.data import Dataset, IterableDataset

from nni_lista.search import compat  # noqa: F401
import nni
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.evaluator.pytorch import DataLoader, Lightning, LightningModule, Trainer

from nni_lista.base.errors import UsageError
from nni_lista.base.io import write_json
from nni_lista.base.limits import read_bounded
from nni_lista.models.family import DEFAULT_LAM
from nni_lista.search.latency import measure_network
from nni_lista.space.layers import analytic_flops, initialise
from nni_lista.train.prefixes import PrefixCache
from nni_lista.problem.problems import resolve_problem, seeded_generator
from nni_lista.train.runs import run
from nni_lista.train.training import TrainConfig, adam, layer_loss

_ONE_SHOT_STREAM = 102


def _in_search_process() -> bool:
    """Whether this trial runs inside the search's own process (NNI's sequential engine), whose
    chronicle prints a progress line for it."""
    import os

    return "NNI_TRIAL_JOB_ID" not in os.environ and "NNI_PLATFORM" not in os.environ


def _replay(records: Optional[str], model, problem: dict, config: TrainConfig, lam: float):
    """``(path, record)`` of this architecture's finished trial in the ``records`` directory
    (``record`` None when it has none, or an unreadable one); ``(None, None)`` without records.
    A record is keyed by what the network computes (:meth:`PrefixCache.key`) with the problem,
    the training config and lambda, so a rerun of an interrupted search (NNI's seeded strategies
    propose the same architectures again when they are given the same numbers) does not train
    what it trained before."""
    if records is None:
        return None, None
    context = {"problem": problem, "training": config.identity(), "lam": lam, "record": "trial"}
    path = Path(records) / f"{PrefixCache(Path(records), context).key(model, model.layers)}.json"
    try:
        record = json.loads(read_bounded(path, 1 << 20, "trial record"))
        ok = (
            isinstance(record, dict)
            and isinstance(record.get("intermediates"), list)
            and isinstance(record.get("final"), dict)
            and isinstance(record.get("metrics"), dict)
        )
        return path, record if ok else None
    except (OSError, ValueError, UsageError, RecursionError):
        return path, None


def train_architecture(
    model,
    problem: dict,
    training: dict,
    lam: float = DEFAULT_LAM,
    prefix_cache: Optional[str] = None,
    settings: Optional[dict] = None,
    records: Optional[str] = None,
) -> dict:
    """One trial of a multi-trial search: :func:`nni_lista.train.runs.run` of the sampled network
    (trained from its ISTA initialisation and scored, nothing written) plus NNI's reporting:
    ``-NMSE dB`` on validation per layer as it trains and, at the end, a dict final metric whose
    ``default`` is that value (what strategies maximise), with named entries NNI's web UI can
    show as columns: ``nmse_db`` (validation, plain dB), ``flops`` (per sample), ``params``,
    ``latency_ms`` (batch 1, measured here), ``train_seconds``, ``steps`` and ``reused_layers``.
    Nothing about the test set is reported: a search chooses by validation only, and the test
    set scores the retrained networks once, after the search.
    Returns the run's metrics (the ``metrics.json`` content; ``settings`` go into its settings).

    With ``prefix_cache`` (a directory) a stage-wise run reuses the longest trained prefix of
    layers that an earlier architecture of the search shares with it (:mod:`nni_lista.train.prefixes`).
    With ``records`` (a directory) every finished trial is recorded there, and an architecture
    with a record is not trained again: its numbers are reported as recorded (:func:`_replay`)."""
    P = resolve_problem(problem)
    model.initialise(P.A, lam)
    config = TrainConfig.from_dict(training)
    record_path, record = _replay(records, model, problem, config, lam)
    if record is not None:
        for value in record["intermediates"]:
            nni.report_intermediate_result(value)
        nni.report_final_result(record["final"])
        print(
            f"trial replayed from {record_path.name}: validation NMSE {record['metrics'].get('val_nmse_db')} dB",
            file=sys.stderr,
            flush=True,
        )
        return record["metrics"]
    reported: list[float] = []
    prefixes = None
    if prefix_cache is not None and config.protocol == "stagewise":
        context = {"problem": problem, "training": config.identity(), "lam": lam}
        prefixes = PrefixCache(Path(prefix_cache), context)

    def report(
        layer: int, nmse_db: float
    ) -> None:  # as each layer is trained: assessors can stop stage-wise trials early
        reported.append(-nmse_db)
        nni.report_intermediate_result(-nmse_db)

    metrics = run(
        model, "arch", P, config, None, settings, progress=None, on_layer=report, prefixes=prefixes
    )  # a bar on a terminal
    one = P.test.b[:1].to(next(model.parameters()).device)
    final = {
        "default": -metrics["val_nmse_db"],  # what every strategy maximises
        "nmse_db": metrics["val_nmse_db"],  # the same, as a plain (negative) dB value
        "flops": analytic_flops(model),
        "params": sum(p.numel() for p in model.parameters()),
        "latency_ms": measure_network(
            model, one, repeats=10, device=config.device
        ),  # batch 1, fastest of 10 calls, here
        "train_seconds": metrics["seconds"],
        "steps": metrics["steps"],
        "reused_layers": metrics.get("reused_layers", 0),
    }
    nni.report_final_result(final)
    if record_path is not None:
        write_json(record_path, {"intermediates": reported, "final": final, "metrics": metrics})
    if not _in_search_process():  # a trial of its own (under NNI's manager): its log says how it went
        print(
            f"trial done: validation NMSE {metrics['val_nmse_db']:.2f} dB after {metrics['steps']} steps "
            f"({metrics['seconds']:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    return metrics


def multi_trial_evaluator(
    problem: dict,
    config: TrainConfig,
    lam: float = DEFAULT_LAM,
    prefix_cache: Optional[Path] = None,
    records: Optional[Path] = None,
) -> FunctionalEvaluator:
    """The evaluator for NNI's multi-trial strategies (Random, Evolution, TPE, RL, ...);
    ``prefix_cache``: a directory where stage-wise trials share trained layer prefixes;
    ``records``: a directory of finished trials, which a rerun replays instead of training."""
    return FunctionalEvaluator(
        train_architecture,
        problem=problem,
        training=config.to_dict(),
        lam=lam,
        prefix_cache=None if prefix_cache is None else str(prefix_cache),
        records=None if records is None else str(records),
    )


@nni.trace
class TrainingStream(IterableDataset):
    """``steps`` fresh training batches ``(b, s)`` per pass; pass ``e`` is seeded by
    ``(seed, e)``, so every epoch sees new samples and a run is reproducible."""

    def __init__(self, problem: dict, batch: int, steps: int, seed: int = 0):
        self.problem, self.batch, self.steps, self.seed = problem, batch, steps, seed
        self._passes = 0

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        P = resolve_problem(self.problem)
        generator = seeded_generator(self.seed, _ONE_SHOT_STREAM, self._passes)
        self._passes += 1
        for _ in range(self.steps):
            batch = P.train_batch(self.batch, generator)
            yield batch.b, batch.s


@nni.trace
class ValidationSet(Dataset):
    """The fixed validation set in ``chunks`` batches."""

    def __init__(self, problem: dict, chunks: int = 1):
        self.problem, self.chunks = problem, chunks

    def __len__(self) -> int:
        return self.chunks

    def __getitem__(self, index: int):
        split = resolve_problem(self.problem).val
        size = math.ceil(split.b.shape[0] / self.chunks)
        return split.b[index * size : (index + 1) * size], split.s[index * size : (index + 1) * size]


class SupernetModule(LightningModule):
    """Trains a supernet (or any network of the space) on the last layer's squared error;
    logs ``val_nmse_db`` on the whole validation set (a ratio of sums)."""

    def __init__(self, problem: dict, lam: float = DEFAULT_LAM, learning_rate: float = 1e-3):
        super().__init__()
        self.problem = problem
        self.lam = lam
        self.learning_rate = learning_rate
        self._val_error = self._val_energy = 0.0
        self._placed = None  # (device, the problem on it)

    def _problem(self):
        """The problem on this module's device (Lightning moves the module; data follow it)."""
        if self._placed is None or self._placed[0] != self.device:
            self._placed = (self.device, resolve_problem(self.problem).to(self.device))
        return self._placed[1]

    def set_model(self, model) -> None:
        super().set_model(model)
        initialise(model, resolve_problem(self.problem).A, self.lam)

    def forward(self, b):
        return self.model(b)

    def training_step(self, batch, batch_idx):
        b, s = batch
        loss = layer_loss(self.model, self._problem(), b, s, self.model.layers - 1)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_error = self._val_energy = 0.0

    def validation_step(self, batch, batch_idx):
        b, s = batch
        with torch.no_grad():
            estimate = self._problem().decode(self.model(b)[-1])
        error, energy = float((estimate.double() - s.double()).pow(2).sum()), float(s.double().pow(2).sum())
        self._val_error += error
        self._val_energy += energy
        # per batch, higher is better: ENAS takes it as the reward of the sampled network
        self.log("default", -10.0 * math.log10(max(error, 1e-300) / energy), on_step=True, on_epoch=False)

    def on_validation_epoch_end(self) -> None:
        if self._val_energy > 0:
            value = 10.0 * math.log10(max(self._val_error, 1e-300) / self._val_energy)
            self.log("val_nmse_db", value)

    def configure_optimizers(self):
        return adam(self.parameters(), lr=self.learning_rate)


def one_shot_evaluator(
    problem: dict,
    steps: int,
    batch: int = 64,
    seed: int = 0,
    lam: float = DEFAULT_LAM,
    learning_rate: float = 1e-3,
    epochs: int = 1,
    val_chunks: int = 10,
    device: str = "cpu",
    max_seconds: Optional[float] = None,
) -> Lightning:
    """NNI's Lightning evaluator for one-shot strategies: ``steps`` supernet training batches
    in all, split into ``epochs`` passes; the validation set comes in ``val_chunks`` batches;
    the supernet trains on ``device`` (a resolved device name), for at most ``max_seconds``
    (Lightning's ``max_time``, checked after every batch)."""
    epochs = max(1, min(epochs, steps))
    place = torch.device(device)
    trainer = Trainer(
        max_epochs=epochs,
        **({} if max_seconds is None else {"max_time": {"seconds": float(max_seconds)}}),
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=sys.stderr.isatty(),  # a bar over supernet batches on a terminal
        enable_model_summary=False,
        accelerator="gpu" if place.type == "cuda" else "cpu",
        devices=[place.index or 0] if place.type == "cuda" else 1,
    )
    return Lightning(
        SupernetModule(problem, lam, learning_rate),
        trainer,
        train_dataloaders=DataLoader(TrainingStream(problem, batch, math.ceil(steps / epochs), seed), batch_size=None),
        val_dataloaders=DataLoader(ValidationSet(problem, val_chunks), batch_size=None),
    )
