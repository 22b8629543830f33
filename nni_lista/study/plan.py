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

import json
import math
import random
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Optional

from nni_lista.space.backbones import BACKBONES
from nni_lista.base.errors import UsageError, require, short
from nni_lista.models.family import DEFAULT_LAM, MODELS
from nni_lista.base.io import remove_orphans, write_json
from nni_lista.base.limits import check_layers, check_name
from nni_lista.train.runs import run_architecture
from nni_lista.search.explore import STRATEGIES, SearchRequest, explore
from nni_lista.train.training import TrainConfig

PROBLEM_KEYS = {"synthetic": ("m", "n", "p", "snr", "kappa", "seed"), "image-cs": ("m", "patch", "atoms", "snr", "seed")}


def _section(name: str, values: object, allowed: tuple[str, ...]) -> dict:
    """``values`` as a dict whose keys are all in ``allowed`` (else a one-line error)."""
    values = {} if values is None else values
    require(isinstance(values, dict), f"config section {short(name)} must be a mapping, not {type(values).__name__}")
    for key in values:
        require(isinstance(key, str) and key in allowed,
                f"unknown key {short(key)} in config section {short(name)}: allowed are {', '.join(map(str, allowed))}")
    return dict(values)


def _training(name: str, values: object, defaults: dict) -> TrainConfig:
    keys = tuple(f.name for f in fields(TrainConfig) if f.name not in ("device", "target_db"))
    return TrainConfig.from_dict({**defaults, **_section(name, values, keys)})


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_preset(backbone: str, space: object) -> None:
    require(isinstance(space, str), f"space {short(space)} is not allowed: choose one of {', '.join(BACKBONES[backbone].presets)}")
    BACKBONES[backbone].check_preset(space)


def _names(where: str, values: object) -> list:
    """``values`` as a list of strings (a YAML list), else a one-line error."""
    require(isinstance(values, list) and all(isinstance(v, str) for v in values),
            f"{where} {short(values)} is not allowed: give a list of names")
    return values


@dataclass(frozen=True)
class SearchPlan:
    """One search: strategy, space preset, budget, seed; ``top_k`` architectures make the
    averaged architecture, the best ``retrain_top`` of them (all by default) are retrained."""

    strategy: str = "evolution"
    space: str = "paper"
    budget: int = 10
    top_k: int = 3
    seed: int = 0
    retrain_top: Optional[int] = None

    def __post_init__(self) -> None:
        require(isinstance(self.strategy, str) and self.strategy in STRATEGIES,
                f"strategy {short(self.strategy)} is not allowed: choose one of {', '.join(STRATEGIES)}")
        _check_preset("lista", self.space)
        require(_is_int(self.seed) and self.seed >= 0, f"search seed {short(self.seed)} is not allowed: it must be an integer >= 0")
        require(_is_int(self.budget) and self.budget >= 1, f"budget {short(self.budget)} is not allowed: it must be an integer >= 1")
        require(_is_int(self.top_k) and self.top_k >= 1, f"top_k {short(self.top_k)} is not allowed: it must be an integer >= 1")
        if self.retrain_top is None:
            object.__setattr__(self, "retrain_top", self.top_k)
        require(_is_int(self.retrain_top) and 1 <= self.retrain_top <= self.top_k,
                f"retrain_top {short(self.retrain_top)} is not allowed: it must be an integer in [1, top_k]")


