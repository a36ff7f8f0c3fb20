"""The former path of :mod:`oasisgen.nn.distribute`, kept so that old imports work.

The ``tf.distribute`` strategies behind the estimators' ``distribute`` parameter
live in :mod:`oasisgen.nn.distribute`. This module re-exports its public names (the
same objects, not copies), so ``from oasisgen.distribute import
start_multi_worker`` keeps working and creates the one strategy of the process.
New code should import from :mod:`oasisgen.nn.distribute`.
"""

from oasisgen.nn.distribute import *  # noqa: F403 (the moved module's names)
from oasisgen.nn.distribute import __all__  # noqa: F401 (one list, there)
