import sys

from netmedic.cli import main

sys.exit(main())
