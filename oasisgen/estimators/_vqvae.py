"""``VQVAE2Estimator``: the two-level VQ-VAE-2 as a scikit-learn transformer."""

from __future__ import annotations

import os
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted

from oasisgen.datasets.validation import check_code_maps
from oasisgen.estimators._base import TRAINING_CONSTRAINTS, KerasEstimator
from oasisgen.estimators._inputs import ImageSource, image_source
from oasisgen.estimators._persistence import register_estimator
from oasisgen.metrics import ssim
from oasisgen.nn import VQVAE2
from oasisgen.nn.vqvae2 import BOTTOM_STRIDES, TOP_STRIDE

_POSITIVE_INT = Interval(Integral, 1, None, closed="left")

SMALL_DATA = 1024
"""Fewer training slices than this are small data to the "auto" settings."""


def auto_training_settings(n_slices: int | None) -> tuple[int, float]:
    """Return the batch size and learning rate that ``"auto"`` gives.

    On small data a fit is short of steps, not of images: with 116 slices of
    128x128, 30 epochs at the large-data settings (batches of 32 at 3e-4)
    reconstruct an unseen person with SSIM 0.67, where batches of 4 at 1e-3
    reach 0.91 (benchmarks/README.md, "Defaults on small data"). So fewer than
    :data:`SMALL_DATA` slices get a batch of one thirty-second of them, at
    least 4 (about 32 steps an epoch), and a learning rate of 1e-3; more
    slices, or an unknown number (a ``tf.data.Dataset``), get 32 and 3e-4, the
    settings for OASIS-sized data.

    Parameters
    ----------
    n_slices : int or None
        Number of training slices; None when unknown.

    Returns
    -------
    batch_size : int
    learning_rate : float

    Examples
    --------
    >>> from oasisgen.estimators._vqvae import auto_training_settings
    >>> auto_training_settings(116), auto_training_settings(500)
    ((4, 0.001), (15, 0.001))
    >>> auto_training_settings(9000), auto_training_settings(None)
    ((32, 0.0003), (32, 0.0003))
    """
    if n_slices is None or n_slices >= SMALL_DATA:
        return 32, 3e-4
    return max(4, n_slices // 32), 1e-3


@register_estimator
class VQVAE2Estimator(KerasEstimator, TransformerMixin, BaseEstimator):
    """Two-level VQ-VAE-2 for grayscale slices, as a scikit-learn transformer.

    The model (Razavi et al. 2019) encodes an image of H x W pixels into a top map of
    H/8 x W/8 codes and a bottom map of H/4 x W/4 codes (H/2 x W/2 with
    ``bottom_stride=2``) and decodes them back.
    ``transform`` returns both maps flattened side by side, so the estimator composes
    in a :class:`~sklearn.pipeline.Pipeline`; ``score`` is the mean SSIM of the
    reconstructions (higher is better), so ``GridSearchCV`` needs no scorer.

    Parameters
    ----------
    num_embeddings : int or tuple of (int, int), default=512
        Codebook size, or ``(top, bottom)`` sizes. At least 2.
    embedding_dim : int, default=64
        Size of each codebook vector.
    hidden_channels : int, default=128
        Channels of the encoders and decoders.
    n_res_blocks : int, default=2
        Residual blocks in each encoder and decoder.
    n_res_channels : int, default=32
        Channels inside each residual block.
    commitment_cost : float, default=0.25
        Weight of the commitment loss, beta in the paper.
    decay : float, default=0.99
        Decay of the codebooks' exponential moving averages.
    bottom_stride : {4, 2}, default=4
        How much coarser the bottom code map is than the images: 4 as in the
        paper (64 x 64 codes for 256 x 256 slices), or 2 for a map twice as fine
        each way, which reconstructs small slices far more sharply (figures in
        benchmarks/README.md) for four times the bottom codes, so a slower
        bottom prior. The top map is always 8 times coarser than the images.
    top_reconstruction_weight : float, default=0.0
        Weight of the error of a coarse image read from the top codes alone
        (:class:`~oasisgen.nn.VQVAE2`, module notes). Without it the bottom
        codes carry the whole slice and a bottom prior hardly reads the top
        codes; with it the top codes hold the layout that the top prior draws
        and the bottom prior follows.
    gradient_loss_weight : float, default=0.0
        Weight of the gradient-difference loss (Mathieu et al. 2016): the mean
        squared difference between the absolute pixel differences, down and
        across, of the reconstruction and of the slice. It asks for edges as
        strong as the slice's where the squared error alone blurs them; 0 for
        the paper's loss (benchmarks/README.md, "Sharper reconstructions").
    bottom_code_noise : float, default=0.0
        Share of the bottom codes, in [0, 1), that training decodes as another
        code drawn at random (:class:`~oasisgen.nn.VQVAE2`). A prior's samples
        hold codes that do not fit their neighbours; with noise, the decoder
        learns to draw a smooth image around them. 0 for the paper's training.
    adversarial_loss_weight : float, default=0.0
        Weight of the decoder's hinge loss against a patch discriminator that
        training fits beside the model, to tell the slices' small patches from
        the reconstructions' (:func:`~oasisgen.nn.patch_discriminator`, as the
        VQGAN of Esser et al. 2021 trains its decoder). The squared error
        blurs the texture the decoder cannot place exactly; this term asks for
        texture that looks real. The history then also has
        ``adversarial_loss`` and ``discriminator_loss``. 0 for the paper's loss
        (benchmarks/README.md, "An adversarial decoder").
    optimizer : str or dict, default="adam"
        The Keras optimizer: a name (``"adam"``, ``"adamw"``, ``"sgd"``,
        ``"rmsprop"``, ...) or a config such as ``{"class_name": "AdamW",
        "config": {"weight_decay": 1e-4}}``, without the learning rate. Adam is
        :class:`oasisgen.nn.FusedAdam`, Keras' Adam in one kernel per variable.
    learning_rate : float or "auto", default="auto"
        Learning rate of the optimizer. ``"auto"``: 1e-3 on small data (fewer than
        1,024 training slices), 3e-4 otherwise and for a ``tf.data.Dataset``
        (benchmarks/README.md, "Defaults on small data").
    batch_size : int or "auto", default="auto"
        Images per training step (the global batch under ``distribute``), and per
        call of the model in ``transform``, ``reconstruct`` and ``score``.
        ``"auto"``: in training, one thirty-second of the training slices, from 4
        to 32, so that small data gets about 32 steps an epoch (a
        ``tf.data.Dataset`` brings its own batches), rounded up to a multiple of
        the replicas under ``distribute``; 32 per call otherwise. Under
        ``distribute`` a batch size given as an int must split evenly over the
        replicas.
    epochs : int, default=10
        Passes over the training data per call to ``fit``; with ``checkpoint_dir``
        and ``warm_start``, the total number of passes of the run, so that a
        resumed fit trains only the epochs still to do.
    validation_fraction : float, default=0.0
        Share of the training data held out to compute validation figures (by
        subject for a :class:`~oasisgen.datasets.SliceDataset`). Ignored when
        ``fit`` is given ``validation_data``.
    early_stopping : bool, default=False
        Stop when the validation loss (the training loss without validation data)
        has not improved for ``n_iter_no_change`` epochs, and keep the best weights.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, shuffling and codebook restarts: the same seed gives the same
        fit on the same machine.
    verbose : int, default=0
        0 is silent, 1 shows a progress bar per epoch, 2 one line per epoch.
    warm_start : bool, default=False
        Continue training the fitted model on the next ``fit`` instead of starting
        again; with ``checkpoint_dir``, resume from its last complete checkpoint
        when the estimator is not fitted yet (as in a new process).
    jit_compile : bool, default=False
        Compile the training step with XLA.
    distribute : {None, "mirrored", "multi_worker"}, default=None
        ``tf.distribute`` strategy to build and train the model in. With several
        replicas, ``batch_size`` must be a multiple of their number (an "auto"
        batch is rounded up to one), each epoch leaves out its last, smaller
        batch, and validation the last few images that would not split evenly
        over the replicas.
    checkpoint_dir : str or path-like, optional
        Save the whole training state (weights, optimizer and codebook states,
        history, seeds) there after every epoch, atomically, one folder per epoch.
        SIGINT and SIGTERM then stop training at the end of the current batch,
        save a checkpoint and raise :class:`oasisgen.TrainingInterrupted`. Each
        fit needs its own directory: a fit that would start a new model in a
        directory holding checkpoints raises FileExistsError.
    keep_checkpoints : int or None, default=3
        How many of the newest checkpoints to keep; None keeps them all.
    checkpoint_every : int, default=1
        Write a checkpoint after every this many epochs (numbered over the whole
        run) and after the last one, also when early stopping or a callback ends
        the fit; an interruption by SIGINT or SIGTERM still writes one at once.
        Larger values save the time of the writes (0.1 to 0.3 s each for the
        demo's models) at the price of up to ``checkpoint_every - 1`` epochs
        lost to a hard kill or to an error (a NaN loss) that ends the fit.
        ``partial_fit`` trains one epoch and always writes it.
    callbacks : list of keras.callbacks.Callback, optional
        Keras callbacks run beside the estimator's own, such as
        ``keras.callbacks.CSVLogger`` or ``keras.callbacks.TensorBoard``. They see
        one Keras fit per call to ``fit`` (``on_train_begin`` once, then the
        epochs, numbered over the whole run, then ``on_train_end``, also when the
        fit is interrupted); one that sets ``model.stop_training`` ends the fit
        after the current epoch. Each fit runs fresh copies of them
        (``callbacks_``), so the parameter stays as given; they are not saved: a
        loaded estimator has ``callbacks=None``.

    Attributes
    ----------
    model_ : oasisgen.nn.VQVAE2
        The fitted Keras model.
    history_ : dict of str to list of float
        Per-epoch training figures: ``loss``, ``reconstruction_loss``,
        ``commitment_loss``, ``ssim``, ``top_perplexity``, ``top_usage``,
        ``bottom_perplexity``, ``bottom_usage``, and ``val_*`` with validation data.
    image_shape_ : tuple of (int, int)
        Height and width of the training images.
    batch_size_ : int
        The batch size ``fit`` trained with (``batch_size`` resolved).
    learning_rate_ : float
        The learning rate the model started at (``learning_rate`` resolved).
    top_shape_, bottom_shape_ : tuple of (int, int)
        Shapes of the top (H/8, W/8) and bottom (H/s, W/s) code maps, s the
        ``bottom_stride``.
    n_top_codes_, n_bottom_codes_ : int
        Size of each codebook.
    codebook_usage_ : dict of str to float
        Fraction of each codebook used in the last training epoch.
    callbacks_ : list of keras.callbacks.Callback
        The copies of ``callbacks`` that the last fit ran, to read what they
        recorded; not pickled or saved.

    See Also
    --------
    oasisgen.HierarchicalGenerator : VQ-VAE-2 plus priors, for sampling new slices.

    Notes
    -----
    A fit is repeatable: the same ``random_state`` gives the same weights on the
    same machine, and a fit interrupted and resumed from its checkpoints gives the
    same weights and ``history_`` as one that ran through. Each checkpoint is a
    saved estimator: :func:`oasisgen.load` reads it.

    Examples
    --------
    >>> from oasisgen import VQVAE2Estimator
    >>> from oasisgen.datasets import load_sample
    >>> X = load_sample("train", image_size=32)[:48]
    >>> est = VQVAE2Estimator(num_embeddings=32, embedding_dim=8, hidden_channels=16,
    ...                       n_res_channels=8, epochs=2, random_state=0).fit(X)
    >>> codes = est.transform(X[:4])
    >>> codes.shape  # 4x4 top codes and 8x8 bottom codes per image
    (4, 80)
    >>> est.inverse_transform(codes).shape
    (4, 32, 32, 1)
    >>> 0.0 <= est.score(X[:4]) <= 1.0
    True
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "num_embeddings": [Interval(Integral, 2, None, closed="left"), tuple, list],
        "embedding_dim": [_POSITIVE_INT],
        "hidden_channels": [Interval(Integral, 2, None, closed="left")],
        "n_res_blocks": [Interval(Integral, 0, None, closed="left")],
        "n_res_channels": [_POSITIVE_INT],
        "commitment_cost": [Interval(Real, 0, None, closed="left")],
        "decay": [Interval(Real, 0, 1, closed="left")],
        "bottom_stride": [Options(Integral, set(BOTTOM_STRIDES))],
        "top_reconstruction_weight": [Interval(Real, 0, None, closed="left")],
        "gradient_loss_weight": [Interval(Real, 0, None, closed="left")],
        "bottom_code_noise": [Interval(Real, 0, 1, closed="left")],
        "adversarial_loss_weight": [Interval(Real, 0, None, closed="left")],
        **TRAINING_CONSTRAINTS,
        "learning_rate": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "batch_size": [_POSITIVE_INT, StrOptions({"auto"})],
    }

    def __init__(
        self,
        num_embeddings: int | tuple[int, int] = 512,
        embedding_dim: int = 64,
        hidden_channels: int = 128,
        n_res_blocks: int = 2,
        n_res_channels: int = 32,
        commitment_cost: float = 0.25,
        decay: float = 0.99,
        bottom_stride: int = 4,
        top_reconstruction_weight: float = 0.0,
        gradient_loss_weight: float = 0.0,
        bottom_code_noise: float = 0.0,
        adversarial_loss_weight: float = 0.0,
        optimizer: str | dict[str, Any] = "adam",
        learning_rate: float | str = "auto",
        batch_size: int | str = "auto",
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
    ) -> None:
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.hidden_channels = hidden_channels
        self.n_res_blocks = n_res_blocks
        self.n_res_channels = n_res_channels
        self.commitment_cost = commitment_cost
        self.decay = decay
        self.bottom_stride = bottom_stride
        self.top_reconstruction_weight = top_reconstruction_weight
        self.gradient_loss_weight = gradient_loss_weight
        self.bottom_code_noise = bottom_code_noise
        self.adversarial_loss_weight = adversarial_loss_weight
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

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = []  # images in, integer codes out
        return tags

    # ---------------------------------------------------------------- fitting
    def fit(self, X: Any, y: None = None, *, validation_data: Any = None) -> Any:
        """Train the VQ-VAE-2 on images.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, 1]), SliceDataset or \