@dataclass(frozen=True)
class StudyConfig:
    """A whole study; :meth:`load` reads it from YAML with one-line errors."""

    settings: dict  # name -> problem overrides (see :func:`problem_settings`)
    problem: dict = field(default_factory=dict)  # defaults shared by the synthetic settings
    layers: int = 16
    lam: float = DEFAULT_LAM
    baselines: tuple[str, ...] = tuple(MODELS)
    search: SearchPlan = SearchPlan()
    search_training: TrainConfig = TrainConfig(protocol="e2e", max_steps=1000, eval_every=250)
    retrain: TrainConfig = TrainConfig(protocol="e2e", max_steps=3000, eval_every=500)
    consistency: Optional[dict] = None  # {setting, seeds: [...], strategies: [...], null_draws}
    distributions: Optional[dict] = None  # {setting, samples, spaces: [...], training: TrainConfig}
    dladmm: Optional[dict] = None  # {setting, strategy, space, budget, random_grafts}
    neurons: Optional[dict] = None  # {setting}: one neuron type throughout, each of the seven (claim 2)
    training_seeds: tuple[int, ...] = (0, 1)  # every learned model of the table is trained once per seed

    @classmethod
    def load(cls, path: Path) -> "StudyConfig":
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text())
        except FileNotFoundError:
            raise UsageError(f"config file {str(path)!r} does not exist") from None
        except UnicodeDecodeError:
            raise UsageError(f"config file {str(path)!r} is not a text file: give a YAML study config") from None
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"cannot read config file {str(path)!r}: {str(exc).splitlines()[0][:200]}") from None
        try:
            return cls.from_dict(data, str(path))
        except UsageError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:  # a shape from_dict did not foresee
            raise UsageError(f"config file {str(path)!r} is not a valid study config ({short(str(exc), 120)})") from None

    @classmethod
    def from_dict(cls, data: object, where: str = "config") -> "StudyConfig":
        top = _section(where, data, ("problem", "layers", "lam", "settings", "baselines", "search", "retrain",
                                     "consistency", "distributions", "dladmm", "neurons", "training_seeds"))
        for name in top.get("settings") if isinstance(top.get("settings"), dict) else ():
            check_name(name, "setting")  # it becomes part of file names
        settings = _section("settings", top.get("settings"), tuple(top.get("settings") or ()))
        require(settings, "config section 'settings' must name at least one setting")
        for name, overrides in settings.items():
            problem_settings(top.get("problem") or {}, overrides or {}, name)  # check every setting now
        layers = check_layers(top.get("layers", 16), low=3)
        lam = top.get("lam", DEFAULT_LAM)
        require(isinstance(lam, (int, float)) and not isinstance(lam, bool) and math.isfinite(lam) and lam >= 0,
                f"lam {short(lam)} is not allowed: it must be a number >= 0")
        baselines = tuple(_names("baselines", top.get("baselines", list(MODELS))))
        unknown = [b for b in baselines if b not in MODELS]
        require(not unknown, f"baseline {short(unknown[0]) if unknown else ''} is not allowed: choose from {', '.join(MODELS)}")
        search = _section("search", top.get("search"), ("strategy", "space", "budget", "top_k", "retrain_top", "seed", "training"))
        plan = SearchPlan(**{k: v for k, v in search.items() if k != "training"})
        search_training = _training("search.training", search.get("training"), {"protocol": "e2e", "max_steps": 1000, "eval_every": 250})
        retrain = _training("retrain", top.get("retrain"), {"protocol": "e2e", "max_steps": 3000, "eval_every": 500})
        first = next(iter(settings))

        def optional(name: str, allowed: tuple[str, ...]) -> Optional[dict]:
            if top.get(name) is None:
                return None
            section = _section(name, top[name], allowed)
            section.setdefault("setting", first)
            require(isinstance(section["setting"], str) and section["setting"] in settings,
                    f"{name}.setting {short(section['setting'])} is not allowed: choose one of {', '.join(settings)}")
            return section

        training_seeds = top.get("training_seeds", [0, 1])
        require(isinstance(training_seeds, list) and 1 <= len(training_seeds) <= 20 and all(_is_int(v) and v >= 0 for v in training_seeds)
                and len(set(training_seeds)) == len(training_seeds),
                f"training_seeds {short(training_seeds)} is not allowed: give a list of 1 to 20 different integers >= 0")
        consistency = optional("consistency", ("setting", "seeds", "strategies", "null_draws"))
        if consistency is not None:
            draws = consistency.setdefault("null_draws", 1000)
            require(_is_int(draws) and 10 <= draws <= 100_000,
                    f"consistency.null_draws {short(draws)} is not allowed: it must be an integer in [10, 100000]")
            for strategy in _names("consistency.strategies", consistency.setdefault("strategies", [])):
                SearchPlan(strategy=strategy, space=plan.space)
            seeds = consistency.setdefault("seeds", [])
            require(isinstance(seeds, list) and all(_is_int(v) and v >= 0 for v in seeds),
                    f"consistency.seeds {short(seeds)} is not allowed: give a list of integers >= 0")
        distributions = optional("distributions", ("setting", "samples", "spaces", "training"))
        if distributions is not None:
            distributions.setdefault("spaces", ["lista", "connectivity", "neurons", "paper"])
            for space in _names("distributions.spaces", distributions["spaces"]):
                BACKBONES["lista"].check_preset(space)
            samples = distributions.setdefault("samples", 8)
            require(_is_int(samples) and 2 <= samples <= 100_000, f"distributions.samples {short(samples)} is not allowed: it must be an integer in [2, 100000]")
            distributions["training"] = _training("distributions.training", distributions.get("training"), search_training.to_dict())
        neurons = optional("neurons", ("setting",))
        dladmm = optional("dladmm", ("setting", "strategy", "space", "budget", "random_grafts"))
        if dladmm is not None:
            grafts = dladmm.setdefault("random_grafts", 2)
            require(_is_int(grafts) and 0 <= grafts <= 100, f"dladmm.random_grafts {short(grafts)} is not allowed: it must be an integer in [0, 100]")
            dladmm.setdefault("strategy", plan.strategy)
            dladmm.setdefault("space", "paper")
            dladmm.setdefault("budget", plan.budget)
            SearchPlan(strategy=dladmm["strategy"], budget=dladmm["budget"])
            _check_preset("dladmm", dladmm["space"])
        return cls(settings=settings, problem=top.get("problem") or {}, layers=layers, lam=float(lam),
                   baselines=baselines, search=plan, search_training=search_training, retrain=retrain,
                   consistency=consistency, distributions=distributions, dladmm=dladmm, neurons=neurons,
                   training_seeds=tuple(training_seeds))

    def check_memory(self) -> None:
        """One-line refusal when a setting's problem and models would not fit in memory."""
        _check_study_memory(self)


