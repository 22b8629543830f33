"""Where NNI's manager and web UI listen.

NNI 3.0's manager (a node process) listens on every interface and has no option to change it
(docs/nni-notes.md). :data:`PRELOAD` is a node script that, given to node with
``NODE_OPTIONS=--require=...``, makes every server it opens listen on ``$NNI_LISTA_HOST``
(default 127.0.0.1). :func:`bound_to` sets both for the manager that this process starts.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import socket
import time
import urllib.request
from pathlib import Path
from typing import Iterator, Optional

from nni_lista.base.errors import UsageError, require, short

PRELOAD = Path(__file__).resolve().parents[1] / "localhost.js"  # nni_lista/localhost.js
ALL_INTERFACES = ("0.0.0.0", "::")


def check_host(host: str) -> str:
    """``host`` if it is an IP address to listen on, else a one-line error."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        require(
            False,
            f"host {host!r} is not allowed: give an IP address such as 127.0.0.1 (default) or 0.0.0.0 (all interfaces)",
        )
    return host


@contextlib.contextmanager
def bound_to(host: str = "127.0.0.1") -> Iterator[None]:
    """Within this block, a manager started by NNI listens on ``host`` only.

    ``0.0.0.0`` or ``::`` leave NNI's own behaviour (all interfaces)."""
    check_host(host)
    saved = {key: os.environ.get(key) for key in ("NODE_OPTIONS", "NNI_LISTA_HOST")}
    if host not in ALL_INTERFACES:
        os.environ["NODE_OPTIONS"] = " ".join(filter(None, [saved["NODE_OPTIONS"], f'--require="{PRELOAD}"']))
        os.environ["NNI_LISTA_HOST"] = host
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def url(host: str, port: int) -> str:
    """The web UI's address for a manager bound by :func:`bound_to`."""
    shown = "127.0.0.1" if host in ALL_INTERFACES else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def view(experiment_id: str, directory: Path, port: int, host: str = "127.0.0.1") -> int:
    """Serve the web UI of a stopped NAS experiment in the background (logs in its log/ folder); returns the
    manager's PID.

    ``nnictl view`` fails on NAS experiments in NNI 3.0 (it re-checks the stored config, whose
    ``searchSpace`` a NAS config refuses), so the stored config is loaded as a NAS config here
    and the manager started in view mode. ``nnictl stop ID`` stops it, as for any experiment.
    A manager that ends or never answers raises :class:`ViewFailed` (one line, NNI's own log
    lines held back: they name the log folder instead).
    """
    require(port_free(host, port), f"port {port} on {host} is in use: give another --port")
    running = serving(experiment_id, Path(directory))
    require(
        running is None,
        f"experiment {experiment_id} is already served by NNI's manager (pid {running and running[0]}, "
        f"port {running and running[1]}): open that web UI, or stop it with nnictl stop {experiment_id} first",
    )
    from nni_lista.space import nni_import  # noqa: F401  (NNI without gym's notice and torch 2.13's two warnings)
    from nni.experiment import RunMode, launcher
    from nni.nas.experiment.config import NasExperimentConfig

    stored = stored_config(experiment_id, Path(directory))
    stored.pop("searchSpace", None)
    stored.update(trialCodeDirectory=os.getcwd(), experimentWorkingDirectory=str(directory))
    try:
        config = NasExperimentConfig(**stored).canonical_copy()
    except Exception as exc:  # NNI's config classes raise many kinds for a config they refuse
        raise UsageError(
            f"the stored config of experiment {experiment_id!r} under {str(directory)!r} is not a NAS experiment "
            f"config NNI can load ({short(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 120)})"
        ) from None
    logs = Path(directory) / experiment_id / "log"
    what = f"NNI's manager for experiment {experiment_id} (logs: {logs})"
    with bound_to(host), _quiet("nni"):
        try:
            logs.mkdir(exist_ok=True)  # NNI's launcher writes the manager's output there and fails without it
            process = launcher.start_experiment("view", experiment_id, config, port, False, RunMode.Detach, None)
        except Exception as exc:  # the launcher kills a manager that did not answer, then re-raises what it saw
            # requests' errors are OSErrors
            unanswered = isinstance(exc, OSError) and not getattr(exc, "filename", None)
            reason = (
                "it ended or never answered"
                if unanswered
                else short(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", 160)
            )
            raise ViewFailed(f"{what} did not serve the web UI on port {port}: {reason}") from None
    wait_until_serving(process, host, port, what)
    return process.pid


def serving(experiment_id: str, directory: Path) -> Optional[tuple[int, Optional[str]]]:
    """``(pid, port)`` of a running NNI manager of this experiment (its command line names the
    experiment and its working directory), or ``None``: a second manager for one experiment is
    one that ``nnictl stop`` cannot end."""
    import psutil

    real = os.path.realpath(directory)
    for process in psutil.process_iter(["cmdline"]):
        args = process.info.get("cmdline") or []
        if not any(str(a).endswith(os.path.join("nni_node", "main.js")) for a in args):
            continue
        option = {args[k]: args[k + 1] for k in range(len(args) - 1) if str(args[k]).startswith("--")}
        if (
            option.get("--experiment-id") == experiment_id
            and os.path.realpath(option.get("--experiments-directory", "")) == real
        ):
            return process.pid, option.get("--port")
    return None


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Hold back ``logger``'s records (NNI's launcher logs several lines, and a manager's
    whole stderr log, when it fails) within this block."""
    import logging

    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        log.setLevel(level)


_MARKER = re.compile(r"^__.*__$")


def _markers(node, where: str = "") -> list[str]:
    """Where in ``node`` (plain JSON) a key is one that NNI's ``nni.load`` decodes as an object
    (``__nni_obj__`` unpickles, ``__nni_type__`` and json_tricks' ``__instance_type__`` import)."""
    found = []
    if isinstance(node, list):
        for index, item in enumerate(node):
            found += _markers(item, f"{where}[{index}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            found += [f"{where}/{key}"] if _MARKER.match(str(key)) else _markers(value, f"{where}/{key}")
    return found


def stored_config(experiment_id: str, directory: Path) -> dict:
    """The config NNI's manager stored for ``experiment_id`` under ``directory``, read as plain
    JSON from its database (read-only). NNI's own reader decodes it with ``nni.load``, which would
    unpickle or import what a crafted database names: such a config is refused with one line."""
    import sqlite3

    from nni.tools.nnictl.config_utils import config_v0_to_v1

    db = Path(directory) / experiment_id / "db" / "nni.sqlite"
    require(
        db.is_file(),
        f"experiment {experiment_id!r} is not under {str(directory)!r}: "
        "only searches run with --port have an NNI experiment to view",
    )
    hint = "it is not an experiment database written by NNI's manager"
    try:
        with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            row = connection.execute(
                "select params from ExperimentProfile where id=? order by revision DESC", (experiment_id,)
            ).fetchone()
    except sqlite3.Error as exc:
        raise UsageError(f"cannot read {str(db)!r} ({short(str(exc), 80)}): {hint}") from None
    require(row is not None, f"{str(db)!r} holds no config of experiment {experiment_id!r}: {hint}")
    try:
        params = json.loads(row[0])
        marked = _markers(params)
    except (TypeError, ValueError, RecursionError):
        raise UsageError(f"the config of experiment {experiment_id!r} in {str(db)!r} is not JSON: {hint}") from None
    require(
        isinstance(params, dict), f"the config of experiment {experiment_id!r} in {str(db)!r} is not a mapping: {hint}"
    )
    require(
        not marked,
        f"the config of experiment {experiment_id!r} in {str(db)!r} holds {short(marked[0] if marked else '')}, "
        "which NNI would decode as an object (code from the file would run): refused",
    )
    return config_v0_to_v1(params)


def wait_until_serving(process, host: str, port: int, what: str, timeout: float = 60) -> None:
    """Return once the manager ``process`` answers its REST API on ``host:port``; raise
    :class:`ViewFailed` if it ends first or does not answer within ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            rest(port, "check-status", "127.0.0.1" if host in ALL_INTERFACES else host)
            return
        except OSError:
            if process.poll() is not None:
                raise ViewFailed(f"{what} ended (exit code {process.returncode}) before it served the web UI")
            time.sleep(0.5)
    raise ViewFailed(f"{what} did not answer on port {port} within {timeout:.0f} s")


class ViewFailed(RuntimeError):
    """The manager of ``nni-lista view`` ended or never answered."""


def port_free(host: str, port: int) -> bool:
    """Whether nothing listens on ``host:port`` yet (a bind test on that address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def rest(port: int, path: str, host: str = "127.0.0.1"):
    """GET ``/api/v1/nni/PATH`` of a manager on ``host:port`` (its REST API), as JSON."""
    with urllib.request.urlopen(f"http://{host}:{port}/api/v1/nni/{path}", timeout=10) as response:
        return json.loads(response.read())


def trials(port: int, host: str = "127.0.0.1") -> dict:
    """Trial id -> ``{"status", "periodical": [values], "final": [values]}`` from the REST API
    (NNI stores a metric as JSON text, a dict metric as JSON text inside that)."""
    found = {
        job["trialJobId"]: {"status": job["status"], "periodical": [], "final": []}
        for job in rest(port, "trial-jobs", host)
    }
    for metric in rest(port, "metric-data", host):
        value = json.loads(metric["data"])
        value = json.loads(value) if isinstance(value, str) else value
        found[metric["trialJobId"]]["periodical" if metric["type"] == "PERIODICAL" else "final"].append(value)
    return found
