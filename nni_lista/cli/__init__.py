"""The ``nni-lista`` command line: argument parsing, messages and tables, nothing else.

``main`` parses (``parser``), quiets NNI (``quiet``) and calls the command
(``train_commands``, ``search_commands``), which turn the arguments into library objects
(``arguments``), call the library and print (``output``).

Bad input ends with one line ``nni-lista <command>: error: ...`` and exit code 2; a
diverged training run with exit code 1 (its last good checkpoint stays); an interrupted
one with 130, or 143 on SIGTERM (run the same command again to resume).
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from nni_lista.base.errors import TrainingDiverged, UsageError
from nni_lista.base.signals import Interrupted, interruptible
from nni_lista.cli.parser import _join_negative_words, _refuse_past_every_bound, _search_config, build_parser
from nni_lista.cli.quiet import _set_verbosity
from nni_lista.cli.search_commands import cmd_export_space, cmd_latency, cmd_pareto, cmd_search, cmd_trial, cmd_view
from nni_lista.cli.train_commands import (
    cmd_arch,
    cmd_compare,
    cmd_export,
    cmd_make_problem,
    cmd_retrain,
    cmd_study,
    cmd_train,
)


# what running the same command again does after an interrupt (docs/cli.md, "Exit codes")
_RESUME = {
    "train": "run the same command again to resume from the last checkpoint",
    "compare": (
        "run the same command again to resume (finished models are kept, the others resume from their checkpoints)"
    ),
    "retrain": "run the same command again to resume from the last checkpoint",
    "study": "run the same command again to resume (finished units are kept)",
    "make-problem": "nothing was written; run the same command again",
    "search": "run the same command again to resume",
    "latency": "nothing was written; run the same command again (it measures from the start)",
    "pareto": "nothing was written; run the same command again (it starts over)",
    "export-space": "nothing was written; run the same command again",
    "arch": "nothing was written; run the same command again",
    "export": "nothing was written; run the same command again",
}


COMMANDS = {
    "export": cmd_export,
    "make-problem": cmd_make_problem,
    "export-space": cmd_export_space,
    "trial": cmd_trial,
    "train": cmd_train,
    "compare": cmd_compare,
    "search": cmd_search,
    "retrain": cmd_retrain,
    "arch": cmd_arch,
    "view": cmd_view,
    "study": cmd_study,
    "latency": cmd_latency,
    "pareto": cmd_pareto,
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = _join_negative_words(sys.argv[1:] if argv is None else list(argv))
    verbose = "--verbose" in argv  # taken anywhere on the line, before or after the command
    argv = [a for a in argv if a != "--verbose"]
    command = next((a for a in argv if not a.startswith("-")), None)
    refused = _refuse_past_every_bound(argv) if command in _RESUME else None
    if refused is not None:
        print(f"nni-lista {command}: error: {refused}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"nni-lista {args.command}"
    _set_verbosity(verbose)
    try:
        if args.command == "search" and args.config is not None:
            args = _search_config(parser, argv, args)
        if args.command not in _RESUME:  # trial: NNI's own signal protocol (_trial_signals); view: quick
            return COMMANDS[args.command](args)
        with interruptible(_RESUME[args.command]):
            return COMMANDS[args.command](args)
    except Interrupted as exc:
        print(f"{prog}: interrupted ({exc.name}); {exc.resume}", file=sys.stderr, flush=True)
        return exc.exit_code
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except TrainingDiverged as exc:
        print(f"{prog}: training diverged: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before the handlers were set
        print(f"{prog}: interrupted (SIGINT)", file=sys.stderr, flush=True)
        return 130