def _check_study_memory(config: "StudyConfig") -> None:
    """Refuse a study whose largest problem, depth and batch do not fit in the memory available."""
    from nni_lista.base.limits import check_memory
    from nni_lista.problem.problems import ImageCSSettings, SyntheticSettings

    trainings = [config.search_training, config.retrain] + ([config.distributions["training"]] if config.distributions else [])
    batch = max(t.batch for t in trainings)
    for name in config.settings:
        kind, args = problem_settings(config.problem, config.settings[name] or {}, name)
        if kind == "synthetic":
            p = SyntheticSettings(**args)
            m, n, d, fixed = p.m, p.n, p.n, p.n_val + p.n_test
        else:
            p = ImageCSSettings(**args)
            m, n, d, fixed = p.m, p.n_atoms, p.patch**2, p.n_val + p.n_test + p.n_train_patches
        check_memory(f"setting {name!r} (a {m}x{n} problem with {config.layers} layers and batch {batch})",
                     m, n, config.layers, batch, fixed, d)


def setting_seed(seed: int, setting: str) -> int:
    """The problem seed of a setting that does not give its own: ``seed`` and the setting's name
    hashed together (``sha256``, 31 bits), so that no two settings share an instance."""
    from nni_lista.problem.problems import seed_from

    return seed_from([seed, setting]) % 2**31


