"""``python -m mmgpvae_core.cli``: the command line, as the ``mmgpvae`` script."""

import sys

from mmgpvae_core.cli import main

sys.exit(main())
