"""An NNI trial's parameters, received as plain JSON (a shim for NNI 3.0's trial side).

NNI decodes a trial's parameter record with ``nni.load``, whose hooks unpickle
``{"__nni_obj__": base64}`` (cloudpickle) and import and call ``{"__nni_type__": "path:..."}``.
Anyone who can reach the manager's REST API (``POST /api/v1/nni/trial-jobs``, no
authentication) or write a trial's ``parameter.cfg`` could run code in the trial that way.
Our trials need labels mapped to strings only, so :func:`receive` asks NNI's own channel for
the record and decodes it with :func:`json.loads`: such markers stay inert data, and the
label check refuses them with one line.

The manager's REST API also lets anyone who reaches it add trials or stop the experiment.
NNI 3.0's manager listens on every interface unless ``nni_lista/localhost.js`` is preloaded,
so :func:`refuse_exposed_manager` stops a trial whose manager listens beyond loopback, unless
``NNI_LISTA_ALLOW_EXPOSED_MANAGER=1`` says the user means it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from typing import Callable, Optional
from urllib.parse import urlparse

from nni.runtime.trial_command_channel.base import TrialCommandChannel

from nni_lista.base.errors import UsageError, require, short

ALLOW_EXPOSED = "NNI_LISTA_ALLOW_EXPOSED_MANAGER"
PARAMETER_WAIT_SECONDS = (
    300  # how long a trial waits for a missing parameter.cfg (NNI writes it before the trial starts)
)
EMPTY_PARAMETER_WAIT_SECONDS = 3  # and for an empty one to be filled


def decode(text: str) -> dict:
    """A parameter record (of an HPO trial) ``{"parameter_id": ..., "parameters": {...}}`` from plain JSON."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        raise UsageError(f"the parameters from NNI are not JSON: {short(text)}") from None
    require(
        isinstance(record, dict) and "parameters" in record,
        f"the parameters from NNI are not a parameter record: {short(text)}",
    )
    require(
        isinstance(record["parameters"], dict),
        f"the parameters from NNI must map labels to values, not {short(record['parameters'])}",
    )
    return record


def _raw_record(channel) -> Optional[str]:
    """The record's text from NNI's own channel, without NNI's decoding."""
    from nni.runtime.trial_command_channel.local_legacy import LocalLegacyTrialCommandChannel
    from nni.runtime.trial_command_channel.v3 import TrialCommandChannelV3

    if isinstance(channel, TrialCommandChannelV3):  # the local training service (HTTP channel)
        channel._channel.send({"type": "request_parameter"})
        reply = channel._channel.receive()
        return None if reply is None else str(reply["parameter"])
    if isinstance(channel, LocalLegacyTrialCommandChannel):  # remote and legacy services: NNI_SYS_DIR/parameter.cfg
        path = os.path.join(channel._sysdir, "parameter.cfg")
        if not os.path.isfile(path):
            channel._request_next_parameter()
        started = time.monotonic()
        while not (os.path.isfile(path) and os.path.getsize(path) > 0):
            # NNI writes the file before it starts the trial: an empty one gets a moment to fill, a missing one longer
            wait = EMPTY_PARAMETER_WAIT_SECONDS if os.path.isfile(path) else PARAMETER_WAIT_SECONDS
            require(
                time.monotonic() - started < wait,
                f"no parameters from NNI after {wait:g} s: {path} is "
                f"{'empty' if os.path.isfile(path) else 'missing'}; the trial fails",
            )
            time.sleep(0.2)
        channel._param_index += 1
        with open(path, encoding="utf-8") as file:
            return file.read()
    return None  # standalone: not started by NNI


class VettedChannel(TrialCommandChannel):
    """NNI's trial command channel with the parameter record decoded by ``decode`` (a function of
    the record's text) instead of ``nni.load``; metrics go through NNI's channel unchanged."""

    def __init__(self, inner, decode: Callable[[str], dict]):
        self.inner, self.decode = inner, decode

    def receive_parameter(self) -> Optional[dict]:
        text = _raw_record(self.inner)
        return None if text is None else self.decode(text)

    def send_metric(self, *args, **kwargs) -> None:
        self.inner.send_metric(*args, **kwargs)