def problem_settings(base: dict, overrides: dict, name: str = "setting") -> tuple[str, dict]:
    """The problem kind and its settings (dataclass arguments) of one setting.

    ``base`` holds defaults for synthetic settings (``m n p snr kappa seed``); a setting may
    override any of them, or say ``kind: image-cs`` and give ``m patch atoms snr seed``
    (only ``seed`` comes from ``base`` then). A setting without its own ``seed`` gets
    :func:`setting_seed` of the base seed and its name."""
    overrides = _section(f"settings.{name}", overrides, ("kind", *sorted(set(PROBLEM_KEYS["synthetic"]) | set(PROBLEM_KEYS["image-cs"]))))
    kind = overrides.pop("kind", "synthetic")
    require(isinstance(kind, str) and kind in PROBLEM_KEYS, f"settings.{name}.kind {short(kind)} is not allowed: choose one of {', '.join(PROBLEM_KEYS)}")
    base = _section("problem", base, PROBLEM_KEYS["synthetic"])
    values = {**base, **overrides} if kind == "synthetic" else {"seed": base.get("seed", 0), **overrides}
    if "seed" not in overrides:  # each setting its own instance (an explicit seed is kept as given)
        seed = values.get("seed", 0)
        require(_is_int(seed) and seed >= 0, f"problem seed {short(seed)} is not allowed: it must be an integer >= 0")
        values["seed"] = setting_seed(seed, name)
    for key in values:
        require(key in PROBLEM_KEYS[kind], f"key {key!r} does not apply to setting {name!r} ({kind}): allowed are {', '.join(PROBLEM_KEYS[kind])}")
    renamed = {"snr": "snr_db", "atoms": "n_atoms"}
    args = {renamed.get(k, k): v for k, v in values.items()}
    if "snr_db" in args:
        try:
            args["snr_db"] = float(args["snr_db"])
        except (TypeError, ValueError):
            raise UsageError(f"setting {name!r}: snr {short(args['snr_db'])} is not allowed: give a number of dB or 'inf'") from None
    from nni_lista.problem.problems import ImageCSSettings, SyntheticSettings

    try:
        (SyntheticSettings if kind == "synthetic" else ImageCSSettings)(**args)
    except UsageError as exc:
        raise UsageError(f"setting {name!r}: {exc}") from None
    return kind, args


# ----------------------------------------------------------------------------- units

@dataclass
class Unit:
    """One piece of work: ``key`` names its result file, ``work()`` returns its result."""

    key: str
    work: Callable[[], dict]


