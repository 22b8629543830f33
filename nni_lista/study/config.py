"""The study's configuration: one YAML file read into frozen dataclasses, every value checked
(types, ranges, names safe as path parts) before any work or file is written.

:class:`StudyConfig` holds the shared problem, the settings (each a problem of its own, with
its own seed: :func:`setting_seed`), the search plan, the training recipes and the optional
experiments of claims 2-4 (:class:`ConsistencyPlan`, :class:`DistributionsPlan`,
:class:`DladmmPlan`, :class:`NeuronsPlan`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional

from nni_lista.base.errors import UsageError, require, short
from nni_lista.base.limits import (
    MAX_BATCHES,
    MAX_RECORD_BYTES,
    check_count,
    check_layers,
    check_name,
    is_finite_number,
    is_int,
    read_bounded,
)
from nni_lista.models.family import DEFAULT_LAM, MODELS
from nni_lista.problem import problems
from nni_lista.problem.problems import PROBLEM_FIELDS
from nni_lista.search.strategy_names import STRATEGY_INFO
from nni_lista.space.backbones import BACKBONES
from nni_lista.train.training import TRAINING_PRESETS, TrainConfig


def _section(name: str, values: object, allowed: tuple[str, ...]) -> dict:
    """``values`` as a dict whose keys are all in ``allowed`` (else a one-line error)."""
    values = {} if values is None else values
    require(isinstance(values, dict), f"config section {short(name)} must be a mapping, not {type(values).__name__}")
    for key in values:
        require(
            isinstance(key, str) and key in allowed,
            f"unknown key {short(key)} in config section {short(name)}: allowed are {', '.join(map(str, allowed))}",
        )
    return dict(values)


def _training(name: str, values: object, defaults: dict) -> TrainConfig:
    keys = tuple(f.name for f in fields(TrainConfig) if f.name not in ("device", "target_db"))
    return TrainConfig.from_dict({**defaults, **_section(name, values, keys)})


def _check_preset(backbone: str, space: object) -> None:
    require(
        isinstance(space, str),
        f"space {short(space)} is not allowed: choose one of {', '.join(BACKBONES[backbone].presets)}",
    )
    BACKBONES[backbone].check_preset(space)


def _list(where: str, values: object) -> list:
    """``values`` as a list (a YAML list), else a one-line error."""
    require(isinstance(values, list), f"{where} {short(values)} is not allowed: give a list")
    return values


def _names(where: str, values: object) -> list:
    """``values`` as a list of strings (a YAML list), else a one-line error."""
    require(
        isinstance(values, list) and all(isinstance(v, str) for v in values),
        f"{where} {short(values)} is not allowed: give a list of names",
    )
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
        require(
            isinstance(self.strategy, str) and self.strategy in STRATEGY_INFO,
            f"strategy {short(self.strategy)} is not allowed: choose one of {', '.join(STRATEGY_INFO)}",
        )
        _check_preset("lista", self.space)
        require(
            is_int(self.seed) and self.seed >= 0,
            f"search seed {short(self.seed)} is not allowed: it must be an integer >= 0",
        )
        check_count(self.budget, "budget", MAX_BATCHES)
        require(
            is_int(self.top_k) and self.top_k >= 1,
            f"top_k {short(self.top_k)} is not allowed: it must be an integer >= 1",
        )
        if self.retrain_top is None:
            object.__setattr__(self, "retrain_top", self.top_k)
        require(
            is_int(self.retrain_top) and 1 <= self.retrain_top <= self.top_k,
            f"retrain_top {short(self.retrain_top)} is not allowed: it must be an integer in [1, top_k]",
        )


@dataclass(frozen=True)
class ConsistencyPlan:
    """Claim 3: the main search repeated with other ``seeds`` and other ``strategies`` on
    ``setting``; each correlation is tested against ``null_draws`` random top-k sets. With
    ``cold`` every consistency search (the main one repeated too) starts without the family's
    seeds. With ``null_pairs`` > 0 each pair of strategies also gets the null of its own search
    dynamics (``null_pairs`` pairs of the strategies on a synthetic fitness without signal,
    :mod:`nni_lista.study.power`) and the power to find a planted pattern of each of ``effects``
    (``power_pairs`` pairs each); a pair is then consistent above that null's 95th percentile."""

    setting: str
    seeds: tuple[int, ...] = ()
    strategies: tuple[str, ...] = ()
    null_draws: int = 1000
    cold: bool = False
    null_pairs: int = 0
    power_pairs: int = 10
    effects: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)

    def __post_init__(self) -> None:
        require(
            is_int(self.null_draws) and 10 <= self.null_draws <= 100_000,
            f"consistency.null_draws {short(self.null_draws)} is not allowed: it must be an integer in [10, 100000]",
        )
        require(
            all(is_int(v) and v >= 0 for v in self.seeds),
            f"consistency.seeds {short(list(self.seeds))} is not allowed: give a list of integers >= 0",
        )
        for strategy in self.strategies:
            SearchPlan(strategy=strategy)
        require(isinstance(self.cold, bool), f"consistency.cold {short(self.cold)} is not allowed: give true or false")
        for name, high in (("null_pairs", 1000), ("power_pairs", 1000)):
            value = getattr(self, name)
            require(
                is_int(value) and 0 <= value <= high,
                f"consistency.{name} {short(value)} is not allowed: it must be an integer in [0, {high}]",
            )
        require(
            0 < len(self.effects) <= 10 and all(is_finite_number(v) and v > 0 for v in self.effects),
            f"consistency.effects {short(list(self.effects))} is not allowed: give 1 to 10 numbers > 0",
        )


