import sys

from mmgpvae_core.cli import main

sys.exit(main())