def install(decode: Callable[[str], dict]) -> None:
    """From now on ``nni.get_next_parameter()`` in this process decodes with ``decode``."""
    from nni.runtime.trial_command_channel import get_default_trial_command_channel, set_default_trial_command_channel

    set_default_trial_command_channel(VettedChannel(get_default_trial_command_channel(), decode))


def receive() -> Optional[dict]:
    """This trial's parameters as plain JSON (``None`` outside NNI), through ``nni.get_next_parameter()``."""
    import nni

    install(decode)
    return nni.get_next_parameter()


# The symbols that a NAS trial of `nni-lista search --port` may import: its model space, its
# evaluator and NNI's containers for them (the "simplified" model format).
NAS_SYMBOLS = frozenset(
    {
        "path:nni_lista.space.spaces.LISTASpace",
        "path:nni_lista.space.ladmm.DLADMMSpace",
        "path:nni_lista.search.evaluators.train_architecture",
        "path:nni.nas.evaluator.functional.FunctionalEvaluator",
        "path:nni.nas.space.metrics.Metrics",
        "path:nni.nas.space.space.SimplifiedModelSpace",
    }
)
_SYMBOL_KEYS = ("__nni_type__", "__symbol__", "__instance_type__")
_STRUCTURE_KEYS = ("__kwargs__", "__args__")


def _vet(node, where: str = "parameter") -> None:
    if isinstance(node, list):
        for item in node:
            _vet(item, where)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _SYMBOL_KEYS:
                require(
                    isinstance(value, str) and value in NAS_SYMBOLS,
                    f"the NAS parameter names {short(value)} at {where}: allowed are {', '.join(sorted(NAS_SYMBOLS))}",
                )
            elif key.startswith("__") and key.endswith("__") or key.startswith("_nni"):
                require(
                    key in _STRUCTURE_KEYS,
                    f"the NAS parameter holds {short(key)} at {where}: NNI would decode it as an object; refused",
                )
            _vet(value, f"{where}/{key}")


def nas_record(text: str) -> dict:
    """A NAS trial's parameter record, decoded by NNI only after every object it names is one of
    :data:`NAS_SYMBOLS` and nothing in it would be unpickled."""
    import nni

    try:
        plain = json.loads(text)
    except (ValueError, RecursionError):
        raise UsageError(f"the parameters from NNI are not JSON: {short(text)}") from None
    _vet(plain)
    return nni.load(text)


def manager_port(channel_url: str) -> Optional[int]:
    """The manager's port in a trial's ``NNI_TRIAL_COMMAND_CHANNEL`` URL (``None`` if none)."""
    return urlparse(channel_url).port if channel_url else None


def exposed(addresses: list[str]) -> list[str]:
    """The listening addresses that are not loopback."""
    return [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback]


def refuse_exposed_manager(channel: str = "NNI_TRIAL_COMMAND_CHANNEL") -> None:
    """One-line error if the manager behind the command channel in environment variable
    ``channel`` listens beyond loopback (and the user did not opt in): a trial's channel, or the
    tuner dispatcher's ``NNI_TUNER_COMMAND_CHANNEL`` (:mod:`nni_lista.search.tuners`, which
    stops the experiment at its start). A trial checks where the manager is local
    (``NNI_PLATFORM`` local): on a remote worker the command channel is NNI's worker daemon, and
    the manager runs on another machine; the dispatcher always runs beside the manager."""
    port = manager_port(os.environ.get(channel, ""))
    if port is None or os.environ.get(ALLOW_EXPOSED) == "1" or os.environ.get("NNI_PLATFORM", "local") != "local":
        return
    import psutil

    try:
        addresses = [
            c.laddr.ip for c in psutil.net_connections(kind="tcp") if c.status == "LISTEN" and c.laddr.port == port
        ]
    except (psutil.Error, OSError):
        return  # cannot see the sockets here (another OS, no /proc): nothing to decide on
    bad = exposed(addresses)
    require(
        not bad,
        f"NNI's manager on port {port} listens on {', '.join(bad)}: anyone who reaches it can add trials and stop "
        f"the experiment; start it with NODE_OPTIONS=--require=<repo>/nni_lista/localhost.js (docs/searching.md), "
        f"or set {ALLOW_EXPOSED}=1 to run anyway",
    )
