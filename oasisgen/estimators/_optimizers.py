"""What an estimator's ``optimizer`` parameter means: a Keras optimizer, checked early.

``"adam"`` is :class:`~oasisgen.nn.optimizers.FusedAdam`; every other name, or a
config as ``keras.optimizers.serialize`` writes it, is the Keras optimizer of that
name.
"""

from __future__ import annotations

import inspect
from typing import Any

import keras

from oasisgen.nn.optimizers import FusedAdam


def make_optimizer(
    optimizer: str | dict[str, Any], learning_rate: float, *, caller: str
) -> keras.optimizers.Optimizer:
    """Return a new Keras optimizer from a name or a config, at ``learning_rate``.

    Parameters
    ----------
    optimizer : str or dict
        A name Keras knows (``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``,
        ...) or a config ``{"class_name": "AdamW", "config": {"weight_decay":
        1e-4}}`` as ``keras.optimizers.serialize`` writes it, without the
        learning rate.
    learning_rate : float
        The estimator's ``learning_rate``.
    caller : str
        Name for error messages.

    Returns
    -------
    optimizer : keras.optimizers.Optimizer

    Raises
    ------
    ValueError
        If Keras knows no such optimizer or argument, or the config sets the
        learning rate.

    Examples
    --------
    >>> type(make_optimizer("adamw", 1e-3, caller="demo")).__name__
    'AdamW'
    >>> config = {"class_name": "SGD", "config": {"momentum": 0.9}}
    >>> float(make_optimizer(config, 0.01, caller="demo").momentum)
    0.9
    """
    kind, config = check_optimizer(optimizer, caller=caller)
    try:
        return kind(learning_rate=learning_rate, **config)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{caller} cannot make the optimizer {optimizer!r}: {error}"
        ) from error


def check_optimizer(
    optimizer: Any, *, caller: str
) -> tuple[type[keras.optimizers.Optimizer], dict[str, Any]]:
    """Return the optimizer class and config that ``optimizer`` names.

    Checks the name and the arguments without making the optimizer, so nothing
    runs in TensorFlow (a multi-worker strategy must start first).

    Examples
    --------
    >>> check_optimizer("rmsprop", caller="demo")[0].__name__
    'RMSprop'
    """
    if isinstance(optimizer, dict):
        if set(optimizer) - {"class_name", "config", "module", "registered_name"}:
            raise ValueError(
                f"{caller} got optimizer={optimizer!r}; expected a name such as "
                "'adamw' or a dict {'class_name': 'AdamW', 'config': {...}}."
            )
        name, config = optimizer.get("class_name"), dict(optimizer.get("config") or {})
        if "learning_rate" in config:
            raise ValueError(
                f"{caller} got an optimizer config that sets learning_rate="
                f"{config['learning_rate']!r}; set the estimator's learning_rate "
                "instead, and leave it out of the config."
            )
    else:
        name, config = optimizer, {}
    kinds = _optimizer_classes()
    kind = kinds.get(str(name).lower().replace("_", ""))
    if kind is None:
        raise ValueError(
            f"{caller} cannot make the optimizer {optimizer!r}: Keras has no "
            f"optimizer {name!r}. Expected a Keras optimizer name such as 'adam', "
            "'adamw', 'sgd' or 'rmsprop', or a config such as {'class_name': "
            "'AdamW', 'config': {'weight_decay': 1e-4}}."
        )
    accepted = set(inspect.signature(kind.__init__).parameters) - {
        "self",
        "args",
        "kwargs",
    }
    unknown = sorted(set(config) - accepted)
    if unknown:
        raise ValueError(
            f"{caller} cannot make the optimizer {optimizer!r}: {kind.__name__} "
            f"takes no argument {', '.join(map(repr, unknown))}; it takes "
            f"{', '.join(sorted(accepted - {'learning_rate'}))}."
        )
    return kind, config


def _optimizer_classes() -> dict[str, type[keras.optimizers.Optimizer]]:
    """Return Keras' optimizer classes by lower-case name (``"adamw"``).

    ``"adam"`` is :class:`~oasisgen.nn.optimizers.FusedAdam`: Adam's update in one
    TensorFlow kernel per variable, which traces in a fraction of the time.
    """
    classes = {
        name.lower(): value
        for name, value in vars(keras.optimizers).items()
        if isinstance(value, type)
        and issubclass(value, keras.optimizers.Optimizer)
        and value is not keras.optimizers.Optimizer
    }
    return {**classes, "adam": FusedAdam, "fusedadam": FusedAdam}
