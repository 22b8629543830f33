"""The design-space study (Meng et al., "A Design Space Study for LISTA and Beyond", ICLR 2021),
reproduced and extended, from one config file into one directory.

For every setting of the config (a problem: noise, conditioning, sparsity, natural images) the
study makes the problem instance once, trains and tests the LISTA-family baselines on it,
searches the space with the configured NNI strategy (:func:`nni_lista.search.explore.explore`) and
retrains the top-k architectures from scratch with the retraining protocol. On one setting it
also repeats the search with other seeds and strategies (consistency), trains random samples
of four spaces at an equal budget (design-space error distributions), and runs D-LADMM: plain,
with the averaged LISTA pattern grafted on, and searched directly.

Every piece of work is a *unit* whose result is written atomically to ``DIR/units/KEY.json``;
a rerun skips finished units and resumes unfinished training from its checkpoints under
``DIR/work/KEY/``. :func:`summarise` then gathers everything into ``DIR/study.json`` (every
number with its settings and seeds) and writes the tables and figures; :mod:`nni_lista.study.summary`
tests the paper's four claims.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

from nni_lista.base.errors import require
from nni_lista.models.family import MODELS
from nni_lista.space.backbones import BACKBONES
from nni_lista.search.explore import SearchRequest, explore
from nni_lista.study.config import StudyConfig, problem_settings
from nni_lista.study.runner import Unit, claim, lock_path, unit_path, unit_result, work_path
from nni_lista.train.runs import run_architecture
from nni_lista.train.training import TrainConfig


class Study:
    """Runs a :class:`StudyConfig` into ``out``; see the module docstring."""

    def __init__(self, config: StudyConfig, out: Path, device: str = "auto", progress: bool = True):
        self.config, self.out, self.progress = config, Path(out), progress
        self.device = TrainConfig(device=device).device

    # -- files
    def unit_path(self, key: str) -> Path:
        return unit_path(self.out, key)

    def done(self, key: str) -> Optional[dict]:
        return unit_result(self.out, key)

    def work_dir(self, key: str) -> Path:
        return work_path(self.out, key)

    # -- problems
    def problem_spec(self, setting: str) -> dict:
        """The instance of ``setting``, made once and saved to ``DIR/problems/NAME.pt``."""
        from nni_lista.problem import problems

        path = self.out / "problems" / f"{setting}.pt"
        if not path.is_file():
            with claim(
                lock_path(self.out, f"problem-{setting}"), wait=True
            ):  # made once, by one of the processes sharing the study
                if not path.is_file():
                    kind, settings = problem_settings(self.config.problem, self.config.settings[setting] or {}, setting)
                    problem = (
                        problems.make_synthetic(settings) if kind == "synthetic" else problems.make_image_cs(settings)
                    )
                    problems.save(problem, path)
        return problems.problem_spec(file=str(path.resolve()))

    def problem(self, setting: str):
        from nni_lista.problem.problems import resolve_problem

        return resolve_problem(self.problem_spec(setting))

    def _config(self, config: TrainConfig, seed: int = 0) -> TrainConfig:
        return TrainConfig.from_dict({**config.to_dict(), "device": self.device, "seed": seed})

    # -- unit keys: every key is made here
    @staticmethod
    def search_key(setting: str, strategy: str, seed: int, cold: bool = False) -> str:
        return f"search/{setting}/{strategy}-seed{seed}" + ("-cold" if cold else "")

    @staticmethod
    def power_key(setting: str, a: str, b: str) -> str:
        first, second = sorted((a, b))  # one unit per unordered pair of strategies
        return f"power/{setting}/{first}-vs-{second}"

    @staticmethod
    def baseline_key(setting: str, model: str, seed: int) -> str:
        return f"baseline/{setting}/{model}/seed{seed}"

    @staticmethod
    def retrain_key(setting: str, rank: int, seed: int) -> str:
        return f"retrain/{setting}/top{rank + 1}/seed{seed}"

    @staticmethod
    def neuron_key(setting: str, neuron: str, seed: int) -> str:
        return f"neuron/{setting}/{neuron}/seed{seed}"

    @staticmethod
    def sample_key(space: str, index: int) -> str:
        return f"distribution/{space}/{index}"

    @staticmethod
    def start_key(setting: str, name: str, seed: int) -> str:
        return f"start/{setting}/{name}/seed{seed}"

    @staticmethod
    def dladmm_key(setting: str, which: str, seed: Optional[int] = None) -> str:
        return f"dladmm/{setting}/{which}" + ("" if seed is None else f"/seed{seed}")

    def seeds_of(self, model: str) -> tuple[int, ...]:
        """Training seeds of a baseline: all of them when it learns, the first when it does not."""
        return self.config.training_seeds if MODELS[model].learned else self.config.training_seeds[:1]

    def starting_points(self) -> list[str]:
        """The named architectures the main search starts from that are not baselines (``dense``
        for the ``paper`` space): retrained like the baselines, so that claim 1 can tell what the
        search added beyond them."""
        from nni_lista.search.warm_start import seed_names
        from nni_lista.space.architectures import PRESETS

        names = seed_names(PRESETS[self.config.search.space], self.config.layers)
        return [name for name in names if name not in self.config.baselines]

    def dladmm_variants(self) -> list[str]:
        grafts = self.config.dladmm.random_grafts if self.config.dladmm else 0
        return ["plain", "lista-pattern", *(f"random-graft{i + 1}" for i in range(grafts)), "searched"]

    # -- the plan
    def units(self) -> list[Unit]:
        c = self.config
        seeds = c.training_seeds
        units: list[Unit] = []
        for setting in c.settings:
            for model in c.baselines:
                units += [
                    Unit(self.baseline_key(setting, model, seed), self._baseline(setting, model, seed))
                    for seed in self.seeds_of(model)
                ]
            search = self.search_key(setting, c.search.strategy, c.search.seed)
            units.append(Unit(search, self._search(setting, c.search.strategy, c.search.seed)))
            for rank in range(c.search.retrain_top):
                units += [
                    Unit(self.retrain_key(setting, rank, seed), self._retrain(setting, rank, seed), needs=(search,))
                    for seed in seeds
                ]
            for name in self.starting_points():
                units += [
                    Unit(
                        self.start_key(setting, name, seed),
                        self._starting_point(setting, name, seed),
                        needs=(self.retrain_key(setting, 0, seed),),
                    )
                    for seed in seeds
                ]
        if c.consistency is not None:
            setting, cold = c.consistency.setting, c.consistency.cold
            for strategy, seed in self.consistency_runs()[0 if cold else 1 :]:
                key = self.search_key(setting, strategy, seed, cold)
                units.append(Unit(key, self._search(setting, strategy, seed, cold)))
            if c.consistency.null_pairs:
                units += [Unit(self.power_key(setting, a, b), self._power(a, b)) for a, b in self.strategy_pairs()]
        if c.neurons is not None:
            from nni_lista.space.neurons import NEURONS

            for neuron in NEURONS:
                units += [
                    Unit(self.neuron_key(c.neurons.setting, neuron, seed), self._uniform_neuron(neuron, seed))
                    for seed in seeds
                ]
        if c.distributions is not None:
            for space in c.distributions.spaces:
                for index in range(c.distributions.samples):
                    units.append(Unit(self.sample_key(space, index), self._sample(space, index)))
        if c.dladmm is not None:
            setting = c.dladmm.setting
            search = self.dladmm_key(setting, "search")
            units.append(Unit(search, self._dladmm_search(setting)))
            lista_search = self.search_key(
                setting, c.search.strategy, c.search.seed
            )  # the grafts read its top architectures
            for which in self.dladmm_variants():
                needs = () if which == "plain" else (search,) if which == "searched" else (lista_search,)
                units += [
                    Unit(self.dladmm_key(setting, which, seed), self._dladmm_run(setting, which, seed), needs=needs)
                    for seed in seeds
                ]
        return units

    def consistency_runs(self) -> list[tuple[str, int]]:
        """(strategy, seed) of the consistency searches, the main search first."""
        c = self.config
        runs = [(c.search.strategy, c.search.seed)]
        if c.consistency is not None:
            runs += [(c.search.strategy, int(s)) for s in c.consistency.seeds]
            runs += [(s, c.search.seed) for s in c.consistency.strategies]
        return list(dict.fromkeys(runs))

    def strategy_pairs(self) -> list[tuple[str, str]]:
        """The distinct (unordered) strategy pairs among the consistency searches' pairs."""
        runs = self.consistency_runs()
        pairs = [tuple(sorted((runs[i][0], runs[j][0]))) for i in range(len(runs)) for j in range(i + 1, len(runs))]
        return list(dict.fromkeys((a, b) for a, b in pairs))

    # -- work
    def _baseline(self, setting: str, model: str, seed: int) -> Callable[[], dict]:
        def work() -> dict:
            from nni_lista.train.runs import run_model

            key = self.baseline_key(setting, model, seed)
            return run_model(
                model,
                self.problem(setting),
                self.config.layers,
                self.config.lam,
                self._config(self.config.retrain, seed),
                self.work_dir(key),
                progress=self.progress,
            )

        return work

    def _request(
        self, setting: str, strategy: str, seed: int, space: str, budget: int, backbone: str = "lista"
    ) -> SearchRequest:
        return SearchRequest(
            strategy=strategy,
            problem=self.problem_spec(setting),
            layers=self.config.layers,
            space=space,
            budget=budget,
            training=self._config(self.config.search_training, seed),
            lam=self.config.lam,
            seed=seed,
            top_k=self.config.search.top_k,
            backbone=backbone,
        )

    def _search(self, setting: str, strategy: str, seed: int, cold: bool = False) -> Callable[[], dict]:
        def work() -> dict:
            request = self._request(setting, strategy, seed, self.config.search.space, self.config.search.budget)
            if cold:
                request = replace(request, warm_start=False)
            return explore(request, self.work_dir(self.search_key(setting, strategy, seed, cold)))

        return work

    def _power(self, a: str, b: str) -> Callable[[], dict]:
        """Claim 3's null from the search dynamics of the pair ``(a, b)`` and its power, at the
        study's space, budget and top-k (:func:`nni_lista.study.power.detectable_effect`)."""

        def work() -> dict:
            from nni_lista.study.power import detectable_effect

            c, consistency = self.config, self.config.consistency
            assert consistency is not None  # only planned with a consistency section
            key = self.power_key(consistency.setting, a, b)
            return detectable_effect(
                (a, b),
                c.search.space,
                c.layers,
                c.search.budget,
                c.search.top_k,
                list(consistency.effects),
                consistency.null_pairs,
                consistency.power_pairs,
                self.work_dir(key),
            )

        return work

    def top_archs(
        self, setting: str, strategy: Optional[str] = None, seed: Optional[int] = None, cold: bool = False
    ) -> list[dict]:
        found = self.done(
            self.search_key(
                setting,
                strategy or self.config.search.strategy,
                self.config.search.seed if seed is None else seed,
                cold,
            )
        )
        require(found is not None, f"the search of setting {setting!r} has not run yet")
        return [item["arch"] for item in found["top"]]

    def _run_retrain(self, arch: dict, setting: str, seed: int, key: str) -> dict:
        """``arch`` trained by the study's retraining recipe with training seed ``seed``, into unit ``key``."""
        config = self._config(self.config.retrain, seed)
        return run_architecture(arch, self.problem(setting), config, self.config.lam, self.work_dir(key))

    def _retrain(self, setting: str, rank: int, seed: int) -> Callable[[], dict]:
        def work() -> dict:
            archs = self.top_archs(setting)
            if rank >= len(archs):  # a one-shot strategy exports its top-1 only
                return {"skipped": f"the search returned {len(archs)} architecture(s)"}
            return self._run_retrain(archs[rank], setting, seed, self.retrain_key(setting, rank, seed))

        return work

    def _starting_point(self, setting: str, name: str, seed: int) -> Callable[[], dict]:
        """The named architecture ``name`` retrained; when the search's best architecture is that
        very architecture, its retraining (the same architecture, recipe and seed) is the record."""

        def work() -> dict:
            from nni_lista.space.architectures import named_architecture, with_defaults

            arch = named_architecture(name, self.config.layers)
            top = with_defaults(self.top_archs(setting)[0], self.config.layers)
            retrained = self.retrain_key(setting, 0, seed)
            if top == arch:
                return {**(self.done(retrained) or {}), "same_as": retrained}
            return self._run_retrain(arch, setting, seed, self.start_key(setting, name, seed))

        return work

    def _uniform_neuron(self, neuron: str, seed: int) -> Callable[[], dict]:
        """LISTA with one neuron type in every layer (claim 2: are soft thresholds preferred?)."""

        def work() -> dict:
            from nni_lista.space.architectures import named_architecture

            setting = self.config.neurons.setting
            arch = {
                label: (neuron if label.endswith("/neuron") else value)
                for label, value in named_architecture("lista", self.config.layers).items()
            }
            return self._run_retrain(arch, setting, seed, self.neuron_key(setting, neuron, seed))

        return work

    def _sample(self, space: str, index: int) -> Callable[[], dict]:
        def work() -> dict:
            backbone = BACKBONES["lista"]
            draw = random.Random(f"{space}/{index}")  # str seeds are hashed deterministically
            sample = {
                label: draw.choice(values) for label, values in backbone.labels(space, self.config.layers).items()
            }
            arch = backbone.complete(sample, space, self.config.layers)
            setting = self.config.distributions.setting
            config = self._config(self.config.distributions.training, seed=index)
            return run_architecture(
                arch, self.problem(setting), config, self.config.lam, self.work_dir(self.sample_key(space, index))
            )

        return work

    def _dladmm_search(self, setting: str) -> Callable[[], dict]:
        def work() -> dict:
            d = self.config.dladmm
            request = self._request(setting, d.strategy, self.config.search.seed, d.space, d.budget, backbone="dladmm")
            return explore(request, self.work_dir(self.dladmm_key(setting, "search")))

        return work

    def dladmm_arch(self, setting: str, which: str) -> dict:
        """``plain`` D-LADMM; the ``lista-pattern``: the skips on in at least half of LISTA's
        top-k, soft thresholds everywhere; ``random-graftI``: as many skips, on edges drawn at
        random (seeded by I), soft thresholds; or the ``searched`` best."""
        from nni_lista.study.analysis import graft

        backbone, layers = BACKBONES["dladmm"], self.config.layers
        labels = backbone.labels("paper", layers)
        if which == "plain":
            return backbone.plain(layers)
        if which == "searched":
            found = self.done(self.dladmm_key(setting, "search"))
            require(found is not None, "the D-LADMM search has not run yet")
            return found["top"][0]["arch"]
        soft = {
            label: ("soft" if label.endswith("/neuron") else value)
            for label, value in graft(self.top_archs(setting), labels).items()
        }
        if which == "lista-pattern":
            return soft
        edges = sorted(label for label in labels if "/skip_from" in label)
        on = sum(soft[label] == "on" for label in edges)
        chosen = set(random.Random(f"dladmm/{which}").sample(edges, on))
        return {
            label: ("on" if label in chosen else "off") if label in edges else value for label, value in soft.items()
        }

    def _dladmm_run(self, setting: str, which: str, seed: int) -> Callable[[], dict]:
        def work() -> dict:
            return run_architecture(
                self.dladmm_arch(setting, which),
                self.problem(setting),
                self._config(self.config.retrain, seed),
                self.config.lam,
                self.work_dir(self.dladmm_key(setting, which, seed)),
                backbone="dladmm",
            )

        return work

    # -- driver
    @classmethod
    def open(cls, config_path: Path, out: Path, device: str = "auto", progress: bool = True) -> "Study":
        """The study of ``config_path`` in ``out``, checked before any work: ``out`` writable, the
        config valid and within memory, and, when ``out`` holds a study, made with the same config
        (its copy is kept as ``out/config.yml``); a new study stores that copy."""
        from nni_lista.base.io import write_text
        from nni_lista.base.limits import check_output

        out = Path(out)
        check_output(out)
        config = StudyConfig.load(config_path)
        config.check_memory()
        kept = out / "config.yml"
        out.mkdir(parents=True, exist_ok=True)
        with claim(
            out, wait=True
        ):  # two commands starting at once on a new --out: one writes the copy, the other compares
            if kept.is_file():
                require(
                    StudyConfig.load(kept) == config,
                    f"{str(out)!r} holds a study made with another config ({kept}); "
                    "give the same config to resume, or a new --out",
                )
            else:
                write_text(kept, Path(config_path).read_text())
        return cls(config, out, device, progress)

    def run(self) -> dict:
        """Run every unit not finished yet (:func:`nni_lista.study.runner.run_units`), then
        summarise (:func:`nni_lista.study.summary.summarise`); returns the summary. Of the
        processes sharing a study, the first to get there summarises and the others return its
        summary."""
        import json
        import time

        from nni_lista.base.io import remove_orphans
        from nni_lista.study.runner import run_units
        from nni_lista.study.summary import summarise

        seconds = run_units(self.units(), self.out, self.progress)
        every_unit_written = time.time()
        with claim(lock_path(self.out, "summary"), wait=True):
            written = self.out / "study.json"
            if (
                written.is_file() and written.stat().st_mtime > every_unit_written
            ):  # another process summarised meanwhile
                return json.loads(written.read_text())
            remove_orphans(self.out)  # the summary's own files, killed between writing and renaming
            remove_orphans(self.out / "problems")
            return summarise(self, run_seconds=seconds)
