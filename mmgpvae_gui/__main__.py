import sys

from mmgpvae_gui.app import main

sys.exit(main())
