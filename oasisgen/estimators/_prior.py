"""``PixelCNNPrior``: a gated PixelCNN over code maps as a scikit-learn density."""

from __future__ import annotations

import os
import warnings
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from oasisgen.datasets.validation import (
    check_code_maps,
    check_condition_grid,
    check_global_condition,
    check_sampling_options,
)
from oasisgen.estimators._base import (
    TRAINING_CONSTRAINTS,
    KerasEstimator,
    seed_from,
)
from oasisgen.estimators._persistence import register_estimator
from oasisgen.nn import GatedPixelCNN, Sampler

_POSITIVE_INT = Interval(Integral, 1, None, closed="left")


@register_estimator
class PixelCNNPrior(KerasEstimator, DensityMixin, BaseEstimator):
    """Autoregressive prior over maps of discrete codes (gated PixelCNN).

    Learns ``p(codes)``, or ``p(codes | condition)`` when fitted with a condition
    map, such as the bottom codes of a VQ-VAE-2 given its top codes (van den Oord et
    al. 2016; Razavi et al. 2019), and ``p(codes | global_condition)`` when fitted
    with a vector per map, such as the level of the slice. ``score`` is the mean
    log-likelihood per code (higher is better), so ``GridSearchCV`` needs no scorer;
    ``sample`` draws new maps exactly, position by position, with a cached fast
    sampler.

    Parameters
    ----------
    num_embeddings : int, optional
        Size of the codebook. ``None`` takes ``codes.max() + 1`` at ``fit``; set it
        when some codes may be missing from the training maps.
    n_layers : int, default=12
        Gated residual layers.
    hidden_channels : int, default=128
        Hidden channels of the gated layers (and the size of the code
        embedding), as ``VQVAE2Estimator(hidden_channels=...)``.
    kernel_size : int, default=5
        Odd width of the causal convolutions, at least 3.
    dropout : float, default=0.0
        Dropout inside the gated layers, in training.
    condition_num_embeddings : int, optional
        Size of the codebook of the condition. ``None`` takes ``condition.max() +
        1`` when ``fit`` gets a condition.
    condition_upsample : int, default=2
        Ratio of the code grid to the condition grid (VQ-VAE-2 bottom/top: 2, or
        4 with ``bottom_stride=2``).
    condition_channels : int, default=64
        Channels of the conditioning network.
    condition_layers : int, default=1
        3x3 convolutions of the conditioning network on the condition's own
        grid: with more of them each position sees more of the condition (the
        top codes) around it.
    mirror_context : bool, default=False
        Also show each position the codes already drawn at its mirror image
        across the vertical midline (same row and row above), for images that are
        nearly symmetric from left to right, such as axial brain slices: it keeps
        the outlines of sampled heads symmetric (benchmarks/README.md, "Mirror
        context").
    attention_layers : int, default=0
        Causal self-attention layers, spread evenly among the gated layers (at
        most ``n_layers``), as in the priors of the VQ-VAE-2 paper: each code is
        then drawn seeing every code before it, where the gated layers alone see
        ``kernel_size // 2`` more rows per layer. For grids wider than the gated
        layers see, such as the top codes of 128- and 256-pixel slices
        (benchmarks/README.md, "A top prior that sees its whole grid").
    scan_order : {"top_down", "bottom_up"}, default="top_down"
        The order in which the rows of a map are drawn: from the first row of
        the array down, or from the last row up. The prior learns and scores
        the maps in that order; ``fit``, ``score_samples`` and ``sample`` take
        and return them upright either way. Draw first the rows whose codes are
        easiest to guess from little context: on axial slices with the face at
        the top, ``"bottom_up"`` draws the round back of the head first and the
        orbits and nose, where the outline is hardest, last, seeing the rest
        (benchmarks/README.md, "Which prior falls short").
    optimizer : str or dict, default="adam"
        The Keras optimizer: a name (``"adam"``, ``"adamw"``, ``"sgd"``,
        ``"rmsprop"``, ...) or a config such as ``{"class_name": "AdamW",
        "config": {"weight_decay": 1e-4}}``, without the learning rate. Adam is
        :class:`oasisgen.nn.FusedAdam`, Keras' Adam in one kernel per variable.
    learning_rate : float, default=3e-4
        Learning rate of the optimizer.
    batch_size : int, default=32
        Maps per training step (the global batch under ``distribute``).
    epochs : int, default=10
        Passes over the training maps per call to ``fit``; with ``checkpoint_dir``
        and ``warm_start``, the total number of passes of the run.
    validation_fraction : float, default=0.0
        Share of the maps held out to compute ``val_loss``.
    early_stopping : bool, default=False
        Stop when the validation loss (the training loss without validation data)
        has not improved for ``n_iter_no_change`` epochs; keep the best weights.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    random_state : int, RandomState instance or None, default=None
        Seeds weights and shuffling.
    verbose : int, default=0
        0 silent, 1 a progress bar per epoch, 2 one line per epoch.
    warm_start : bool, default=False
        Continue training the fitted model on the next ``fit``; with
        ``checkpoint_dir``, resume from its last complete checkpoint when the
        prior is not fitted yet (as in a new process).
    jit_compile : bool, default=False
        Compile the training step with XLA.
    distribute : {None, "mirrored", "multi_worker"}, default=None
        ``tf.distribute`` strategy to build and train the model in. With several
        replicas, ``batch_size`` must be a multiple of their number, each
        epoch leaves out its last, smaller batch, and validation the last
        few code maps that would not split evenly over the replicas.
    checkpoint_dir : str or path-like, optional
        Save the whole training state there after every epoch, atomically; SIGINT
        and SIGTERM then stop at the end of the current batch and save one too.
        See :class:`VQVAE2Estimator` for the details.
    keep_checkpoints : int or None, default=3
        How many of the newest checkpoints to keep; None keeps them all.
    checkpoint_every : int, default=1
        Write a checkpoint after every this many epochs and after the last one.
        See :class:`VQVAE2Estimator` for the details.
    callbacks : list of keras.callbacks.Callback, optional
        Keras callbacks run beside the estimator's own, such as
        ``keras.callbacks.CSVLogger`` or ``keras.callbacks.TensorBoard``. They see
        one Keras fit per call to ``fit`` (``on_train_begin`` once, then the
        epochs, numbered over the whole run, then ``on_train_end``, also when the
        fit is interrupted); one that sets ``model.stop_training`` ends the fit
        after the current epoch. Each fit runs fresh copies of them
        (``callbacks_``), so the parameter stays as given; they are not saved: a
        loaded estimator has ``callbacks=None``.
    channels : int
        Deprecated: the former name of ``hidden_channels``, which it overrides
        with a ``FutureWarning`` at ``fit``; it will be removed in oasisgen 0.3.

    Attributes
    ----------
    model_ : oasisgen.nn.GatedPixelCNN
        The fitted Keras model.
    history_ : dict of str to list of float
        Per-epoch ``loss`` (mean negative log-likelihood per code, in nats) and
        ``val_loss`` with validation data.
    grid_shape_ : tuple of (int, int)
        Height and width of the code maps.
    scan_order_ : str
        The order the model was trained to read the rows in; a warm start in
        another ``scan_order`` starts a new model.
    num_embeddings_ : int
        Size of the codebook.
    condition_num_embeddings_ : int or None
        Size of the condition's codebook; None for an unconditional prior.
    global_condition_dim_ : int or None
        Length of the vector per map it was fitted with; None without one.
    callbacks_ : list of keras.callbacks.Callback
        The copies of ``callbacks`` that the last fit ran, to read what they
        recorded; not pickled or saved.

    See Also
    --------
    oasisgen.HierarchicalGenerator : VQ-VAE-2 plus a top and a bottom prior.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen import PixelCNNPrior
    >>> rng = np.random.default_rng(0)
    >>> codes = np.repeat(rng.integers(0, 4, size=(32, 6, 1)), 6, axis=2)  # rows
    >>> prior = PixelCNNPrior(n_layers=2, hidden_channels=16, epochs=3,
    ...                       random_state=0)
    >>> prior = prior.fit(codes)
    >>> prior.sample(2, random_state=0).shape
    (2, 6, 6)
    >>> bool(prior.score(codes) < 0)  # mean log-likelihood per code
    True
    """

    _renamed_params = {"channels": "hidden_channels"}
    _parameter_constraints: dict[str, list[Any]] = {
        "num_embeddings": [None, Interval(Integral, 2, None, closed="left")],
        "n_layers": [Interval(Integral, 0, None, closed="left")],
        "hidden_channels": [_POSITIVE_INT],
        "channels": [_POSITIVE_INT, Hidden(StrOptions({"deprecated"}))],
        "kernel_size": [Interval(Integral, 3, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "condition_num_embeddings": [None, Interval(Integral, 1, None, closed="left")],
        "condition_upsample": [_POSITIVE_INT],
        "condition_channels": [_POSITIVE_INT],
        "condition_layers": [_POSITIVE_INT],
        "mirror_context": ["boolean"],
        "attention_layers": [Interval(Integral, 0, None, closed="left")],
        "scan_order": [StrOptions({"top_down", "bottom_up"})],
        **TRAINING_CONSTRAINTS,
    }

    def __init__(
        self,
        num_embeddings: int | None = None,
        n_layers: int = 12,
        hidden_channels: int = 128,
        kernel_size: int = 5,
        dropout: float = 0.0,
        condition_num_embeddings: int | None = None,
        condition_upsample: int = 2,
        condition_channels: int = 64,
        condition_layers: int = 1,
        mirror_context: bool = False,
        attention_layers: int = 0,
        scan_order: str = "top_down",
        optimizer: str | dict[str, Any] = "adam",
        learning_rate: float = 3e-4,
        batch_size: int = 32,
        epochs: int = 10,
        validation_fraction: float = 0.0,
        early_stopping: bool = False,
        n_iter_no_change: int = 5,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        jit_compile: bool = False,
        distribute: str | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        keep_checkpoints: int | None = 3,
        checkpoint_every: int = 1,
        callbacks: list[keras.callbacks.Callback] | None = None,
        channels: int | str = "deprecated",
    ) -> None:
        self.num_embeddings = num_embeddings
        self.n_layers = n_layers
        self.hidden_channels = hidden_channels
        self.kernel_size = kernel_size
        self.dropout = dropout
        self.condition_num_embeddings = condition_num_embeddings
        self.condition_upsample = condition_upsample
        self.condition_channels = condition_channels
        self.condition_layers = condition_layers
        self.mirror_context = mirror_context
        self.attention_layers = attention_layers
        self.scan_order = scan_order
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.jit_compile = jit_compile
        self.distribute = distribute
        self.checkpoint_dir = checkpoint_dir
        self.keep_checkpoints = keep_checkpoints
        self.checkpoint_every = checkpoint_every
        self.callbacks = callbacks
        self.channels = channels

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.required = False
        return tags

    # ------------------------------------------------------------------ fitting
    def _validate_params(self) -> None:
        """Check the parameters, also against each other, before any work."""
        super()._validate_params()
        if self.attention_layers > self.n_layers:
            raise ValueError(
                f"{type(self).__name__} got attention_layers={self.attention_layers}"
                f" and n_layers={self.n_layers}; each attention layer follows one "
                "gated layer, so attention_layers must be at most n_layers. Lower "
                "attention_layers or raise n_layers."
            )

    def fit(
        self, X: Any, condition: Any = None, *, global_condition: Any = None
    ) -> PixelCNNPrior:
        """Fit the prior to code maps, optionally given a condition map each.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width)
            Integer code maps.
        condition : array-like of shape (n_samples, height / condition_upsample, \
width / condition_upsample), optional
            Integer condition maps (the top codes, for a bottom prior). It takes
            the place of ``y``, so cross-validation splits it with ``X``.
        global_condition : array-like of shape (n_samples,) or (n_samples, dim), \
optional
            A float vector per map that conditions the whole map, such as the slice
            position in [0, 1].

        Returns
        -------
        self : PixelCNNPrior
            The fitted prior.

        Raises
        ------
        TrainingInterrupted
            On SIGINT or SIGTERM, at the end of the current batch, after saving a
            checkpoint (with ``checkpoint_dir``); its message says how to resume.
        FloatingPointError
            If the loss becomes NaN or inf; the model keeps the weights of the last
            complete epoch.
        FileExistsError
            If the fit would start a new model in a ``checkpoint_dir`` that holds
            the checkpoints of another fit.
        """
        self._validate_params()
        name = f"{type(self).__name__}.fit"
        codes = check_code_maps(X, caller=name, num_embeddings=self.num_embeddings)
        if condition is not None:
            condition = check_code_maps(
                condition,
                caller=name,
                name="condition",
                num_embeddings=self.condition_num_embeddings,
            )
            check_condition_grid(
                codes.shape,
                condition.shape,
                condition_upsample=self.condition_upsample,
                caller=name,
            )
        if global_condition is not None:
            global_condition = check_global_condition(
                global_condition, n_samples=len(codes), caller=name
            )
        self._split_over_replicas(self.batch_size, given=True, unit="code map")
        codes, condition = self._scanned(codes), self._scanned(condition)
        going_on = self._start_training(
            lambda: self._fits(codes, condition, global_condition),
            continue_fitted=self.warm_start,
            data=_describe(
                codes.shape[1:],
                condition is not None,
                None if global_condition is None else global_condition.shape[1],
            ),
        )
        seed = self._training_seed()
        self._seed_globally(seed)
        if not going_on:
            self._initialise(codes, condition, global_condition, seed)
        else:  # a warm start must stay within the fitted codebooks
            check_code_maps(codes, caller=name, num_embeddings=self.num_embeddings_)
        train, validation = self._split(codes, condition, global_condition, seed)
        self._run_epochs(train, validation, epochs=self._epochs_to_train(), seed=seed)
        return self

    def _fits(
        self,
        codes: np.ndarray,
        condition: np.ndarray | None,
        global_condition: np.ndarray | None,
    ) -> bool:
        dim = None if global_condition is None else global_condition.shape[1]
        return (
            hasattr(self, "model_")
            # the model reads its maps in the order it was trained in
            and getattr(self, "scan_order_", "top_down") == self.scan_order
            and tuple(self.grid_shape_) == codes.shape[1:]
            and (condition is None) == (self.condition_num_embeddings_ is None)
            and dim == self.global_condition_dim_
        )

    def _fitted_data(self) -> str:
        return _describe(
            self.grid_shape_,
            self.condition_num_embeddings_ is not None,
            getattr(self, "global_condition_dim_", None),
        )

    def _hidden_channels(self) -> int:
        """Return ``hidden_channels``, or the deprecated ``channels`` if given."""
        if isinstance(self.channels, str) and self.channels == "deprecated":
            return self.hidden_channels
        warnings.warn(
            "PixelCNNPrior's channels was renamed hidden_channels (the name "
            "VQVAE2Estimator uses) and will be removed in oasisgen 0.3; "
            f"channels={self.channels!r} overrides hidden_channels="
            f"{self.hidden_channels!r}. Pass hidden_channels={self.channels!r} "
            "instead.",
            FutureWarning,
            stacklevel=4,
        )
        return self.channels

    def _initialise(
        self,
        codes: np.ndarray,
        condition: np.ndarray | None,
        global_condition: np.ndarray | None,
        seed: int | None,
    ) -> None:
        self.num_embeddings_ = int(self.num_embeddings or max(codes.max() + 1, 2))
        self.condition_num_embeddings_ = (
            None
            if condition is None
            else int(self.condition_num_embeddings or condition.max() + 1)
        )
        self.grid_shape_ = (int(codes.shape[1]), int(codes.shape[2]))
        self.scan_order_ = self.scan_order
        self.global_condition_dim_ = (
            None if global_condition is None else int(global_condition.shape[1])
        )

        self._new_model(
            seed, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )

    def build_model(self, seed: int | None) -> GatedPixelCNN:
        """Return the built :class:`~oasisgen.nn.GatedPixelCNN` a new fit trains.

        An override point (see the user guide, "Extending the estimators"):
        ``fit`` calls it for a new model, once ``num_embeddings_``,
        ``condition_num_embeddings_``, ``grid_shape_`` and
        ``global_condition_dim_`` are set, inside the ``distribute`` strategy.

        Parameters
        ----------
        seed : int or None
            The fit's seed, for the initialisers and the dropout.

        Returns
        -------
        model : GatedPixelCNN
            Built, not compiled; ``fit`` compiles it with a cross-entropy loss.
        """
        model = GatedPixelCNN(
            num_embeddings=self.num_embeddings_,
            n_layers=self.n_layers,
            hidden_channels=self._hidden_channels(),
            kernel_size=self.kernel_size,
            dropout=self.dropout,
            condition_num_embeddings=self.condition_num_embeddings_,
            condition_upsample=self.condition_upsample,
            condition_channels=self.condition_channels,
            condition_layers=self.condition_layers,
            global_condition_dim=self.global_condition_dim_,
            mirror_context=self.mirror_context,
            attention_layers=self.attention_layers,
            seed=seed,
        )
        model.build(None)
        return model

    def _split(
        self,
        codes: np.ndarray,
        condition: np.ndarray | None,
        global_condition: np.ndarray | None,
        seed: int | None,
    ) -> tuple[tuple, tuple | None]:
        if self.validation_fraction == 0:
            return (codes, condition, global_condition), None
        return self._hold_out((codes, condition, global_condition), seed, unit="map")

    def training_data(
        self,
        data: tuple[np.ndarray, np.ndarray | None, np.ndarray | None],
        *,
        shuffle: bool,
        seed: int | None,
    ) -> tf.data.Dataset:
        """Return the batches of ``batch_size`` code maps that ``fit`` trains on.

        An override point (see the user guide, "Extending the estimators").

        Parameters
        ----------
        data : tuple
            ``(codes, condition, global_condition)``, the training or validation
            part of what ``fit`` got; the conditions may be None.
        shuffle : bool
            True for the training maps of an epoch, False for validation.
        seed : int or None
            The epoch's shuffling seed; None for validation.

        Returns
        -------
        batches : tf.data.Dataset
            ``(inputs, codes)`` batches, the inputs as ``model_`` takes them.
        """
        codes, condition, global_condition = data
        inputs = _model_inputs(codes, condition, global_condition)
        batches = tf.data.Dataset.from_tensor_slices((inputs, codes))
        if shuffle:
            batches = batches.shuffle(len(codes), seed=seed)
        batches = self._split_batches(
            batches.batch(self.batch_size),
            len(codes),
            self.batch_size,
            training=shuffle,
        )
        return batches.prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ scoring
    def score_samples(
        self, X: Any, condition: Any = None, *, global_condition: Any = None
    ) -> np.ndarray:
        """Return the log-likelihood of each code map.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width)
            Integer code maps of the fitted grid.
        condition : array-like, optional
            Condition maps; required by a prior fitted with a condition.
        global_condition : array-like of shape (n_samples,) or (n_samples, dim), \
optional
            A vector per map; required by a prior fitted with one.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            Natural-log likelihood of each whole map.
        """
        codes, condition, global_condition = self._check_fitted_input(
            X, condition, global_condition, "score_samples"
        )
        codes, condition = self._scanned(codes), self._scanned(condition)
        signature = [self._spec(self.grid_shape_)]
        if condition is not None:
            condition_grid = [s // self.condition_upsample for s in self.grid_shape_]
            signature.append(self._spec(condition_grid))
        if global_condition is not None:
            signature.append(
                tf.TensorSpec((None, global_condition.shape[1]), tf.float32)
            )
        key = "ll_" + "".join(str(len(spec.shape)) for spec in signature)
        function = self._graph(key, self._log_likelihood, signature)
        arrays = [a for a in (codes, condition, global_condition) if a is not None]
        return np.concatenate(
            [
                function(*[a[i : i + self.batch_size] for a in arrays]).numpy()
                for i in self._starts(codes)
            ]
        )

    def _log_likelihood(self, codes: Any, *conditions: Any) -> tf.Tensor:
        condition = conditions[0] if self.condition_num_embeddings_ else None
        global_condition = conditions[-1] if self.global_condition_dim_ else None
        return self.model_.log_likelihood(codes, condition, global_condition)

    def score(
        self, X: Any, condition: Any = None, *, global_condition: Any = None
    ) -> float:
        """Return the mean log-likelihood per code (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width)
            Integer code maps of the fitted grid.
        condition : array-like, optional
            Condition maps; required by a prior fitted with a condition.
        global_condition : array-like of shape (n_samples,) or (n_samples, dim), \
optional
            A vector per map; required by a prior fitted with one.

        Returns
        -------
        score : float
            Mean over maps of the log-likelihood divided by the codes per map, in
            nats. ``-score / log(2)`` is the bits per code.
        """
        log_likelihood = self.score_samples(
            X, condition, global_condition=global_condition
        )
        return float(np.mean(log_likelihood) / np.prod(self.grid_shape_))

    def _starts(self, codes: np.ndarray) -> range:
        return range(0, len(codes), self.batch_size)

    @staticmethod
    def _spec(grid: Any) -> tf.TensorSpec:
        return tf.TensorSpec((None, *grid), tf.int32)

    # ----------------------------------------------------------------- sampling
    def sample(
        self,
        n_samples: int = 1,
        condition: Any = None,
        *,
        global_condition: Any = None,
        random_state: int | np.random.RandomState | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        method: str = "fast",
        progress: bool = False,
    ) -> np.ndarray:
        """Draw new code maps from the prior.

        Parameters
        ----------
        n_samples : int, default=1
            Number of maps, at least 1.
        condition : array-like of shape (n_samples, height / condition_upsample, \
width / condition_upsample), optional
            One condition map per sample; required by a conditional prior.
        global_condition : array-like of shape (n_samples,) or (n_samples, dim), \
optional
            One vector per sample (such as a slice position); required by a prior
            fitted with one.
        random_state : int, RandomState instance or None, default=None
            The same seed gives the same maps.
        temperature : float, default=1.0
            Divides the logits: below 1 is more conservative. Must be > 0.
        top_k : int, optional
            Draw each code among the ``top_k`` most likely ones only.
        method : {"fast", "naive"}, default="fast"
            ``"fast"`` caches activations; ``"naive"`` reruns the whole network for
            every position (the slow reference; same samples).
        progress : bool, default=False
            Show a progress bar over rows.

        Returns
        -------
        codes : ndarray of shape (n_samples, height, width), dtype int32
            The sampled maps.
        """
        check_is_fitted(self)
        check_sampling_options(n_samples, temperature, top_k)
        if condition is not None:
            condition = check_code_maps(
                condition,
                caller=f"{type(self).__name__}.sample",
                name="condition",
                num_embeddings=self.condition_num_embeddings_,
            )
        if global_condition is not None or self.global_condition_dim_ is not None:
            global_condition = self._check_global(
                global_condition, n_samples, f"{type(self).__name__}.sample"
            )
        codes = Sampler.of(self.model_).sample(
            n_samples,
            self.grid_shape_,
            self._scanned(condition),
            global_condition=global_condition,
            temperature=temperature,
            top_k=top_k,
            seed=seed_from(random_state),
            method=method,
            progress=progress,
        )
        return self._scanned(codes)

    def _scanned(self, maps: np.ndarray | None) -> np.ndarray | None:
        """Return ``maps`` in ``scan_order``: their rows reversed for "bottom_up".

        Its own inverse: it turns upright maps into the order the model reads and
        the model's maps back upright.
        """
        if maps is None or self.scan_order == "top_down":
            return maps
        return np.ascontiguousarray(maps[:, ::-1])

    def _check_global(
        self, global_condition: Any, n_samples: int, caller: str
    ) -> np.ndarray | None:
        dim = self.global_condition_dim_
        if (global_condition is None) != (dim is None):
            raise ValueError(
                f"{caller}: this prior was fitted "
                + (
                    f"with a global_condition of length {dim}; pass one per map."
                    if dim is not None
                    else "without a global_condition; do not pass one."
                )
            )
        if global_condition is None:
            return None
        return check_global_condition(
            global_condition, n_samples=n_samples, caller=caller, dim=dim
        )

    def _check_fitted_input(
        self, X: Any, condition: Any, global_condition: Any, method: str
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        check_is_fitted(self)
        name = f"{type(self).__name__}.{method}"
        codes = check_code_maps(X, caller=name, num_embeddings=self.num_embeddings_)
        if codes.shape[1:] != tuple(self.grid_shape_):
            raise ValueError(
                f"{name} expected code maps of {self.grid_shape_[0]}x"
                f"{self.grid_shape_[1]}, the grid the prior was fitted on; got "
                f"{codes.shape[1]}x{codes.shape[2]}."
            )
        conditional = self.condition_num_embeddings_ is not None
        if conditional != (condition is not None):
            raise ValueError(
                f"{name}: this prior was fitted "
                + ("with a condition; pass condition=..." if conditional else "")
                + ("without a condition; do not pass one" if not conditional else "")
                + "."
            )
        if condition is not None:
            condition = check_code_maps(
                condition,
                caller=name,
                name="condition",
                num_embeddings=self.condition_num_embeddings_,
            )
            check_condition_grid(
                codes.shape,
                condition.shape,
                condition_upsample=self.condition_upsample,
                caller=name,
            )
        global_condition = self._check_global(global_condition, len(codes), name)
        return codes, condition, global_condition

    # -------------------------------------------------------------- persistence
    def _fitted_state(self) -> dict[str, Any]:
        return {"grid_shape_": list(self.grid_shape_), "scan_order_": self.scan_order_}

    def _restore_fitted(self, state: dict[str, Any]) -> None:
        self.grid_shape_ = tuple(state["grid_shape_"])
        # priors saved before scan_order existed read their maps top down
        self.scan_order_ = state.get("scan_order_", "top_down")
        self.num_embeddings_ = self.model_.num_embeddings
        self.condition_num_embeddings_ = self.model_.condition_num_embeddings
        self.global_condition_dim_ = self.model_.global_condition_dim


def _model_inputs(codes: Any, *conditions: Any) -> Any:
    """Return the inputs of the model: the codes, then the conditions it has."""
    given = [array for array in conditions if array is not None]
    return codes if not given else (codes, *given)


def _describe(
    grid_shape: tuple[int, ...], conditional: bool, global_dim: int | None = None
) -> str:
    condition = "with" if conditional else "without"
    vector = "" if global_dim is None else f" and a global condition of {global_dim}"
    return (
        f"code maps of {grid_shape[0]}x{grid_shape[1]} {condition} a condition{vector}"
    )