class Study:
    """Runs a :class:`StudyConfig` into ``out``; see the module docstring."""

    def __init__(self, config: StudyConfig, out: Path, device: str = "auto", progress: bool = True):
        self.config, self.out, self.progress = config, Path(out), progress
        self.device = TrainConfig(device=device).device

    # -- files
    def unit_path(self, key: str) -> Path:
        return self.out / "units" / f"{key}.json"

    def done(self, key: str) -> Optional[dict]:
        path = self.unit_path(key)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            result = data["result"] if isinstance(data, dict) else None
        except (OSError, UnicodeDecodeError, ValueError, KeyError, RecursionError):
            result = None
        require(isinstance(result, dict), f"unit file {str(path)!r} is damaged: delete it and run the same command again to redo that unit")
        return result

    def work_dir(self, key: str) -> Path:
        return self.out / "work" / key

    # -- problems
    def problem_spec(self, setting: str) -> dict:
        """The instance of ``setting``, made once and saved to ``DIR/problems/NAME.pt``."""
        from nni_lista.problem import problems

        path = self.out / "problems" / f"{setting}.pt"
        if not path.is_file():
            kind, args = problem_settings(self.config.problem, self.config.settings[setting] or {}, setting)
            if kind == "synthetic":
                problem = problems.make_synthetic(problems.SyntheticSettings(**args))
            else:
                problem = problems.make_image_cs(problems.ImageCSSettings(**args))
            problems.save(problem, path)
        return problems.problem_spec(file=str(path.resolve()))

    def problem(self, setting: str):
        from nni_lista.problem.problems import resolve_problem

        return resolve_problem(self.problem_spec(setting))

    def _config(self, config: TrainConfig, seed: int = 0) -> TrainConfig:
        return TrainConfig.from_dict({**config.to_dict(), "device": self.device, "seed": seed})

    # -- unit keys: every key is made here
    @staticmethod
    def search_key(setting: str, strategy: str, seed: int) -> str:
        return f"search/{setting}/{strategy}-seed{seed}"

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
    def dladmm_key(setting: str, which: str, seed: Optional[int] = None) -> str:
        return f"dladmm/{setting}/{which}" + ("" if seed is None else f"/seed{seed}")

    def seeds_of(self, model: str) -> tuple[int, ...]:
        """Training seeds of a baseline: all of them when it learns, the first when it does not."""
        return self.config.training_seeds if MODELS[model].learned else self.config.training_seeds[:1]

    def dladmm_variants(self) -> list[str]:
        grafts = self.config.dladmm["random_grafts"] if self.config.dladmm else 0
        return ["plain", "lista-pattern", *(f"random-graft{i + 1}" for i in range(grafts)), "searched"]

    # -- the plan
    def units(self) -> list[Unit]:
        c = self.config
        seeds = c.training_seeds
        units: list[Unit] = []
        for setting in c.settings:
            for model in c.baselines:
                units += [Unit(self.baseline_key(setting, model, seed), self._baseline(setting, model, seed)) for seed in self.seeds_of(model)]
            units.append(Unit(self.search_key(setting, c.search.strategy, c.search.seed), self._search(setting, c.search.strategy, c.search.seed)))
            for rank in range(c.search.retrain_top):
                units += [Unit(self.retrain_key(setting, rank, seed), self._retrain(setting, rank, seed)) for seed in seeds]
        if c.consistency is not None:
            setting = c.consistency["setting"]
            for strategy, seed in self.consistency_runs()[1:]:
                units.append(Unit(self.search_key(setting, strategy, seed), self._search(setting, strategy, seed)))
        if c.neurons is not None:
            from nni_lista.space.neurons import NEURONS

            for neuron in NEURONS:
                units += [Unit(self.neuron_key(c.neurons["setting"], neuron, seed), self._uniform_neuron(neuron, seed)) for seed in seeds]
        if c.distributions is not None:
            for space in c.distributions["spaces"]:
                for index in range(c.distributions["samples"]):
                    units.append(Unit(self.sample_key(space, index), self._sample(space, index)))
        if c.dladmm is not None:
            setting = c.dladmm["setting"]
            units.append(Unit(self.dladmm_key(setting, "search"), self._dladmm_search(setting)))
            for which in self.dladmm_variants():
                units += [Unit(self.dladmm_key(setting, which, seed), self._dladmm_run(setting, which, seed)) for seed in seeds]
        return units

    def consistency_runs(self) -> list[tuple[str, int]]:
        """(strategy, seed) of the consistency searches, the main search first."""
        c = self.config
        runs = [(c.search.strategy, c.search.seed)]
        if c.consistency is not None:
            runs += [(c.search.strategy, int(s)) for s in c.consistency["seeds"]]
            runs += [(s, c.search.seed) for s in c.consistency["strategies"]]
        return list(dict.fromkeys(runs))

    # -- work
    def _baseline(self, setting: str, model: str, seed: int) -> Callable[[], dict]:
        def work() -> dict:
            from nni_lista.train.runs import run_model

            key = self.baseline_key(setting, model, seed)
            return run_model(model, self.problem(setting), self.config.layers, self.config.lam, self._config(self.config.retrain, seed),
                             self.work_dir(key), progress=self.progress)
        return work

    def _request(self, setting: str, strategy: str, seed: int, space: str, budget: int, backbone: str = "lista") -> SearchRequest:
        P = self.problem(setting)
        return SearchRequest(strategy=strategy, problem=self.problem_spec(setting), m=P.m, n=P.n, layers=self.config.layers,
                             space=space, budget=budget, training=self._config(self.config.search_training, seed),
                             lam=self.config.lam, seed=seed, top_k=self.config.search.top_k, backbone=backbone)

    def _search(self, setting: str, strategy: str, seed: int) -> Callable[[], dict]:
        def work() -> dict:
            request = self._request(setting, strategy, seed, self.config.search.space, self.config.search.budget)
            return explore(request, self.work_dir(self.search_key(setting, strategy, seed)))
        return work

    def top_archs(self, setting: str, strategy: Optional[str] = None, seed: Optional[int] = None) -> list[dict]:
        found = self.done(self.search_key(setting, strategy or self.config.search.strategy,
                                          self.config.search.seed if seed is None else seed))
        require(found is not None, f"the search of setting {setting!r} has not run yet")
        return [item["arch"] for item in found["top"]]

    def _retrain(self, setting: str, rank: int, seed: int) -> Callable[[], dict]:
        def work() -> dict:
            archs = self.top_archs(setting)
            if rank >= len(archs):  # a one-shot strategy exports its top-1 only
                return {"skipped": f"the search returned {len(archs)} architecture(s)"}
            return run_architecture(archs[rank], self.problem(setting), self._config(self.config.retrain, seed), self.config.lam,
                                    self.work_dir(self.retrain_key(setting, rank, seed)))
        return work

    def _uniform_neuron(self, neuron: str, seed: int) -> Callable[[], dict]:
        """LISTA with one neuron type in every layer (claim 2: are soft thresholds preferred?)."""
        def work() -> dict:
            from nni_lista.space.spaces import named_architecture

            setting = self.config.neurons["setting"]
            arch = {label: (neuron if label.endswith("/neuron") else value)
                    for label, value in named_architecture("lista", self.config.layers).items()}
            return run_architecture(arch, self.problem(setting), self._config(self.config.retrain, seed), self.config.lam,
                                    self.work_dir(self.neuron_key(setting, neuron, seed)))
        return work

    def _sample(self, space: str, index: int) -> Callable[[], dict]:
        def work() -> dict:
            backbone = BACKBONES["lista"]
            draw = random.Random(f"{space}/{index}")  # str seeds are hashed deterministically
            sample = {label: draw.choice(values) for label, values in backbone.labels(space, self.config.layers).items()}
            arch = backbone.complete(sample, space, self.config.layers)
            setting = self.config.distributions["setting"]
            config = self._config(self.config.distributions["training"], seed=index)
            return run_architecture(arch, self.problem(setting), config, self.config.lam, self.work_dir(self.sample_key(space, index)))
        return work

    def _dladmm_search(self, setting: str) -> Callable[[], dict]:
        def work() -> dict:
            d = self.config.dladmm
            request = self._request(setting, d["strategy"], self.config.search.seed, d["space"], d["budget"], backbone="dladmm")
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
        soft = {label: ("soft" if label.endswith("/neuron") else value)
                for label, value in graft(self.top_archs(setting), labels).items()}
        if which == "lista-pattern":
            return soft
        edges = sorted(label for label in labels if "/skip_from" in label)
        on = sum(soft[label] == "on" for label in edges)
        chosen = set(random.Random(f"dladmm/{which}").sample(edges, on))
        return {label: ("on" if label in chosen else "off") if label in edges else value for label, value in soft.items()}

    def _dladmm_run(self, setting: str, which: str, seed: int) -> Callable[[], dict]:
        def work() -> dict:
            return run_architecture(self.dladmm_arch(setting, which), self.problem(setting), self._config(self.config.retrain, seed),
                                    self.config.lam, self.work_dir(self.dladmm_key(setting, which, seed)), backbone="dladmm")
        return work

    # -- driver
    def run(self) -> dict:
        """Run every unit not finished yet, then :func:`summarise`; returns the summary."""
        from tqdm import tqdm

        units = self.units()
        remove_orphans(self.out, recursive=True)  # temporary files of a study killed between writing and renaming
        started = time.perf_counter()
        finished = sum(self.done(u.key) is not None for u in units)  # a damaged unit file is refused before any work
        if finished:
            print(f"resuming: {finished} of {len(units)} units already done", file=sys.stderr, flush=True)
        with tqdm(total=len(units), initial=finished, desc="study", unit="unit", disable=not self.progress, dynamic_ncols=True) as bar:
            for index, unit in enumerate(units, start=1):
                if self.unit_path(unit.key).is_file():
                    continue
                bar.set_postfix_str(unit.key)
                print(f"[{index}/{len(units)}] {unit.key}", file=sys.stderr, flush=True)
                began = time.perf_counter()
                result = unit.work()
                write_json(self.unit_path(unit.key), {"key": unit.key, "seconds": round(time.perf_counter() - began, 3), "result": result})
                bar.update(1)
        from nni_lista.study.summary import summarise

        return summarise(self, run_seconds=time.perf_counter() - started)