@dataclass(frozen=True)
class DistributionsPlan:
    """Design-space error distributions: ``samples`` random architectures of each of ``spaces``
    trained with ``training`` on ``setting``."""

    setting: str
    training: TrainConfig
    samples: int = 8
    spaces: tuple[str, ...] = ("lista", "connectivity", "neurons", "paper")

    def __post_init__(self) -> None:
        for space in self.spaces:
            _check_preset("lista", space)
        require(
            is_int(self.samples) and 2 <= self.samples <= 100_000,
            f"distributions.samples {short(self.samples)} is not allowed: it must be an integer in [2, 100000]",
        )


@dataclass(frozen=True)
class DladmmPlan:
    """Claim 4: D-LADMM plain, with the averaged LISTA skip pattern grafted on, with
    ``random_grafts`` random patterns of equal density, and searched directly (``strategy``,
    ``space``, ``budget``) on ``setting``."""

    setting: str
    strategy: str = "evolution"
    space: str = "paper"
    budget: int = 10
    random_grafts: int = 2

    def __post_init__(self) -> None:
        require(
            is_int(self.random_grafts) and 0 <= self.random_grafts <= 100,
            f"dladmm.random_grafts {short(self.random_grafts)} is not allowed: it must be an integer in [0, 100]",
        )
        SearchPlan(strategy=self.strategy, budget=self.budget)
        _check_preset("dladmm", self.space)


@dataclass(frozen=True)
class NeuronsPlan:
    """Claim 2: LISTA with one neuron type in every layer, each of the seven, on ``setting``."""

    setting: str


def _plain(section: Optional[object]) -> Optional[dict]:
    """A section as plain JSON values (``None`` stays ``None``), for ``study.json``."""
    if section is None:
        return None
    values = {}
    for f in fields(section):
        value = getattr(section, f.name)
        values[f.name] = (
            value.identity() if isinstance(value, TrainConfig) else list(value) if isinstance(value, tuple) else value
        )
    return values


