"""Sparse recovery problems: settings + seed in, a fixed problem instance out.

A problem measures a signal ``s`` with a sensing matrix ``Phi`` (m x d) and noise,
``b = Phi s + e``. The signal has a sparse code ``z`` under a synthesis matrix ``D``
(d x n), ``s = D z``; models see the operator ``A = Phi D`` (m x n), estimate ``z`` from
``b``, and are scored on ``D z_hat`` against ``s``.

* :func:`make_synthetic` -- the standard setting of the LISTA literature (``D = I``):
  ``A`` with i.i.d. N(0, 1/m) entries and unit-norm columns, optionally with its singular
  values replaced by a geometric ladder of condition number ``kappa``; ``x*`` with a
  Bernoulli(p) support and N(0, 1) values; Gaussian noise at a given SNR in dB.
* :func:`make_image_cs` -- compressive sensing of grey 16x16 patches of the natural images
  scikit-learn ships, under a dictionary learned (scikit-learn) on patches of the other
  image, with a Gaussian ``Phi``.

Batches are rows: ``b`` is (batch, m), ``s`` is (batch, d). Validation and test sets are
fixed by the seed; the training stream draws fresh samples from a generator the trainer
seeds. :func:`save` / :func:`load` keep one instance in one file so that different runs
solve the very same problem.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from typing import Optional

import numpy as np
import torch

from nni_lista.base.errors import UsageError, require, short
from nni_lista.base.io import from_json_safe, json_safe, torch_save
from nni_lista.base.limits import is_int

FILE_FORMAT = "nni-lista-problem"
FILE_VERSION = 1
#: the kinds of problem file: generated synthetic, natural-image CS, or a user's own matrix
#: (:mod:`nni_lista.problem.own_data`)
KINDS = ("synthetic", "image-cs", "matrix")


def seeded_generator(seed: int, *purpose: int) -> torch.Generator:
    """A torch generator whose stream depends only on ``seed`` and ``purpose``."""
    state = np.random.SeedSequence([int(seed), *map(int, purpose)]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def seed_from(value: object) -> int:
    """A 32-bit seed fixed by a JSON-able ``value`` (sha256 of its sorted JSON): how a search's
    strategy seed and a study setting's problem seed are derived from ``--seed`` and what they
    belong to."""
    return int(hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:8], 16)


# purposes of the derived generators
_MATRIX, _VAL, _TEST, _DICTIONARY = 0, 1, 2, 3


def _check_snr(snr_db: float) -> None:
    require(
        isinstance(snr_db, (int, float)) and not math.isnan(snr_db) and snr_db != -math.inf,
        f"snr {short(snr_db)} is not allowed: give a finite number of dB or 'inf' for noiseless",
    )


def _check_count(name: str, value: int, low: int, high: Optional[int] = None) -> None:
    ok = is_int(value) and value >= low
    ok = ok and (high is None or value <= high)
    allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
    require(ok, f"{name} {short(value)} is not allowed: it must be an integer {allowed}")


@dataclass(frozen=True)
class SyntheticSettings:
    """Settings of the synthetic problem (docs/problem-and-family.md)."""

    m: int = 250
    n: int = 500
    p: float = 0.1
    snr_db: float = math.inf
    kappa: Optional[float] = None
    seed: int = 0
    n_val: int = 1000
    n_test: int = 1000

    def __post_init__(self) -> None:
        _check_count("n", self.n, 2)
        _check_count("m", self.m, 1, self.n)
        require(
            isinstance(self.p, (int, float)) and not isinstance(self.p, bool) and 0.0 < self.p <= 1.0,
            f"p {short(self.p)} is not allowed: the sparsity must be in (0, 1]",
        )
        _check_snr(self.snr_db)
        require(
            self.kappa is None
            or (isinstance(self.kappa, (int, float)) and math.isfinite(self.kappa) and self.kappa >= 1.0),
            f"kappa {short(self.kappa)} is not allowed: the condition number must be a number >= 1, or none",
        )
        _check_count("seed", self.seed, 0)
        _check_count("n_val", self.n_val, 1)
        _check_count("n_test", self.n_test, 1)


@dataclass(frozen=True)
class ImageCSSettings:
    """Settings of natural-image compressive sensing of grey patches."""

    patch: int = 16
    n_atoms: int = 512
    m: int = 128
    snr_db: float = math.inf
    seed: int = 0
    n_dictionary_patches: int = 6000
    n_train_patches: int = 20000
    n_val: int = 1000
    n_test: int = 1000

    def __post_init__(self) -> None:
        _check_count("patch", self.patch, 2, 64)
        _check_count("n_atoms", self.n_atoms, 2)
        _check_count("m", self.m, 1, self.patch**2)
        _check_snr(self.snr_db)
        _check_count("seed", self.seed, 0)
        for name in ("n_dictionary_patches", "n_train_patches", "n_val", "n_test"):
            _check_count(name, getattr(self, name), 1)


# The problem vocabulary users write (command-line options, study YAML), per kind; two names
# differ from the settings' fields: snr -> snr_db, atoms -> n_atoms.
PROBLEM_FIELDS = {
    "synthetic": ("m", "n", "p", "snr", "kappa", "seed"),
    "image-cs": ("m", "patch", "atoms", "snr", "seed"),
}
_FIELD = {"snr": "snr_db", "atoms": "n_atoms"}


def problem_settings(kind: str, values: dict, where: Optional[str] = None) -> "SyntheticSettings | ImageCSSettings":
    """The settings of a ``kind`` problem from the names users write (``m n p snr kappa seed``;
    ``m patch atoms snr seed`` for ``image-cs``): the one mapping every front end uses; a bad
    kind, key or value is a one-line error (prefixed with ``where``, e.g. a study's setting)."""
    prefix = f"{where}: " if where else ""
    require(
        isinstance(kind, str) and kind in PROBLEM_FIELDS,
        f"{prefix}kind {short(kind)} is not allowed: choose one of {', '.join(PROBLEM_FIELDS)}",
    )
    for key in values:
        require(
            key in PROBLEM_FIELDS[kind],
            f"{prefix}key {short(key)} does not apply to a {kind} problem: allowed are "
            f"{', '.join(PROBLEM_FIELDS[kind])}",
        )
    args = {_FIELD.get(k, k): v for k, v in values.items()}
    if "snr_db" in args:
        try:
            args["snr_db"] = float(args["snr_db"])
        except (TypeError, ValueError):
            raise UsageError(
                f"{prefix}snr {short(args['snr_db'])} is not allowed: give a number of dB or 'inf'"
            ) from None
    try:
        return (SyntheticSettings if kind == "synthetic" else ImageCSSettings)(**args)
    except UsageError as exc:
        raise UsageError(f"{prefix}{exc}") from None


@dataclass
class Split:
    """A fixed set of measurements ``b`` (N, m) and true signals ``s`` (N, d)."""

    b: torch.Tensor
    s: torch.Tensor


@dataclass
class Problem:
    """One problem instance. ``synthesis`` is ``None`` when the signal is the code (D = I)."""

    kind: str
    settings: dict
    sensing: torch.Tensor
    val: Split
    test: Split
    synthesis: Optional[torch.Tensor] = None
    train_pool: Optional[torch.Tensor] = None
    p: float = 0.1
    snr_db: float = math.inf
    _A: Optional[torch.Tensor] = field(default=None, repr=False)

    @property
    def A(self) -> torch.Tensor:
        """The operator the models see, ``Phi D`` (m x n)."""
        if self._A is None:
            self._A = self.sensing if self.synthesis is None else self.sensing @ self.synthesis
        return self._A

    @property
    def m(self) -> int:
        return self.A.shape[0]

    @property
    def n(self) -> int:
        return self.A.shape[1]

    @classmethod
    def from_matrix(cls, matrix, **options) -> "Problem":
        """A problem on your own ``m x n`` matrix (numpy array or tensor), codes drawn from a seed:
        :func:`nni_lista.problem.own_data.from_matrix` (options ``p``, ``snr_db``, ``seed``, ``n_val``,
        ``n_test``, ``dictionary``, ``normalise``)."""
        from nni_lista.problem.own_data import from_matrix

        return from_matrix(matrix, **options)

    @classmethod
    def from_deepinv(cls, physics, image_size, basis="identity", **options) -> "Problem":
        """A problem on a deepinv linear physics (the optional extra, docs/deepinv.md) with a
        sparsifying basis (``identity``, ``dct`` or a ``d x n`` matrix):
        :func:`nni_lista.problem.deepinv_ops.from_physics`."""
        from nni_lista.problem.deepinv_ops import from_physics, require_deepinv

        require_deepinv()
        return from_physics(physics, image_size, basis, **options)

    @classmethod
    def from_arrays(cls, matrix, train, val, test, **options) -> "Problem":
        """A problem on your own matrix and your own training, validation and test sets:
        :func:`nni_lista.problem.own_data.from_arrays` (options ``snr_db``, ``seed``, ``dictionary``, ``normalise``)."""
        from nni_lista.problem.own_data import from_arrays

        return from_arrays(matrix, train, val, test, **options)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Signal from code, ``s = D z`` (rows)."""
        return z if self.synthesis is None else z @ self.synthesis.T

    def measure(self, s: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``b = Phi s + e`` with per-sample Gaussian noise at ``snr_db``."""
        clean = s @ self.sensing.T
        if math.isinf(self.snr_db):
            return clean
        power = clean.pow(2).mean(dim=1, keepdim=True)
        sigma = torch.sqrt(power / 10.0 ** (self.snr_db / 10.0))
        noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype, device=generator.device)
        return clean + sigma * noise.to(clean.device)

    def draw_signals(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """Fresh signals: ``D z`` for Bernoulli-Gaussian codes ``z``, or random rows of the training pool."""
        if self.train_pool is not None:
            index = torch.randint(self.train_pool.shape[0], (count,), generator=generator)
            return self.train_pool[index]
        codes = bernoulli_gaussian(count, self.n, self.p, generator).to(self.sensing.device, self.sensing.dtype)
        return self.decode(codes)

    def train_batch(self, batch: int, generator: torch.Generator) -> Split:
        """One fresh training batch, drawn from ``generator`` and put on this problem's device."""
        s = self.draw_signals(batch, generator).to(self.sensing.device)
        return Split(self.measure(s, generator), s)

    def to(self, device) -> "Problem":
        """This problem with its matrices and fixed sets on ``device`` (itself when already there)."""
        device = torch.device(device)
        if self.sensing.device == device:
            return self
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return replace(
            self,
            sensing=move(self.sensing),
            synthesis=move(self.synthesis),
            _A=move(self._A),
            val=Split(move(self.val.b), move(self.val.s)),
            test=Split(move(self.test.b), move(self.test.s)),
        )


def bernoulli_gaussian(count: int, n: int, p: float, generator: torch.Generator) -> torch.Tensor:
    """Sparse vectors: support ~ Bernoulli(p), values ~ N(0, 1)."""
    support = torch.rand((count, n), generator=generator) < p
    values = torch.randn((count, n), generator=generator)
    return values * support


def gaussian_matrix(m: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """i.i.d. N(0, 1/m) entries, then every column scaled to unit l2 norm (float64)."""
    A = torch.randn((m, n), generator=generator, dtype=torch.float64) / math.sqrt(m)
    return A / A.norm(dim=0, keepdim=True)


def with_condition_number(A: torch.Tensor, kappa: float) -> torch.Tensor:
    """Replace the singular values of ``A`` by a geometric ladder from 1 down to 1/kappa,
    then rescale so that ||A||_F^2 = n (the columns keep unit norm on average)."""
    U, _, Vh = torch.linalg.svd(A, full_matrices=False)
    k = U.shape[1]
    sv = torch.logspace(0.0, -math.log10(kappa), k, dtype=A.dtype)
    out = (U * sv) @ Vh
    return out * math.sqrt(A.shape[1]) / out.norm()


def make_synthetic(settings: SyntheticSettings = SyntheticSettings()) -> Problem:
    """The synthetic sparse-coding instance fixed by ``settings`` (seed included)."""
    A = gaussian_matrix(settings.m, settings.n, seeded_generator(settings.seed, _MATRIX))
    if settings.kappa is not None and settings.kappa > 1.0:
        A = with_condition_number(A, settings.kappa)
    problem = Problem(
        kind="synthetic",
        settings=asdict(settings),
        sensing=A.float(),
        val=Split(torch.empty(0), torch.empty(0)),
        test=Split(torch.empty(0), torch.empty(0)),
        p=settings.p,
        snr_db=settings.snr_db,
    )
    problem.val = problem.train_batch(settings.n_val, seeded_generator(settings.seed, _VAL))
    problem.test = problem.train_batch(settings.n_test, seeded_generator(settings.seed, _TEST))
    for name, split in (("validation", problem.val), ("test", problem.test)):
        require(
            bool(split.s.any()),
            f"p {settings.p!r} is too small for n={settings.n}: every signal of the {name} set is zero, "
            "so no NMSE can be measured; give a larger p",
        )
    return problem


def _grey_images() -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images

    images = load_sample_images().images  # china.jpg, flower.jpg; shipped with scikit-learn
    return [np.asarray(img, dtype=np.float64).mean(axis=2) / 255.0 for img in images]


def make_image_cs(settings: ImageCSSettings = ImageCSSettings()) -> Problem:
    """Compressive sensing of grey patches of scikit-learn's sample images.

    The dictionary (``n_atoms`` unit-norm atoms) is learned by scikit-learn's
    ``MiniBatchDictionaryLearning`` on patches of ``flower.jpg``; training, validation and
    test patches come from three disjoint vertical bands (60/20/20 %) of ``china.jpg``.
    Every patch is mean-centred (its own mean subtracted, as in the LISTA-CPSS reference code,
    Chen et al. 2018): the networks recover the patch's variation around its mean, which is
    side information added back for display. Pixels are in [0, 1]; PSNR uses peak 1, and the
    error of a centred patch is the error of the patch with its mean added back.
    """
    from sklearn.decomposition import MiniBatchDictionaryLearning
    from sklearn.feature_extraction.image import extract_patches_2d

    china, flower = _grey_images()
    size = (settings.patch, settings.patch)
    rng = np.random.RandomState(settings.seed)
    d = settings.patch**2

    def centred(patches: np.ndarray) -> np.ndarray:
        flat = patches.reshape(-1, d)
        return flat - flat.mean(axis=1, keepdims=True)

    dict_patches = centred(
        extract_patches_2d(flower, size, max_patches=settings.n_dictionary_patches, random_state=rng)
    )
    learner = MiniBatchDictionaryLearning(
        n_components=settings.n_atoms,
        alpha=0.1,
        batch_size=256,
        max_iter=5,
        random_state=settings.seed,
    )
    learner.fit(dict_patches)
    D = torch.from_numpy(learner.components_.T.copy())  # (d, n_atoms)
    D = D / D.norm(dim=0, keepdim=True).clamp_min(1e-12)

    width = china.shape[1]
    cuts = [0, int(0.6 * width), int(0.8 * width), width]
    bands = [china[:, cuts[i] : cuts[i + 1]] for i in range(3)]
    counts = [settings.n_train_patches, settings.n_val, settings.n_test]
    train, val, test = (
        torch.from_numpy(centred(extract_patches_2d(band, size, max_patches=count, random_state=rng))).float()
        for band, count in zip(bands, counts)
    )
    g = seeded_generator(settings.seed, _MATRIX)
    Phi = torch.randn((settings.m, d), generator=g, dtype=torch.float64) / math.sqrt(settings.m)
    problem = Problem(
        kind="image-cs",
        settings=asdict(settings),
        sensing=Phi.float(),
        synthesis=D.float(),
        val=Split(torch.empty(0), torch.empty(0)),
        test=Split(torch.empty(0), torch.empty(0)),
        train_pool=train,
        snr_db=settings.snr_db,
    )
    problem.val = Split(problem.measure(val, seeded_generator(settings.seed, _VAL)), val)
    problem.test = Split(problem.measure(test, seeded_generator(settings.seed, _TEST)), test)
    return problem


def save(problem: Problem, path: str | os.PathLike) -> None:
    """Write the whole instance (matrices, fixed sets, settings) to one file, atomically."""
    torch_save(
        path,
        {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "kind": problem.kind,
            "settings": json_safe(problem.settings),
            "sensing": problem.sensing,
            "synthesis": problem.synthesis,
            "train_pool": problem.train_pool,
            "val": [problem.val.b, problem.val.s],
            "test": [problem.test.b, problem.test.s],
            "p": problem.p,
            "snr_db": str(problem.snr_db),
        },
    )


def load(path: str | os.PathLike) -> Problem:
    """Read a file written by :func:`save`; a bad file raises :class:`UsageError`."""
    hint = "expected a problem file written by `nni-lista make-problem`"
    from nni_lista.base.limits import MAX_TENSOR_FILE_BYTES, check_regular_file

    try:
        check_regular_file(path, MAX_TENSOR_FILE_BYTES, "problem file")
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UsageError(f"problem file {str(path)!r} does not exist; {hint}") from None
    except UsageError:
        raise
    except Exception as exc:  # torch raises many kinds for a bad file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot read problem file {str(path)!r} ({reason[:120]}); {hint}") from None
    if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
        raise UsageError(f"problem file {str(path)!r} is not an nni-lista problem; {hint}")
    if data.get("version") != FILE_VERSION:
        raise UsageError(
            f"problem file {str(path)!r} has version {data.get('version')!r}; this nni-lista reads version "
            f"{FILE_VERSION}"
        )
    problem = _from_file_data(data, f"problem file {str(path)!r}")
    check_instance(problem, f"problem file {str(path)!r}")
    return problem


def _from_file_data(data: dict, where: str) -> Problem:
    """The :class:`Problem` of a loaded file's dict; missing or mistyped entries raise :class:`UsageError`."""
    missing = [
        k
        for k in ("kind", "settings", "sensing", "synthesis", "train_pool", "val", "test", "p", "snr_db")
        if k not in data
    ]
    require(
        not missing,
        f"{where} lacks {', '.join(map(repr, missing))}; it is damaged: make it again with `nni-lista make-problem`",
    )
    require(data["kind"] in KINDS, f"{where}: kind {short(data['kind'])} is not allowed: {', '.join(KINDS)}")
    require(isinstance(data["settings"], dict), f"{where}: settings {short(data['settings'])} must be a mapping")
    for name in ("val", "test"):
        pair = data[name]
        require(isinstance(pair, (list, tuple)) and len(pair) == 2, f"{where}: {name} must be a pair of tensors [b, s]")
    try:
        p, snr_db = float(data["p"]), float(data["snr_db"])
    except (TypeError, ValueError):
        raise UsageError(f"{where}: p {short(data['p'])} and snr_db {short(data['snr_db'])} must be numbers") from None
    return Problem(
        kind=data["kind"],
        settings=from_json_safe(data["settings"]),
        sensing=data["sensing"],
        synthesis=data["synthesis"],
        train_pool=data["train_pool"],
        val=Split(*data["val"]),
        test=Split(*data["test"]),
        p=p,
        snr_db=snr_db,
    )


def check_instance(problem: Problem, where: str) -> None:
    """Refuse an instance no model can be trained or scored on: tensors of the wrong kind or
    shape, non-finite entries, an all-zero operator, or an all-zero validation or test set."""

    def matrix(name: str, value: object, rows: Optional[int] = None, cols: Optional[int] = None) -> torch.Tensor:
        ok = (
            isinstance(value, torch.Tensor) and value.dim() == 2 and value.dtype.is_floating_point and value.numel() > 0
        )
        ok = ok and (rows is None or value.shape[0] == rows) and (cols is None or value.shape[1] == cols)
        found = (
            f"a {str(value.dtype).removeprefix('torch.')} tensor of shape {short(tuple(value.shape))}"
            if isinstance(value, torch.Tensor)
            else f"a {type(value).__name__}"
        )
        want = f"({'N' if rows is None else rows}, {'N' if cols is None else cols})"
        require(ok, f"{where}: expected {name} to be a non-empty float matrix of shape {want}, found {found}")
        # a stride-0 (expanded) tensor is a few bytes on disk and gigabytes once touched
        require(
            value.is_contiguous(),
            f"{where}: {name} is not a contiguous tensor (strides {short(value.stride())}); "
            "make the file again with `nni-lista make-problem`",
        )
        require(bool(torch.isfinite(value).all()), f"{where}: there are NaN or infinite entries in {name}")
        return value

    sensing = matrix("the sensing matrix", problem.sensing)
    m, d = sensing.shape
    if problem.synthesis is not None:
        matrix("the synthesis matrix", problem.synthesis, d)
    n = problem.synthesis.shape[1] if problem.synthesis is not None else d
    recorded = (
        {"m": m, "n": n}
        if problem.kind == "synthetic"
        else {"m": m, "patch": math.isqrt(d) if math.isqrt(d) ** 2 == d else None, "n_atoms": n}
    )
    for key, size in recorded.items():  # the settings are written to every result: they must say what the tensors are
        value = problem.settings.get(key, size) if isinstance(problem.settings, dict) else size
        require(value == size, f"{where}: its settings say {key} = {short(value)} but its tensors have {key} = {size}")
    require(bool(problem.A.any()), f"{where}: the operator A ({m}x{n}) is all zero")
    for name, split in (("validation", problem.val), ("test", problem.test)):
        b = matrix(f"the {name} measurements", split.b, cols=m)
        matrix(f"the {name} signals", split.s, b.shape[0], d)
        require(bool(split.s.any()), f"{where}: every signal of the {name} set is zero, so no NMSE can be measured")
    if problem.train_pool is not None:
        matrix("the training pool", problem.train_pool, cols=d)
    require(problem.train_pool is not None or 0.0 < problem.p <= 1.0, f"{where}: p {problem.p!r} is not in (0, 1]")
    require(
        not math.isnan(problem.snr_db) and problem.snr_db != -math.inf,
        f"{where}: snr_db {problem.snr_db!r} is not allowed",
    )


def instance_digest(problem: Problem) -> str:
    """sha256 of the instance itself (operator, fixed sets, training pool): two files with the same
    settings but different matrices have different digests, so a checkpoint cannot be resumed on the other."""
    import hashlib

    h = hashlib.sha256(problem.kind.encode())
    for tensor in (
        problem.sensing,
        problem.synthesis,
        problem.val.b,
        problem.val.s,
        problem.test.b,
        problem.test.s,
        problem.train_pool,
    ):
        if tensor is None:
            h.update(b"none")
            continue
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def problem_spec(settings: Optional[SyntheticSettings] = None, file: Optional[str] = None) -> dict:
    """The small, JSON-safe description of a problem instance: synthetic settings, or a file.

    NNI evaluators carry this instead of tensors (docs/nni-notes.md)."""
    if file is not None:
        return {"file": str(file)}
    settings = settings or SyntheticSettings()
    return {"synthetic": json_safe(asdict(settings))}


def check_spec(spec: object, where: str = "the problem") -> None:
    """Refuse a problem spec that is not one :func:`problem_spec` could have made (a file path, or
    valid synthetic settings), in one line, before anything is built (specs are read back from
    results files a user may have edited); the memory an instance needs is checked when it is made."""
    ok = (
        isinstance(spec, dict)
        and len(spec) == 1
        and (isinstance(spec.get("file"), str) or isinstance(spec.get("synthetic"), dict))
    )
    require(
        ok, f"{where}: {short(spec)} is not a problem spec: expected {{'file': PATH}} or {{'synthetic': {{settings}}}}"
    )
    if "synthetic" in spec:
        fields = set(SyntheticSettings.__dataclass_fields__)
        unknown = [k for k in spec["synthetic"] if k not in fields]
        require(
            not unknown,
            f"{where}: synthetic setting {short(unknown[0]) if unknown else ''} is not one of "
            f"{', '.join(sorted(fields))}",
        )
        try:
            SyntheticSettings(**from_json_safe(spec["synthetic"]))
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None


@functools.lru_cache(maxsize=4)
def _problem(spec_json: str) -> Problem:
    from nni_lista.base.limits import check_memory

    spec = json.loads(spec_json)
    if "file" in spec:
        return load(spec["file"])
    settings = SyntheticSettings(**from_json_safe(spec["synthetic"]))
    check_memory(
        f"a {settings.m}x{settings.n} problem", settings.m, settings.n, n_fixed=settings.n_val + settings.n_test
    )
    return make_synthetic(settings)


def resolve_problem(spec: dict) -> Problem:
    """The problem instance of ``spec`` (built once per process), checked first (:func:`check_spec`)."""
    check_spec(spec)
    return _problem(json.dumps(spec, sort_keys=True))
