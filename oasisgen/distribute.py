"""The former path of :mod:`oasisgen.nn.distribute`, kept so that old imports work.

The ``tf.distribute`` strategies behind the estimators' ``distribute`` parameter
live in :mod:`oasisgen.nn.distribute`. This module re-exports its public names (the
same objects, not copies), so ``from oasisgen.distribute import
start_multi_worker`` keeps working and creates the one strategy of the process.
New code should import from :mod:`oasisgen.nn.distribute`.
"""

from oasisgen.nn.distribute import (
    DISTRIBUTE_OPTIONS,
    TFConfigError,
    is_chief,
    make_strategy,
    read_tf_config,
    start_multi_worker,
    writes_files,
)

__all__ = [
    "DISTRIBUTE_OPTIONS",
    "TFConfigError",
    "is_chief",
    "make_strategy",
    "read_tf_config",
    "start_multi_worker",
    "writes_files",
]