@dataclass(frozen=True)
class StudyConfig:
    """A whole study; :meth:`load` reads it from YAML with one-line errors."""

    settings: dict  # name -> problem overrides (see :func:`problem_settings`)
    problem: dict = field(default_factory=dict)  # defaults shared by the synthetic settings
    layers: int = 16
    lam: float = DEFAULT_LAM
    baselines: tuple[str, ...] = tuple(MODELS)
    search: SearchPlan = SearchPlan()
    search_training: TrainConfig = TrainConfig(**TRAINING_PRESETS["search-proxy"])
    retrain: TrainConfig = TrainConfig(**TRAINING_PRESETS["retrain"])
    consistency: Optional[ConsistencyPlan] = None
    distributions: Optional[DistributionsPlan] = None
    dladmm: Optional[DladmmPlan] = None
    neurons: Optional[NeuronsPlan] = None
    training_seeds: tuple[int, ...] = (0, 1)  # every learned model of the table is trained once per seed

    @classmethod
    def load(cls, path: Path) -> "StudyConfig":
        import yaml

        try:
            data = yaml.safe_load(read_bounded(Path(path), MAX_RECORD_BYTES, "config file").decode())
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
        except (
            TypeError,
            ValueError,
            KeyError,
            AttributeError,
            RecursionError,
        ) as exc:  # a shape from_dict did not foresee
            raise UsageError(
                f"config file {str(path)!r} is not a valid study config ({short(str(exc), 120)})"
            ) from None

    @classmethod
    def from_dict(cls, data: object, where: str = "config") -> "StudyConfig":
        top = _section(
            where,
            data,
            (
                "problem",
                "layers",
                "lam",
                "settings",
                "baselines",
                "search",
                "retrain",
                "consistency",
                "distributions",
                "dladmm",
                "neurons",
                "training_seeds",
            ),
        )
        for name in top.get("settings") if isinstance(top.get("settings"), dict) else ():
            check_name(name, "setting")  # it becomes part of file names
        settings = _section("settings", top.get("settings"), tuple(top.get("settings") or ()))
        require(settings, "config section 'settings' must name at least one setting")
        for name, overrides in settings.items():
            problem_settings(top.get("problem") or {}, overrides or {}, name)  # check every setting now
        layers = check_layers(top.get("layers", 16), low=3)
        lam = top.get("lam", DEFAULT_LAM)
        require(is_finite_number(lam) and lam >= 0, f"lam {short(lam)} is not allowed: it must be a number >= 0")
        baselines = tuple(_names("baselines", top.get("baselines", list(MODELS))))
        unknown = [b for b in baselines if b not in MODELS]
        require(
            not unknown,
            f"baseline {short(unknown[0]) if unknown else ''} is not allowed: choose from {', '.join(MODELS)}",
        )
        search = _section(
            "search", top.get("search"), ("strategy", "space", "budget", "top_k", "retrain_top", "seed", "training")
        )
        plan = SearchPlan(**{k: v for k, v in search.items() if k != "training"})
        search_training = _training("search.training", search.get("training"), TRAINING_PRESETS["search-proxy"])
        retrain = _training("retrain", top.get("retrain"), TRAINING_PRESETS["retrain"])
        first = next(iter(settings))

        def optional(name: str, allowed: tuple[str, ...]) -> Optional[dict]:
            if top.get(name) is None:
                return None
            section = _section(name, top[name], allowed)
            section.setdefault("setting", first)
            require(
                isinstance(section["setting"], str) and section["setting"] in settings,
                f"{name}.setting {short(section['setting'])} is not allowed: choose one of {', '.join(settings)}",
            )
            return section

        training_seeds = top.get("training_seeds", [0, 1])
        require(
            isinstance(training_seeds, list)
            and 1 <= len(training_seeds) <= 20
            and all(is_int(v) and v >= 0 for v in training_seeds)
            and len(set(training_seeds)) == len(training_seeds),
            f"training_seeds {short(training_seeds)} is not allowed: give a list of 1 to 20 different integers >= 0",
        )
        consistency = optional(
            "consistency",
            ("setting", "seeds", "strategies", "null_draws", "cold", "null_pairs", "power_pairs", "effects"),
        )
        if consistency is not None:
            consistency = ConsistencyPlan(
                setting=consistency["setting"],
                null_draws=consistency.get("null_draws", 1000),
                seeds=tuple(_list("consistency.seeds", consistency.get("seeds", []))),
                strategies=tuple(_names("consistency.strategies", consistency.get("strategies", []))),
                cold=consistency.get("cold", False),
                null_pairs=consistency.get("null_pairs", 0),
                power_pairs=consistency.get("power_pairs", 10),
                effects=tuple(_list("consistency.effects", consistency.get("effects", [0.5, 1.0, 2.0, 4.0]))),
            )
        distributions = optional("distributions", ("setting", "samples", "spaces", "training"))
        if distributions is not None:
            distributions = DistributionsPlan(
                setting=distributions["setting"],
                samples=distributions.get("samples", 8),
                spaces=tuple(
                    _names("distributions.spaces", distributions.get("spaces", list(DistributionsPlan.spaces)))
                ),
                training=_training("distributions.training", distributions.get("training"), search_training.to_dict()),
            )
        neurons = optional("neurons", ("setting",))
        if neurons is not None:
            neurons = NeuronsPlan(setting=neurons["setting"])
        dladmm = optional("dladmm", ("setting", "strategy", "space", "budget", "random_grafts"))
        if dladmm is not None:
            dladmm = DladmmPlan(**{"strategy": plan.strategy, "budget": plan.budget, **dladmm})
        return cls(
            settings=settings,
            problem=top.get("problem") or {},
            layers=layers,
            lam=float(lam),
            baselines=baselines,
            search=plan,
            search_training=search_training,
            retrain=retrain,
            consistency=consistency,
            distributions=distributions,
            dladmm=dladmm,
            neurons=neurons,
            training_seeds=tuple(training_seeds),
        )

    def to_dict(self) -> dict:
        """The config as plain JSON values (``study.json``)."""
        return {
            "settings": self.settings,
            "problem": self.problem,
            "layers": self.layers,
            "lam": self.lam,
            "baselines": list(self.baselines),
            "training_seeds": list(self.training_seeds),
            "search": asdict(self.search),
            "search_training": self.search_training.identity(),
            "retrain": self.retrain.identity(),
            **{name: _plain(getattr(self, name)) for name in ("consistency", "distributions", "dladmm", "neurons")},
        }

    def check_memory(self) -> None:
        """One-line refusal when a setting's problem and models would not fit in memory."""
        _check_study_memory(self)


