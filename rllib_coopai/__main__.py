"""``python -m rllib_coopai ...`` = the ``rllib`` command (train / evaluate / plot / list)."""
import sys

from rllib_coopai.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
