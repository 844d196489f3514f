"""``hitlab.popularity``: the popularity analysis under the name the README and docs use.

The analysis lives in :mod:`hitlab.analyses.popularity`; this module re-exports it.
"""

from hitlab.analyses.popularity import *  # noqa: F403
from hitlab.analyses.popularity import __all__  # noqa: F401
