"""What the other layers share of saving: the manifest, the directory writer, JSON.

A saved estimator is a directory with a :data:`MANIFEST` (``estimator.json``)
beside its Keras archives; :func:`save_directory` writes such a directory
atomically, and :func:`jsonable` turns parameters, metrics and NumPy values into
what :mod:`json` writes. The search writes its results and the command line its
run records with them.

Examples
--------
>>> from oasisgen.estimators.persistence import MANIFEST, jsonable
>>> MANIFEST
'estimator.json'
>>> jsonable({"image_size": (64, 64)})
{'image_size': [64, 64]}
"""

from oasisgen.estimators._persistence import MANIFEST, jsonable, save_directory

__all__ = ["MANIFEST", "jsonable", "save_directory"]