tf.data.Dataset
            Training images: uint8, or floats in [0, 1]; height and width divisible
            by 8. Datasets are streamed, never loaded whole.
        y : None
            Ignored.
        validation_data : same kinds as X, optional
            Images for the ``val_*`` figures of ``history_``.

        Returns
        -------
        self : VQVAE2Estimator
            The fitted estimator.

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
        self._check_params()
        source = image_source(X, caller=f"{type(self).__name__}.fit")
        going_on = self._start_training(
            lambda: self._is_fitted_to(source.image_shape),
            continue_fitted=self.warm_start,
            data=_describe(source.image_shape),
        )
        seed = self._training_seed()
        self._seed_globally(seed)
        train, validation = self._train_validation(source, validation_data, seed)
        self._resolve_auto(train, new_model=not going_on)
        if not going_on:
            self._initialise(source.image_shape, seed)
        self._train(train, validation, epochs=self._epochs_to_train(), seed=seed)
        return self

    def partial_fit(self, X: Any, y: None = None, *, validation_data: Any = None):
        """Train for one more epoch, starting the model on the first call.

        Parameters
        ----------
        X : array-like, SliceDataset or tf.data.Dataset
            Training images, as for :meth:`fit`.
        y : None
            Ignored.
        validation_data : same kinds as X, optional
            Images for the ``val_*`` figures of ``history_``.

        Returns
        -------
        self : VQVAE2Estimator
            The estimator, trained one epoch more.

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
        self._check_params()
        source = image_source(X, caller=f"{type(self).__name__}.partial_fit")
        if hasattr(self, "model_") and not self._is_fitted_to(source.image_shape):
            raise ValueError(
                f"{type(self).__name__}.partial_fit got images of "
                f"{source.image_shape}; the model was fitted on "
                f"{self.image_shape_}. Resize them, or call fit to start again."
            )
        going_on = self._start_training(
            lambda: self._is_fitted_to(source.image_shape),
            continue_fitted=True,
            data=_describe(source.image_shape),
        )
        seed = self._training_seed()
        self._seed_globally(seed)
        train, validation = self._train_validation(source, validation_data, seed)
        self._resolve_auto(train, new_model=not going_on)
        if not going_on:
            self._initialise(source.image_shape, seed)
        self._train(train, validation, epochs=1, seed=seed)
        return self

    def _check_params(self) -> None:
        self._validate_params()
        sizes = self.num_embeddings
        if isinstance(sizes, tuple | list) and not (
            len(sizes) == 2
            and all(
                isinstance(k, Integral) and not isinstance(k, bool) and k >= 2
                for k in sizes
            )
        ):
            raise ValueError(
                f"The 'num_embeddings' parameter of {type(self).__name__} must be an "
                f"int >= 2 or a (top, bottom) pair of ints >= 2. Got {sizes!r} instead."
            )

    def _resolve_auto(self, train: ImageSource, *, new_model: bool) -> None:
        """Set ``batch_size_`` and ``learning_rate_`` for the training images.

        A model that goes on training keeps the learning rate it started at.
        """
        n_slices = None if train.tf_dataset is not None else len(train)
        batch_size, learning_rate = auto_training_settings(n_slices)
        given = self.batch_size != "auto"
        self.batch_size_ = int(self.batch_size) if given else batch_size
        if n_slices is not None:  # a tf.data.Dataset brings its own batches
            self.batch_size_ = self._split_over_replicas(
                self.batch_size_, given=given, unit="image", auto=True
            )
        if new_model or not hasattr(self, "learning_rate_"):
            self.learning_rate_ = (
                learning_rate
                if self.learning_rate == "auto"
                else float(self.learning_rate)
            )

    def _initial_learning_rate(self) -> float:
        return self.learning_rate_

    def _prediction_batch_size(self) -> int:
        """Images per model call outside training: ``batch_size``, 32 if "auto"."""
        return 32 if self.batch_size == "auto" else int(self.batch_size)

    def _is_fitted_to(self, image_shape: tuple[int, int]) -> bool:
        return hasattr(self, "model_") and tuple(self.image_shape_) == image_shape

    def _fitted_data(self) -> str:
        return _describe(self.image_shape_)

    def _train_validation(
        self, source: ImageSource, validation_data: Any, seed: int | None
    ) -> tuple[ImageSource, ImageSource | None]:
        caller = f"{type(self).__name__}.fit"
        if validation_data is not None:
            validation = image_source(validation_data, caller=caller)
            if validation.image_shape != source.image_shape:
                raise ValueError(
                    f"{caller} got validation images of {validation.image_shape} and "
                    f"training images of {source.image_shape}; they must match."
                )
            return source, validation
        if self.validation_fraction == 0:
            return source, None
        if source.dataset is not None:
            train, held_out = source.dataset.split_by_subject(
                test_size=self.validation_fraction, random_state=seed
            )
            return image_source(train, caller=caller), image_source(
                held_out, caller=caller
            )
        if source.array is None:
            raise ValueError(
                f"{caller} cannot hold out validation_fraction="
                f"{self.validation_fraction} of a tf.data.Dataset; pass "
                "validation_data=... or set validation_fraction=0."
            )
        (train,), (held_out,) = self._hold_out((source.array,), seed, unit="image")
        return (
            ImageSource(train, None, None, source.image_shape),
            ImageSource(held_out, None, None, source.image_shape),
        )

    def _initialise(self, image_shape: tuple[int, int], seed: int | None) -> None:
        self.image_shape_ = (int(image_shape[0]), int(image_shape[1]))
        self._new_model(seed)
        self._set_shapes(image_shape)

    def build_model(self, seed: int | None) -> VQVAE2:
        """Return the built :class:`~oasisgen.nn.VQVAE2` that a new fit trains.

        An override point (see the user guide, "Extending the estimators"):
        ``fit`` calls it for a new model, with ``image_shape_`` set to the
        training images' size, inside the ``distribute`` strategy.

        Parameters
        ----------
        seed : int or None
            The fit's seed, for the initialisers and the codebook restarts.

        Returns
        -------
        model : VQVAE2
            Built for images of ``image_shape_``, not compiled.
        """
        model = VQVAE2(
            num_embeddings=self.num_embeddings,
            embedding_dim=self.embedding_dim,
            hidden_channels=self.hidden_channels,
            n_res_blocks=self.n_res_blocks,
            n_res_channels=self.n_res_channels,
            commitment_cost=self.commitment_cost,
            decay=self.decay,
            bottom_stride=self.bottom_stride,
            top_reconstruction_weight=self.top_reconstruction_weight,
            gradient_loss_weight=self.gradient_loss_weight,
            bottom_code_noise=self.bottom_code_noise,
            adversarial_loss_weight=self.adversarial_loss_weight,
            seed=seed,
        )
        model.build((None, *self.image_shape_, 1))
        return model

    def training_data(
        self, data: ImageSource, *, shuffle: bool, seed: int | None
    ) -> tf.data.Dataset:
        """Return the batches of ``batch_size_`` images that ``fit`` trains on.

        An override point (see the user guide, "Extending the estimators").

        Parameters
        ----------
        data : ImageSource
            The training or validation images, as ``fit`` holds them.
        shuffle : bool
            True for the training images of an epoch, False for validation.
        seed : int or None
            The epoch's shuffling seed; None for validation.

        Returns
        -------
        batches : tf.data.Dataset
            Batches of float32 images of shape ``(batch, height, width, 1)``.
        """
        batches = data.training_data(self.batch_size_, shuffle=shuffle, seed=seed)
        if data.tf_dataset is None:  # a tf.data.Dataset brings its own batches
            batches = self._split_batches(
                batches, len(data), self.batch_size_, training=shuffle
            )
        return batches

    def _set_shapes(self, image_shape: tuple[int, int]) -> None:
        height, width = image_shape
        self.image_shape_ = (int(height), int(width))
        stride = self.model_.bottom_stride
        self.top_shape_ = (height // TOP_STRIDE, width // TOP_STRIDE)
        self.bottom_shape_ = (height // stride, width // stride)
        self.n_top_codes_, self.n_bottom_codes_ = self.model_.num_embeddings

    def _train(
        self,
        train: ImageSource,
        validation: ImageSource | None,
        *,
        epochs: int,
        seed: int | None,
    ) -> None:
        self._run_epochs(train, validation, epochs=epochs, seed=seed)
        self._set_codebook_usage()

    def _set_codebook_usage(self) -> None:
        if self.history_:
            self.codebook_usage_ = {
                level: self.history_[f"{level}_usage"][-1]
                for level in ("top", "bottom")
            }

    # ------------------------------------------------------------- transforms
    def encode(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return the top and bottom code maps of images.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, 1]), SliceDataset or \
tf.data.Dataset
            Images of the size the model was fitted on.

        Returns
        -------
        top : ndarray of shape (n_samples, height / 8, width / 8), dtype int32
            Top-level codes, in ``[0, n_top_codes_)``.
        bottom : ndarray of shape (n_samples, height / s, width / s), dtype int32
            Bottom-level codes, in ``[0, n_bottom_codes_)``; s is the
            ``bottom_stride``.
        """
        source = self._fitted_source(X, "encode")
        encode = self._graph("encode", self.model_.encode, self._image_spec())
        pairs = [
            encode(tf.constant(b))
            for b in source.batches(self._prediction_batch_size())
        ]
        top = np.concatenate([p[0].numpy() for p in pairs])
        bottom = np.concatenate([p[1].numpy() for p in pairs])
        return top, bottom

    def transform(self, X: Any) -> np.ndarray:
        """Return the codes of images as one row per image.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, 1]), SliceDataset or \
tf.data.Dataset
            Images of the size the model was fitted on.

        Returns
        -------
        codes : ndarray of shape (n_samples, top_positions + bottom_positions), \
dtype int32
            The top code map flattened row by row, then the bottom one;
            ``top_positions`` is the number of cells of ``top_shape_`` (not the
            codebook size ``n_top_codes_``), ``bottom_positions`` of
            ``bottom_shape_``.
        """
        top, bottom = self.encode(X)
        return np.concatenate(
            [top.reshape(len(top), -1), bottom.reshape(len(top), -1)], 1
        )

    def decode(self, top: Any, bottom: Any) -> np.ndarray:
        """Return images from top and bottom code maps.

        Parameters
        ----------
        top : array-like of shape (n_samples, height / 8, width / 8)
            Integer codes in ``[0, n_top_codes_)``.
        bottom : array-like of shape (n_samples, height / s, width / s)
            Integer codes in ``[0, n_bottom_codes_)``.

        Returns
        -------
        images : ndarray of shape (n_samples, height, width, 1), dtype float32
            Decoded images with values in [0, 1].
        """
        check_is_fitted(self)
        caller = f"{type(self).__name__}.decode"
        top = check_code_maps(
            top,
            caller=caller,
            name="top codes",
            num_embeddings=self.n_top_codes_,
            grid=self.top_shape_,
        )
        bottom = check_code_maps(
            bottom,
            caller=caller,
            name="bottom codes",
            num_embeddings=self.n_bottom_codes_,
            grid=self.bottom_shape_,
        )
        if len(top) != len(bottom):
            raise ValueError(
                f"{type(self).__name__}.decode got {len(top)} top and {len(bottom)} "
                "bottom code maps; expected one of each per image."
            )
        decode = self._graph(
            "decode",
            self.model_.decode,
            [
                tf.TensorSpec((None, *self.top_shape_), tf.int32),
                tf.TensorSpec((None, *self.bottom_shape_), tf.int32),
            ],
        )
        step = self._prediction_batch_size()
        return np.concatenate(
            [
                decode(
                    tf.constant(top[i : i + step]), tf.constant(bottom[i : i + step])
                ).numpy()
                for i in range(0, len(top), step)
            ]
        ).astype(np.float32)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Return images from rows of codes made by :meth:`transform`.

        Parameters
        ----------
        X : array-like of shape (n_samples, top_positions + bottom_positions)
            Integer codes, as :meth:`transform` makes them.

        Returns
        -------
        images : ndarray of shape (n_samples, height, width, 1), dtype float32
            Decoded images with values in [0, 1].
        """
        check_is_fitted(self)
        codes = np.asarray(X)
        top_positions = int(np.prod(self.top_shape_))
        bottom_positions = int(np.prod(self.bottom_shape_))
        n_codes = top_positions + bottom_positions
        if codes.ndim != 2 or codes.shape[1] != n_codes:
            raise ValueError(
                f"{type(self).__name__}.inverse_transform expected codes of shape "
                f"(n_samples, {n_codes}) ({top_positions} top + {bottom_positions} "
                f"bottom codes), as made by transform; got shape {codes.shape}."
            )
        top = codes[:, :top_positions].reshape(-1, *self.top_shape_)
        bottom = codes[:, top_positions:].reshape(-1, *self.bottom_shape_)
        return self.decode(top, bottom)

    def reconstruct(self, X: Any) -> np.ndarray:
        """Encode and decode images.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, 1]), SliceDataset or \
