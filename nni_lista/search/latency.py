"""Measured latency of the LISTA design space, as an NNI ``ExpressionProfiler``.

A network's forward latency is modelled as a sum of one term per choice, each measured on the
target device for the problem's size and a batch size (a lookup table, as NNI's docs advise
where nn-Meter does not apply):

    latency = c + [lista form present] t_Bb + sum_k ( t_form(k, form_k) + t_neuron(k, neuron_k)
              + sum_d t_d(k, value_{k,d}) + t_skip * #{skips on into layer k} )

where ``d`` runs over the post-ALISTA mechanisms (threshold shape, gain gate, overshoot,
momentum; :mod:`nni_lista.space.mechanisms`), whose "off" values cost 0 (a frozen network
skips them).

``t_form`` and ``t_neuron`` are timed forward calls of the space's own modules (weight forms
and neurons, per layer ``k``, since layer 1 and the support-selection share differ), ``t_skip``
of one gated skip added to the merge, ``t_Bb`` of the shared ``B b``; each time is the fastest
of repeated calls, timed interleaved with every other entry (:func:`fastest_ms`). The constant ``c`` (Python and
framework overhead) is
the median, over the five named networks (LISTA, LISTA-CP, LISTA-CPSS, ALISTA, dense), of what
the whole frozen network measures beyond the sum of its parts. Because the model is one
``switch_case`` per label, NNI's ``ExpectationProfilerPenalty`` makes it differentiable for
DARTS, GumbelDARTS and Proxyless, and ``RangeProfilerFilter`` uses it for RandomOneShot.

A table is keyed by the device, sizes, batch, thread count and library versions
(:func:`table_key`); a table measured elsewhere is refused, not reused.
"""

from __future__ import annotations

import platform
import random
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from nni_lista.space import nni_import  # noqa: F401  (NNI imported without its two harmless warnings)
from nni.mutable import MutableExpression
from nni.nas.profiler import ExpressionProfiler

from nni_lista.base.errors import require
from nni_lista.models.family import DEFAULT_LAM, lipschitz
from nni_lista.space.layers import FORMS, GatedSkip, MeasurementMap
from nni_lista.space.architectures import WEIGHT_FORMS, in_layer
from nni_lista.search.latency_table import LatencyTable
from nni_lista.space.mechanisms import MECHANISMS, OFF
from nni_lista.space.neurons import NEURONS

TABLE_FORMAT = 2  # 2: the post-ALISTA mechanisms' entries


