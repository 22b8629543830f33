import sys

from nni_lista.cli import main

sys.exit(main())