tf.data.Dataset
            Images of the size the model was fitted on.

        Returns
        -------
        reconstructions : ndarray of shape (n_samples, height, width, 1)
            Float32 values in [0, 1].
        """
        source = self._fitted_source(X, "reconstruct")
        return np.concatenate(
            [
                self._reconstruct_batch(b)
                for b in source.batches(self._prediction_batch_size())
            ]
        )

    def score(self, X: Any, y: None = None) -> float:
        """Return the mean SSIM between images and their reconstructions.

        SSIM uses an 11x11 Gaussian window with sigma 1.5 and a data range of 1
        (see :func:`oasisgen.metrics.ssim`). Higher is better; 1 is perfect.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, 1]), SliceDataset or \
tf.data.Dataset
            Images of the size the model was fitted on.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Mean SSIM over the images.
        """
        source = self._fitted_source(X, "score")
        values = [
            ssim(batch, self._reconstruct_batch(batch), reduction="none")
            for batch in source.batches(self._prediction_batch_size())
        ]
        return float(np.mean(np.concatenate(values)))

    def _reconstruct_batch(self, batch: np.ndarray) -> np.ndarray:
        reconstruct = self._graph(
            "reconstruct", _reconstruction_of(self.model_), self._image_spec()
        )
        return reconstruct(tf.constant(batch)).numpy()

    def _fitted_source(self, X: Any, method: str) -> ImageSource:
        check_is_fitted(self)
        caller = f"{type(self).__name__}.{method}"
        source = image_source(X, caller=caller)
        if source.image_shape != tuple(self.image_shape_):
            raise ValueError(
                f"{caller} expected images of {self.image_shape_[0]}x"
                f"{self.image_shape_[1]} pixels, the size the model was fitted on; "
                f"got {source.image_shape[0]}x{source.image_shape[1]}. Resize them "
                f"with oasisgen.preprocessing.Resize({self.image_shape_})."
            )
        return source

    def _image_spec(self) -> list[tf.TensorSpec]:
        return [tf.TensorSpec((None, *self.image_shape_, 1), tf.float32)]

    # ------------------------------------------------------------ persistence
    def _fitted_state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _RESOLVED if hasattr(self, name)}

    def _restore_fitted(self, state: dict[str, Any]) -> None:
        self._set_shapes(_image_shape_of(self.model_))
        self._set_codebook_usage()
        # models saved before the "auto" settings hold neither
        for name, kind in _RESOLVED.items():
            if name in state:
                setattr(self, name, kind(state[name]))


_RESOLVED = {"batch_size_": int, "learning_rate_": float}
"""The fitted values of the parameters that may be "auto", and their types."""


def _describe(image_shape: tuple[int, int]) -> str:
    return f"images of {image_shape[0]}x{image_shape[1]} pixels"


def _reconstruction_of(model: VQVAE2) -> Any:
    """Return a function mapping images to their reconstructions in [0, 1]."""

    def reconstruct(images: tf.Tensor) -> tf.Tensor:
        return model(images, training=False)

    return reconstruct


def _image_shape_of(model: VQVAE2) -> tuple[int, int]:
    """Return the image size a loaded model was built for."""
    height, width = model.get_build_config()["input_shape"][1:3]
    return int(height), int(width)
