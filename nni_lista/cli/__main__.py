"""``python -m nni_lista.cli``: the ``nni-lista`` command."""

import sys

from nni_lista.cli import main

sys.exit(main())
