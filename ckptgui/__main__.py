"""``python -m ckptgui`` runs the same entry point as the ``ckptgui`` command."""

import sys

from ckptgui.cli import main

sys.exit(main())
