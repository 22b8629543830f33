"""Measured latency of the LISTA design space, as an NNI ``ExpressionProfiler``.

A network's forward latency is modelled as a sum of one term per choice, each measured on the
target device for the problem's size and a batch size (a lookup table, as NNI's docs advise
where nn-Meter does not apply):

    latency = c + [lista form present] t_Bb + sum_k ( t_form(k, form_k) + t_neuron(k, neuron_k)
              + t_skip * #{skips on into layer k} )

``t_form`` and ``t_neuron`` are timed forward calls of the space's own modules (weight forms
and neurons, per layer ``k``, since layer 1 and the support-selection share differ), ``t_skip``
of one gated skip added to the merge, ``t_Bb`` of the shared ``B b``; each time is the fastest
of repeated calls. The constant ``c`` (Python and framework overhead) is
the median, over the five named networks (LISTA, LISTA-CP, LISTA-CPSS, ALISTA, dense), of what
the whole frozen network measures beyond the sum of its parts. Because the model is one
``switch_case`` per label, NNI's ``ExpectationProfilerPenalty`` makes it differentiable for
DARTS, GumbelDARTS and Proxyless, and ``RangeProfilerFilter`` uses it for RandomOneShot.

A table is keyed by the device, sizes, batch, thread count and library versions
(:func:`table_key`); a table measured elsewhere is refused, not reused.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import torch

from nni_lista.space import nni_import  # noqa: F401  (NNI imported without its two harmless warnings)
from nni.mutable import MutableExpression
from nni.nas.profiler import ExpressionProfiler

from nni_lista.base.errors import UsageError, require
from nni_lista.base.io import write_json
from nni_lista.models.family import DEFAULT_LAM, lipschitz
from nni_lista.space.layers import FORMS, WEIGHT_FORMS, GatedSkip, MeasurementMap
from nni_lista.space.neurons import NEURONS

TABLE_FORMAT = 1


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

    return {"format": TABLE_FORMAT, "device": device_name(device), "m": m, "n": n, "layers": layers, "batch": batch,
            "torch": torch.__version__, "nni": nni.__version__}


@dataclass
class LatencyTable:
    """Per-choice latencies in milliseconds (see the module docstring)."""

    key: dict
    constant_ms: float
    measure_ms: float
    skip_ms: float
    forms: dict  # weight form -> [ms of layer 1, ..., layer T]
    neurons: dict  # neuron -> [ms of layer 1, ..., layer T]

    def save(self, path: Path) -> None:
        write_json(Path(path), asdict(self))

    @classmethod
    def load(cls, path: Path, key: Optional[dict] = None) -> "LatencyTable":
        """The table in ``path``; with ``key``, refused (one line) unless measured for it."""
        try:
            data = json.loads(Path(path).read_text())
            table = cls(**data)
        except (OSError, UnicodeDecodeError, ValueError, TypeError, RecursionError):
            raise UsageError(f"{str(path)!r} is not a latency table written by `nni-lista latency`") from None
        if key is not None:
            differ = sorted(k for k in set(key) | set(table.key) if key.get(k) != table.key.get(k))
            require(not differ, f"the latency table {str(path)!r} was measured for other {', '.join(differ)} "
                                f"({', '.join(f'{k}={table.key.get(k)!r}' for k in differ)}): measure one for this search")
        return table


def _timer(device: str, repeats: int) -> Callable[[Callable[[], object]], float]:
    sync = (lambda: torch.cuda.synchronize(torch.device(device))) if device.startswith("cuda") else (lambda: None)

    def time_ms(call: Callable[[], object]) -> float:
        """Fastest wall time of ``call`` over ``repeats`` calls in ms, after warm-up calls (on a
        shared machine other work only ever adds time, so the minimum is the stable estimate)."""
        with torch.no_grad():
            for _ in range(3):
                call()
            sync()
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                call()
                sync()
                times.append(time.perf_counter() - started)
        return min(times) * 1e3
    return time_ms


def measure_network(model, b: torch.Tensor, repeats: int = 30, device: str = "cpu") -> float:
    """Forward latency (ms, fastest of ``repeats`` calls) of a frozen network on the batch ``b``."""
    return _timer(device, repeats)(lambda: model(b))


def measure_table(m: int, n: int, layers: int, batch: int, device: str = "cpu", repeats: int = 30,
                  progress: bool = True, seed: int = 0) -> LatencyTable:
    """Time every choice of the space (all weight forms and neurons at every layer, a skip,
    ``B b``) on ``device`` for an ``m x n`` problem at ``batch``; then the constant from the five
    named networks."""
    from tqdm import tqdm

    from nni_lista.space.spaces import NAMED_ARCHITECTURES, build, named_architecture

    g = torch.Generator().manual_seed(seed)
    A = (torch.randn(m, n, generator=g) / m ** 0.5).to(device)
    b = torch.randn(batch, m, generator=g).to(device)
    u = torch.randn(batch, n, generator=g).to(device)
    time_ms = _timer(device, repeats)
    L = lipschitz(A.cpu())
    steps = layers * (len(WEIGHT_FORMS) + len(NEURONS)) + 2 + len(NAMED_ARCHITECTURES)
    with tqdm(total=steps, desc="latency table", unit="op", disable=not progress) as bar:
        measure = MeasurementMap(m, n).to(device)
        measure.initialise(A, L, DEFAULT_LAM)
        measure_ms = time_ms(lambda: measure(b))
        Bb = measure(b)
        bar.update(1)
        forms = {name: [] for name in WEIGHT_FORMS}
        neurons = {name: [] for name in NEURONS}
        for k in range(1, layers + 1):
            for name in WEIGHT_FORMS:
                module = FORMS[name](m, n, k == 1).to(device)
                module.initialise(A, L, DEFAULT_LAM)
                forms[name].append(time_ms(lambda: module((None if k == 1 else u, b, Bb))))
                bar.update(1)
            for name, make in NEURONS.items():
                neuron = make(k - 1).to(device)
                if hasattr(neuron, "initialise"):
                    neuron.initialise(A, L, DEFAULT_LAM)
                neurons[name].append(time_ms(lambda: neuron(u)))
                bar.update(1)
        skip = GatedSkip().to(device)
        skip_ms = time_ms(lambda: u + skip(u))
        bar.update(1)
        table = LatencyTable(table_key(m, n, layers, batch, device), 0.0, measure_ms, skip_ms, forms, neurons)
        residuals = []
        for name in NAMED_ARCHITECTURES:
            arch = named_architecture(name, layers)
            residuals.append(measure_network(build(arch, m, n, A.cpu()).to(device), b, repeats, device) - predict(table, arch, m, n))
            bar.update(1)
        table.constant_ms = statistics.median(residuals)
    return table


def load_or_measure(path: Optional[Path], m: int, n: int, layers: int, batch: int, device: str = "cpu",
                    progress: bool = False) -> LatencyTable:
    """The table in ``path`` when it was measured for these sizes, batch and this machine (another
    is refused, one line); else measured now and, with a ``path``, written there."""
    if path is not None and Path(path).is_file():
        return LatencyTable.load(path, table_key(m, n, layers, batch, device))
    table = measure_table(m, n, layers, batch, device, progress=progress)
    if path is not None:
        table.save(path)
    return table


def predict(table: LatencyTable, arch: dict, m: int, n: int) -> float:
    """The table's latency (ms) of a full-space architecture ``arch`` on an ``m x n`` problem."""
    from nni_lista.space.spaces import LISTASpace, validate

    return float(LatencyProfiler(LISTASpace.from_preset("full", m, n, validate(arch)), table).profile(arch))


def _term(per_value: dict, layer: int, choice) -> object:
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
        require(have.get("layers", 0) >= space.layers and (have.get("m"), have.get("n")) == (m, n),
                f"the latency table was measured for {have.get('m')}x{have.get('n')} and {have.get('layers')} layers, "
                f"not {m}x{n} and {space.layers}")
        mutables = space.simplify()
        choices = space.choices
        expression = table.constant_ms + (table.measure_ms if "lista" in choices["weight_forms"] else 0.0)
        for k in range(1, space.layers + 1):
            form = mutables.get(f"layer{k}/weight_form", choices["weight_forms"][0])
            neuron = mutables.get(f"layer{k}/neuron", choices["neurons"][0])
            expression = expression + _term(table.forms, k, form) + _term(table.neurons, k, neuron)
            for j in range(1, k - 1) if choices["skips"] else ():
                edge = mutables[f"layer{k}/skip_from{j}"]
                expression = expression + MutableExpression.switch_case(edge, {"off": 0.0, "on": table.skip_ms})
        self.expression = expression