def _check_study_memory(config: "StudyConfig") -> None:
    """Refuse a study whose largest problem, depth and batch do not fit in the memory available."""
    from nni_lista.base.limits import check_memory

    trainings = [config.search_training, config.retrain] + (
        [config.distributions.training] if config.distributions else []
    )
    batch = max(t.batch for t in trainings)
    for name in config.settings:
        kind, p = problem_settings(config.problem, config.settings[name] or {}, name)
        if kind == "synthetic":
            m, n, d, fixed = p.m, p.n, p.n, p.n_val + p.n_test
        else:
            m, n, d, fixed = p.m, p.n_atoms, p.patch**2, p.n_val + p.n_test + p.n_train_patches
        check_memory(
            f"setting {name!r} (a {m}x{n} problem with {config.layers} layers and batch {batch})",
            m,
            n,
            config.layers,
            batch,
            fixed,
            d,
        )


def setting_seed(seed: int, setting: str) -> int:
    """The problem seed of a setting that does not give its own: ``seed`` and the setting's name
    hashed together (``sha256``, 31 bits), so that no two settings share an instance."""
    from nni_lista.problem.problems import seed_from

    return seed_from([seed, setting]) % 2**31


def problem_settings(
    base: dict, overrides: dict, name: str = "setting"
) -> tuple[str, "problems.SyntheticSettings | problems.ImageCSSettings"]:
    """The problem kind and settings of one setting.

    ``base`` holds defaults for synthetic settings (``m n p snr kappa seed``); a setting may
    override any of them, or say ``kind: image-cs`` and give ``m patch atoms snr seed``
    (only ``seed`` comes from ``base`` then). A setting without its own ``seed`` gets
    :func:`setting_seed` of the base seed and its name. The names are mapped onto the settings
    by :func:`nni_lista.problem.problems.problem_settings`, as the command line's are."""
    fields_ = PROBLEM_FIELDS
    overrides = _section(
        f"settings.{name}", overrides, ("kind", *sorted(set(fields_["synthetic"]) | set(fields_["image-cs"])))
    )
    kind = overrides.pop("kind", "synthetic")
    require(
        isinstance(kind, str) and kind in fields_,
        f"settings.{name}.kind {short(kind)} is not allowed: choose one of {', '.join(fields_)}",
    )
    base = _section("problem", base, fields_["synthetic"])
    values = {**base, **overrides} if kind == "synthetic" else {"seed": base.get("seed", 0), **overrides}
    if "seed" not in overrides:  # each setting its own instance (an explicit seed is kept as given)
        seed = values.get("seed", 0)
        require(is_int(seed) and seed >= 0, f"problem seed {short(seed)} is not allowed: it must be an integer >= 0")
        values["seed"] = setting_seed(seed, name)
    return kind, problems.problem_settings(kind, values, f"setting {name!r}")
