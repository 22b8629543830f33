"""The latency table's file: per-choice latencies in milliseconds, checked when read, without
torch or NNI (:mod:`nni_lista.search.latency` measures a table and builds NNI's profiler from it;
the model and the key are described there)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from nni_lista.base.errors import UsageError, require, short
from nni_lista.base.io import write_json
from nni_lista.base.limits import MAX_LAYERS, MAX_RECORD_BYTES, is_finite_number, is_int, read_bounded
from nni_lista.space.architectures import MECHANISM_VALUES, NEURON_NAMES, WEIGHT_FORMS


@dataclass
class LatencyTable:
    """Per-choice latencies in milliseconds (see the module docstring)."""

    key: dict
    constant_ms: float
    measure_ms: float
    skip_ms: float
    forms: dict  # weight form -> [ms of layer 1, ..., layer T]
    neurons: dict  # neuron -> [ms of layer 1, ..., layer T]
    mechanisms: dict  # dimension -> value -> [ms of layer 1, ..., layer T] (0 for "off" and where a layer has no label)

    def save(self, path: Path) -> None:
        write_json(Path(path), asdict(self))

    def problem(self) -> Optional[str]:
        """What makes this table unusable (``None`` when nothing does): every choice of the space
        needs one finite latency >= 0 per layer, ``key["layers"]`` of them."""
        layers = self.key.get("layers") if isinstance(self.key, dict) else None
        if not (is_int(layers) and 1 <= layers <= MAX_LAYERS):
            return f"key.layers {short(layers)} is not an integer in [1, {MAX_LAYERS}]"

        def latency(value: object) -> bool:
            return is_finite_number(value) and value >= 0

        def per_layer(where: str, table: object, names: tuple[str, ...]) -> Optional[str]:
            if not isinstance(table, dict) or set(table) != set(names):
                return f"{where} must map exactly {', '.join(names)} to latencies"
            for name in names:
                values = table[name]
                if not (isinstance(values, list) and len(values) == layers and all(map(latency, values))):
                    return f"{where}[{name!r}] must be a list of {layers} finite latencies >= 0 (ms), one per layer"
            return None

        for name in ("measure_ms", "skip_ms"):
            if not latency(getattr(self, name)):
                return f"{name} {short(getattr(self, name))} is not a finite latency >= 0 (ms)"
        found = per_layer("forms", self.forms, WEIGHT_FORMS) or per_layer("neurons", self.neurons, NEURON_NAMES)
        if found is None and (not isinstance(self.mechanisms, dict) or set(self.mechanisms) != set(MECHANISM_VALUES)):
            found = f"mechanisms must map exactly {', '.join(MECHANISM_VALUES)} to their values' latencies"
        for dimension, values in MECHANISM_VALUES.items():
            found = found or per_layer(f"mechanisms[{dimension!r}]", self.mechanisms[dimension], values)
        if found is not None:
            return found
        # the constant is a calibration offset (measured minus predicted), so it may be negative, but
        # not so negative that the cheapest network's prediction is: then every network would "fit"
        tables = [self.forms, self.neurons, *self.mechanisms.values()]
        cheapest = sum(min(values[k] for values in table.values()) for table in tables for k in range(layers))
        constant = self.constant_ms
        if not (is_finite_number(constant) and constant + cheapest >= 0):
            return (
                f"constant_ms {short(constant)} is not allowed: it must be a finite number >= {-cheapest:.4g}, or the "
                f"cheapest network's predicted latency would be negative"
            )
        return None

    @classmethod
    def load(cls, path: Path, key: Optional[dict] = None) -> "LatencyTable":
        """The table in ``path``; with ``key``, refused (one line) unless measured for it."""
        try:
            data = json.loads(read_bounded(Path(path), MAX_RECORD_BYTES, "latency table"))
            table = cls(**data)
        except (OSError, UnicodeDecodeError, ValueError, TypeError, RecursionError):
            raise UsageError(f"{str(path)!r} is not a latency table written by `nni-lista latency`") from None
        problem = table.problem()
        require(problem is None, f"{str(path)!r} is not a latency table written by `nni-lista latency`: {problem}")
        if key is not None:
            differ = sorted(k for k in set(key) | set(table.key) if key.get(k) != table.key.get(k))
            require(
                not differ,
                f"the latency table {str(path)!r} was measured for other {', '.join(differ)} "
                f"({', '.join(f'{k}={table.key.get(k)!r}' for k in differ)}): measure one for this search",
            )
        return table
