"""``hitlab.genre``: the genre analysis under the name the README and docs use.

The analysis lives in :mod:`hitlab.analyses.genre`; this module re-exports it.
"""

from hitlab.analyses.genre import *  # noqa: F403
from hitlab.analyses.genre import __all__  # noqa: F401
