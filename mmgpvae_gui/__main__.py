import sys

from mmgpvae_gui.app import main

if __name__ == "__main__":  # the model-selection sweep spawns processes that import this
    sys.exit(main())