def device_name(device: str) -> str:
    """What the table was measured on: the GPU's name, or the CPU's model and core count."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu} ({torch.get_num_threads()} threads)"


def table_key(m: int, n: int, layers: int, batch: int, device: str) -> dict:
    """What a latency table depends on; a table is used only where its key matches."""
    import nni

    return {
        "format": TABLE_FORMAT,
        "device": device_name(device),
        "m": m,
        "n": n,
        "layers": layers,
        "batch": batch,
        "torch": torch.__version__,
        "nni": nni.__version__,
    }


def fastest_ms(
    calls: dict, rounds: int = 100, device: str = "cpu", seed: int = 0, progress: Optional[Callable[[], None]] = None
) -> dict:
    """Fastest wall time in ms of each call of ``calls`` (name -> zero-argument callable), timed
    **interleaved**: ``rounds`` rounds, each calling every entry in a freshly shuffled order, twice
    in a row (the second call is timed, with the entry's weights in cache).

    On a shared machine other work only ever adds time, so the fastest call is the stable
    estimate; but the machine's speed also changes for stretches of seconds (the fastest of 300
    calls of one network moved by up to 2x within half a minute, benchmarks/latency_drift.py).
    Interleaving spreads every entry's calls over the whole measurement, so all entries are
    timed in the same states of the machine and their ratios stay comparable."""
    sync = (lambda: torch.cuda.synchronize(torch.device(device))) if device.startswith("cuda") else (lambda: None)
    names = list(calls)
    best = {name: float("inf") for name in names}
    order = random.Random(seed)
    with torch.no_grad():
        for name in names:  # warm-up
            for _ in range(3):
                calls[name]()
        sync()
        for _ in range(rounds):
            order.shuffle(names)
            for name in names:
                calls[name]()  # untimed: the entry's weights back in cache, as when a network runs on and on
                sync()
                started = time.perf_counter()
                calls[name]()
                sync()
                best[name] = min(best[name], time.perf_counter() - started)
            if progress is not None:
                progress()
    return {name: best[name] * 1e3 for name in calls}


def measure_network(model, b: torch.Tensor, repeats: int = 100, device: str = "cpu") -> float:
    """Forward latency (ms, fastest of ``repeats`` calls) of a frozen network on the batch ``b``."""
    return fastest_ms({"network": lambda: model(b)}, repeats, device)["network"]


def measure_table(
    m: int,
    n: int,
    layers: int,
    batch: int,
    device: str = "cpu",
    repeats: int = 100,
    progress: bool = True,
    seed: int = 0,
    networks: Optional[dict] = None,
) -> tuple[LatencyTable, dict]:
    """Time every choice of the space (all weight forms and neurons at every layer, a skip,
    ``B b``) on ``device`` for an ``m x n`` problem at ``batch``, and the five named networks,
    for the constant (the median of what each measures beyond the sum of its parts), all
    interleaved (:func:`fastest_ms`, ``repeats`` rounds). ``networks`` (name -> architecture)
    are timed in the same rounds; returns the table and their measured ms."""
    from tqdm import tqdm

    from nni_lista.space.architectures import NAMED_ARCHITECTURES, named_architecture
    from nni_lista.space.spaces import build

    g = torch.Generator().manual_seed(seed)
    A = (torch.randn(m, n, generator=g) / m**0.5).to(device)
    b = torch.randn(batch, m, generator=g).to(device)
    u = torch.randn(batch, n, generator=g).to(device)
    L = lipschitz(A.cpu())
    measure = MeasurementMap(m, n).to(device)
    measure.initialise(A, L, DEFAULT_LAM)
    Bb = measure(b)
    calls: dict[tuple, Callable[[], object]] = {("measure",): lambda: measure(b)}
    for k in range(1, layers + 1):
        for name in WEIGHT_FORMS:
            form = FORMS[name](m, n, k == 1).to(device)
            form.initialise(A, L, DEFAULT_LAM)
            calls[("form", name, k)] = (lambda module, v: lambda: module((v, b, Bb)))(form, None if k == 1 else u)
        for name, make in NEURONS.items():
            neuron = make(k - 1).to(device)
            if hasattr(neuron, "initialise"):
                getattr(neuron, "initialise")(A, L, DEFAULT_LAM)
            calls[("neuron", name, k)] = (lambda neuron: lambda: neuron(u))(neuron)
        for dimension, values in MECHANISMS.items():
            for name, make in values.items():
                module = make(m, n, k == 1).to(device)
                if isinstance(module, OFF) or not in_layer(dimension, k):
                    continue
                module.initialise(A, L, DEFAULT_LAM)
                calls[(dimension, name, k)] = (lambda module, args: lambda: module(args))(
                    module, _mechanism_input(dimension, k, u, b)
                )
    skip = GatedSkip().to(device)
    calls[("skip",)] = lambda: u + skip(u)
    archs = {("named", name): named_architecture(name, layers) for name in NAMED_ARCHITECTURES}
    archs.update({("network", name): arch for name, arch in (networks or {}).items()})
    for key, arch in archs.items():
        calls[key] = (lambda model: lambda: model(b))(build(arch, m, n, A.cpu()).to(device))
    with tqdm(total=repeats, desc="latency table", unit="round", disable=not progress) as bar:
        ms = fastest_ms(calls, repeats, device, seed, progress=lambda: bar.update(1))
    table = LatencyTable(
        table_key(m, n, layers, batch, device),
        0.0,
        ms[("measure",)],
        ms[("skip",)],
        {name: [ms[("form", name, k)] for k in range(1, layers + 1)] for name in WEIGHT_FORMS},
        {name: [ms[("neuron", name, k)] for k in range(1, layers + 1)] for name in NEURONS},
        {
            dimension: {name: [ms.get((dimension, name, k), 0.0) for k in range(1, layers + 1)] for name in values}
            for dimension, values in MECHANISMS.items()
        },
    )
    table.constant_ms = statistics.median(
        ms[(kind, name)] - predict(table, arch, m, n) for (kind, name), arch in archs.items() if kind == "named"
    )
    return table, {name: ms[("network", name)] for name in (networks or {})}


def _mechanism_input(dimension: str, k: int, u: torch.Tensor, b: torch.Tensor):
    """What a mechanism's module takes in layer ``k`` (see :mod:`nni_lista.space.mechanisms`)."""
    previous = None if k == 1 else u
    return {
        "threshold": (previous, b),
        "gain_gate": u,
        "overshoot": (u, previous),
        "momentum": (u, None if k == 2 else u),
    }[dimension]


