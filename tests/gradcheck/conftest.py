"""The gradient checker's tests import their hand-written backprops from gc_nets.py (here)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