def load_or_measure(
    path: Optional[Path], m: int, n: int, layers: int, batch: int, device: str = "cpu", progress: bool = False
) -> LatencyTable:
    """The table in ``path`` when it was measured for these sizes, batch and this machine (another
    is refused, one line); else measured now and, with a ``path``, written there."""
    if path is not None and Path(path).is_file():
        return LatencyTable.load(path, table_key(m, n, layers, batch, device))
    table, _ = measure_table(m, n, layers, batch, device, progress=progress)
    if path is not None:
        table.save(path)
    return table


def predict(table: LatencyTable, arch: dict, m: int, n: int) -> float:
    """The table's latency (ms) of a full-space architecture ``arch`` on an ``m x n`` problem."""
    from nni_lista.space.architectures import validate, with_defaults
    from nni_lista.space.spaces import LISTASpace

    layers = validate(arch)
    return float(
        LatencyProfiler(LISTASpace.from_preset("full", m, n, layers), table).profile(with_defaults(arch, layers))
    )


def _term(per_value: dict, layer: int, choice) -> Any:
    """One layer's latency for a choice (``per_value``: name -> ms per layer): a number for a
    fixed part, a ``switch_case`` over the values of a label (an NNI ``Categorical``) otherwise."""
    if isinstance(choice, str):
        return per_value[choice][layer - 1]
    return MutableExpression.switch_case(choice, {value: per_value[value][layer - 1] for value in choice.values})


class LatencyProfiler(ExpressionProfiler):
    """NNI's ``ExpressionProfiler`` of the latency model above, for one space and one table."""

    def __init__(self, model_space, table: LatencyTable):
        space = model_space
        (m, n), have = space.sizes, table.key
        require(
            have.get("layers", 0) >= space.layers and (have.get("m"), have.get("n")) == (m, n),
            f"the latency table was measured for {have.get('m')}x{have.get('n')} and {have.get('layers')} layers, "
            f"not {m}x{n} and {space.layers}",
        )
        mutables = space.simplify()
        choices = space.choices
        expression = table.constant_ms + (table.measure_ms if "lista" in choices["weight_forms"] else 0.0)
        for k in range(1, space.layers + 1):
            form = mutables.get(f"layer{k}/weight_form", choices["weight_forms"][0])
            neuron = mutables.get(f"layer{k}/neuron", choices["neurons"][0])
            expression = expression + _term(table.forms, k, form) + _term(table.neurons, k, neuron)
            for dimension, values in space.config.layer_values(k).items():
                if dimension in table.mechanisms:
                    expression = expression + _term(
                        table.mechanisms[dimension], k, mutables.get(f"layer{k}/{dimension}", values[0])
                    )
            for j in range(1, k - 1) if choices["skips"] else ():
                edge = mutables[f"layer{k}/skip_from{j}"]
                expression = expression + MutableExpression.switch_case(edge, {"off": 0.0, "on": table.skip_ms})
        self.expression = expression
