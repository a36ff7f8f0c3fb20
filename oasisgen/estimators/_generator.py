"""``HierarchicalGenerator``: VQ-VAE-2 codes drawn by two PixelCNN priors, decoded.

When the training slices come with their slice positions (a
:class:`~oasisgen.datasets.SliceDataset` from a loader that knows them, or
``fit(X, slice_position)``), the top prior is conditioned on the position, so
``sample(n, slice_position=0.55)`` draws slices at that level. With an
``augmentation`` transformer, the priors learn from the codes of randomly
transformed copies of the training slices too, which keeps them from memorising a
small training set.
"""

from __future__ import annotations

import math
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted

from oasisgen.datasets import SliceDataset
from oasisgen.datasets.validation import check_sampling_options, check_slice_positions
from oasisgen.estimators._base import seed_from
from oasisgen.estimators._inputs import image_source
from oasisgen.estimators._persistence import (
    SaveMixin,
    load,
    register_estimator,
    write_manifest,
)
from oasisgen.estimators._prior import PixelCNNPrior
from oasisgen.estimators._vqvae import VQVAE2Estimator
from oasisgen.nn.distribute import writes_files

_PARTS = ("vqvae_", "top_prior_", "bottom_prior_")


@register_estimator
class HierarchicalGenerator(SaveMixin, BaseEstimator):
    """Generate slices: top codes, then bottom codes given the top, then decode.

    ``fit`` trains the VQ-VAE-2 on images, encodes them, fits the top prior on the
    top code maps and the bottom prior on the bottom code maps conditioned on the
    top ones. ``sample`` runs the same chain forwards: it draws top maps, draws
    bottom maps given them, and decodes both (Razavi et al. 2019, section 3.2).

    Parameters
    ----------
    vqvae : VQVAE2Estimator or sklearn.frozen.FrozenEstimator, optional
        The autoencoder; ``None`` uses ``VQVAE2Estimator()``. If it is already
        fitted and ``refit_vqvae="auto"``, it is used as it is. Wrap a fitted one
        in ``FrozenEstimator`` to keep it through ``clone``, so that a
        ``GridSearchCV`` over the priors fits it not once per candidate but never.
    top_prior : PixelCNNPrior, optional
        Prior of the top codes; ``None`` uses ``PixelCNNPrior()``. Its
        ``num_embeddings`` is set to the VQ-VAE-2's top codebook size; one set to
        another size is an error.
    bottom_prior : PixelCNNPrior, optional
        Prior of the bottom codes given the top codes; ``None`` uses
        ``PixelCNNPrior()``. Its codebook sizes and ``condition_upsample`` (2, or 4
        with a VQ-VAE-2 of ``bottom_stride=2``) are set from the VQ-VAE-2; values
        set to others are an error.
    refit_vqvae : {"auto", True, False}, default="auto"
        ``"auto"`` fits a copy of ``vqvae`` unless it is already fitted; ``True``
        always fits a fresh copy; ``False`` requires a fitted ``vqvae``.
    augmentation : transformer, optional
        Makes more training maps for the priors: its ``fit_transform(X)`` (such as
        :class:`oasisgen.preprocessing.RandomSliceTransform` with ``n_copies=8``)
        gives randomly transformed copies of the training slices, in copy-major
        order, whose codes the priors learn from beside the codes of ``X``. The
        copies are drawn once per ``fit``. The VQ-VAE-2 is fitted on ``X`` alone.
        None learns from ``X`` alone.

    Attributes
    ----------
    vqvae_ : VQVAE2Estimator
        The fitted autoencoder.
    top_prior_ : PixelCNNPrior
        The fitted prior of the top codes.
    bottom_prior_ : PixelCNNPrior
        The fitted prior of the bottom codes given the top codes.
    slice_positions_ : ndarray of shape (n_train,) or None
        The slice positions of the training slices, from which ``sample`` draws
        when it is given none; None when the generator was fitted without
        positions (its top prior is then unconditional).

    Examples
    --------
    >>> from oasisgen import HierarchicalGenerator, PixelCNNPrior, VQVAE2Estimator
    >>> from oasisgen.datasets import load_sample
    >>> X = load_sample("train", image_size=16)[:16]
    >>> tiny_prior = PixelCNNPrior(n_layers=1, hidden_channels=8, epochs=1,
    ...                            random_state=0)
    >>> gen = HierarchicalGenerator(
    ...     vqvae=VQVAE2Estimator(num_embeddings=16, embedding_dim=4,
    ...                           hidden_channels=8, n_res_channels=4, epochs=1,
    ...                           random_state=0),
    ...     top_prior=tiny_prior, bottom_prior=tiny_prior,
    ... ).fit(X)
    >>> gen.sample(2, random_state=0).shape
    (2, 16, 16, 1)

    Fitted on slices with their positions (here with the VQ-VAE-2 fitted above),
    it draws slices at a given level:

    >>> X, positions = load_sample("train", image_size=16, return_positions=True)
    >>> gen = gen.set_params(vqvae=gen.vqvae_).fit(X[:16], positions[:16])
    >>> gen.sample(2, slice_position=0.5, random_state=0).shape
    (2, 16, 16, 1)
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "vqvae": [None, VQVAE2Estimator, FrozenEstimator],
        "top_prior": [None, PixelCNNPrior],
        "bottom_prior": [None, PixelCNNPrior],
        "refit_vqvae": ["boolean", StrOptions({"auto"})],
        "augmentation": [None, HasMethods(["fit_transform"])],
    }

    def __init__(
        self,
        vqvae: VQVAE2Estimator | FrozenEstimator | None = None,
        top_prior: PixelCNNPrior | None = None,
        bottom_prior: PixelCNNPrior | None = None,
        refit_vqvae: bool | str = "auto",
        augmentation: TransformerMixin | None = None,
    ) -> None:
        self.vqvae = vqvae
        self.top_prior = top_prior
        self.bottom_prior = bottom_prior
        self.refit_vqvae = refit_vqvae
        self.augmentation = augmentation

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.required = False
        return tags

    def fit(self, X: Any, slice_position: Any = None) -> HierarchicalGenerator:
        """Fit the VQ-VAE-2 (unless given fitted), then both priors on its codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, 1]), SliceDataset or \
tf.data.Dataset
            Training images, as for :meth:`VQVAE2Estimator.fit`.
        slice_position : array-like of shape (n_samples,), optional
            The level of each slice in its volume, in [0, 1] (0 the lowest slice,
            1 the highest). Taken from ``X.positions`` when ``X`` is a
            SliceDataset that knows them. With positions, the top prior is
            conditioned on them. It takes the place of ``y``, so
            cross-validation splits it with ``X``.

        Returns
        -------
        self : HierarchicalGenerator
            The fitted generator.
        """
        self._validate_params()
        image_source(X, caller=f"{type(self).__name__}.fit")  # the images first
        positions = _training_positions(X, slice_position)
        if self.augmentation is not None and isinstance(X, tf.data.Dataset):
            raise ValueError(
                f"{type(self).__name__}.fit got augmentation={self.augmentation!r} "
                "and a tf.data.Dataset; augmentation needs the images in memory. "
                "Pass an array or a SliceDataset, or set augmentation=None."
            )
        vqvae = self._fitted_vqvae(X)
        # Both priors are checked against the VQ-VAE-2 before either is fitted,
        # and the fitted attributes change only once everything is fitted.
        top_prior = _prior_for(
            self.top_prior, "top_prior", num_embeddings=vqvae.n_top_codes_
        )
        bottom_prior = _prior_for(
            self.bottom_prior,
            "bottom_prior",
            num_embeddings=vqvae.n_bottom_codes_,
            condition_num_embeddings=vqvae.n_top_codes_,
            condition_upsample=vqvae.bottom_shape_[0] // vqvae.top_shape_[0],
        )
        top, bottom = vqvae.encode(X)
        training_positions = positions
        if self.augmentation is not None:
            top, bottom, positions = self._with_augmented_codes(
                vqvae, X, top, bottom, positions
            )
        top_prior.fit(top, global_condition=positions)
        bottom_prior.fit(bottom, top)
        self.vqvae_, self.top_prior_, self.bottom_prior_ = (
            vqvae,
            top_prior,
            bottom_prior,
        )
        self.slice_positions_ = training_positions
        return self

    def _fitted_vqvae(self, X: Any) -> VQVAE2Estimator:
        vqvae = self.vqvae if self.vqvae is not None else VQVAE2Estimator()
        if isinstance(vqvae, FrozenEstimator):
            return _frozen_vqvae(vqvae, self.refit_vqvae)
        fitted = hasattr(vqvae, "model_")
        if self.refit_vqvae is False and not fitted:
            raise ValueError(
                "HierarchicalGenerator got refit_vqvae=False but an unfitted vqvae; "
                "fit it first or set refit_vqvae='auto'."
            )
        if fitted and self.refit_vqvae is not True:
            return vqvae
        return clone(vqvae).fit(X)

    def _with_augmented_codes(
        self,
        vqvae: VQVAE2Estimator,
        X: Any,
        top: np.ndarray,
        bottom: np.ndarray,
        positions: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Add the codes of the augmentation's copies of ``X`` to the codes of X."""
        caller = f"{type(self).__name__}.fit"
        source = image_source(X, caller=caller)
        images = source.array if source.array is not None else source.dataset.to_numpy()
        copies = clone(self.augmentation).fit_transform(images)
        if len(copies) % len(images):
            raise ValueError(
                f"{caller}: augmentation {self.augmentation!r} returned "
                f"{len(copies)} slices for {len(images)}; expected whole copies of "
                "the training slices, in copy-major order."
            )
        n_copies = len(copies) // len(images)
        copy_top, copy_bottom = vqvae.encode(copies)
        if positions is not None:
            positions = np.tile(positions, n_copies + 1)
        return (
            np.concatenate([top, copy_top]),
            np.concatenate([bottom, copy_bottom]),
            positions,
        )

    def sample(
        self,
        n_samples: int = 1,
        *,
        slice_position: float | Any = None,
        random_state: int | np.random.RandomState | None = None,
        temperature: float | tuple[float, float] = 1.0,
        top_k: int | None = None,
        progress: bool = False,
    ) -> np.ndarray:
        """Generate new images.

        Parameters
        ----------
        n_samples : int, default=1
            Number of images, at least 1.
        slice_position : float or array-like of shape (n_samples,), optional
            The level of the slices to draw, in [0, 1] (0 the lowest slice of a
            volume, 1 the highest): one for all or one per image. None draws the
            levels from those of the training slices. Only for a generator fitted
            with positions.
        random_state : int, RandomState instance or None, default=None
            The same seed gives the same images.
        temperature : float or pair of float, default=1.0
            Temperature of both priors, or ``(top, bottom)``; below 1 is more
            conservative. Must be > 0. A cooler top prior gives more typical head
            shapes; the bottom prior's fills them with detail.
        top_k : int, optional
            Draw each code among the ``top_k`` most likely ones only.
        progress : bool, default=False
            Show progress bars over the rows of both code maps.

        Returns
        -------
        images : ndarray of shape (n_samples, height, width, 1), dtype float32
            Generated images with values in [0, 1].
        """
        check_is_fitted(self)
        top_temperature, bottom_temperature = _temperature_pair(temperature)
        for value in (top_temperature, bottom_temperature):
            check_sampling_options(n_samples, value, top_k)
        seed = seed_from(random_state)
        seeds = (None, None, None) if seed is None else (seed, seed + 1, seed + 2)
        positions = self._sampling_positions(slice_position, n_samples, seeds[2])
        options = {"top_k": top_k, "progress": progress}
        top = self.top_prior_.sample(
            n_samples,
            global_condition=positions,
            random_state=seeds[0],
            temperature=top_temperature,
            **options,
        )
        bottom = self.bottom_prior_.sample(
            n_samples,
            top,
            random_state=seeds[1],
            temperature=bottom_temperature,
            **options,
        )
        return self.vqvae_.decode(top, bottom)

    def _sampling_positions(
        self, slice_position: Any, n_samples: Any, seed: int | None
    ) -> np.ndarray | None:
        """Return the positions to sample at, or None for an unconditional prior."""
        caller = f"{type(self).__name__}.sample"
        if self.slice_positions_ is None:
            if slice_position is not None:
                raise ValueError(
                    f"{caller} got slice_position={slice_position!r}, but this "
                    "generator was fitted without slice positions. Fit it on a "
                    "SliceDataset that has positions, or with fit(X, slice_position)."
                )
            return None
        if slice_position is None:
            rng = check_random_state(seed)
            return rng.choice(self.slice_positions_, size=int(n_samples))
        if isinstance(slice_position, Real) and not isinstance(slice_position, bool):
            slice_position = np.full(int(n_samples), float(slice_position))
        return check_slice_positions(
            slice_position, n_slices=int(n_samples), caller=caller
        )

    def score_samples(self, X: Any, slice_position: Any = None) -> np.ndarray:
        """Return the log-likelihood of the codes of each image under both priors.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, 1]), SliceDataset or \
tf.data.Dataset
            Images of the size the generator was fitted on.
        slice_position : array-like of shape (n_samples,), optional
            The level of each slice; required by a generator fitted with
            positions unless ``X`` is a SliceDataset that has them.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            ``log p(top) + log p(bottom | top)`` in nats.
        """
        check_is_fitted(self)
        top, bottom = self.vqvae_.encode(X)
        positions = self._scoring_positions(X, slice_position, len(top))
        return self.top_prior_.score_samples(
            top, global_condition=positions
        ) + self.bottom_prior_.score_samples(bottom, top)

    def score(self, X: Any, y: Any = None) -> float:
        """Return the mean log-likelihood per code of the images' codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, 1]), SliceDataset or \
tf.data.Dataset
            Images of the size the generator was fitted on.
        y : array-like of shape (n_samples,), optional
            The slice positions of ``X``, as in :meth:`score_samples`.

        Returns
        -------
        score : float
            ``log p(top) + log p(bottom | top)`` per code, averaged over images, in
            nats (higher is better).
        """
        check_is_fitted(self)
        n_codes = np.prod(self.vqvae_.top_shape_) + np.prod(self.vqvae_.bottom_shape_)
        return float(np.mean(self.score_samples(X, y)) / n_codes)

    def bits_per_code(self, X: Any, slice_position: Any = None) -> dict[str, float]:
        """Return the bits per code of each prior on the codes of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, 1]), SliceDataset or \
tf.data.Dataset
            Images of the size the generator was fitted on, such as held-out ones.
        slice_position : array-like of shape (n_samples,), optional
            As in :meth:`score_samples`.

        Returns
        -------
        bits : dict
            ``"top"`` and ``"bottom"``: the mean negative log2-likelihood per code
            of each prior (lower is better); ``"top_uniform"`` and
            ``"bottom_uniform"``: what guessing uniformly among the codes gives;
            ``"bottom_other_top"``: the bottom prior's figure when each slice's
            top codes are those of another slice of ``X`` (half the slices
            away; NaN for a single slice). How far it lies above ``"bottom"``
            is how much the bottom prior reads the top codes: if hardly at all,
            the top prior's layout does not reach the samples.

        Examples
        --------
        >>> from oasisgen import HierarchicalGenerator, PixelCNNPrior, VQVAE2Estimator
        >>> from oasisgen.datasets import load_sample
        >>> X = load_sample("train", image_size=16)[:8]
        >>> prior = dict(n_layers=1, hidden_channels=4, epochs=1, random_state=0)
        >>> gen = HierarchicalGenerator(
        ...     vqvae=VQVAE2Estimator(num_embeddings=8, embedding_dim=4,
        ...                           hidden_channels=8, n_res_blocks=0,
        ...                           epochs=1, random_state=0),
        ...     top_prior=PixelCNNPrior(**prior),
        ...     bottom_prior=PixelCNNPrior(**prior)).fit(X)
        >>> sorted(gen.bits_per_code(X))
        ['bottom', 'bottom_other_top', 'bottom_uniform', 'top', 'top_uniform']
        """
        check_is_fitted(self)
        top, bottom = self.vqvae_.encode(X)
        positions = self._scoring_positions(X, slice_position, len(top))
        ln2 = math.log(2)
        other_top = np.roll(top, len(top) // 2, axis=0)
        return {
            "top": -self.top_prior_.score(top, global_condition=positions) / ln2,
            "bottom": -self.bottom_prior_.score(bottom, top) / ln2,
            "bottom_other_top": -self.bottom_prior_.score(bottom, other_top) / ln2
            if len(top) > 1
            else math.nan,
            "top_uniform": math.log2(self.top_prior_.num_embeddings_),
            "bottom_uniform": math.log2(self.bottom_prior_.num_embeddings_),
        }

    def _scoring_positions(
        self, X: Any, slice_position: Any, n_slices: int
    ) -> np.ndarray | None:
        caller = f"{type(self).__name__}.score_samples"
        given = _given_positions(X, slice_position)
        if self.slice_positions_ is None:
            if slice_position is not None:
                raise ValueError(
                    f"{caller} got slice_position, but this generator was fitted "
                    "without slice positions; do not pass them."
                )
            return None
        if given is None:
            raise ValueError(
                f"{caller}: this generator was fitted with slice positions; pass "
                "the positions of these slices as slice_position, or a SliceDataset "
                "that has them."
            )
        return check_slice_positions(given, n_slices=n_slices, caller=caller)

    def evaluate(
        self,
        X: Any,
        X_train: Any,
        *,
        slice_position: Any = None,
        n_samples: int = 64,
        random_state: int | None = 0,
        temperature: float | tuple[float, float] = 1.0,
        top_k: int | None = None,
        groups: Any = None,
        train_groups: Any = None,
        classifier: str = "cnn",
        n_splits: int = 5,
        return_samples: bool = False,
    ) -> dict[str, Any] | tuple[dict[str, Any], np.ndarray]:
        """Measure how far generated slices are from real ones.

        Draws ``n_samples`` slices and compares them with the real held-out slices
        ``X`` and the training slices ``X_train`` with
        :func:`oasisgen.metrics.sample_quality`: a classifier two-sample test,
        shape plausibility, anatomy detail, memorisation and diversity, each
        beside the same figure for the real slices, the shape and detail of
        the VQ-VAE-2's reconstructions of ``X``, the ceiling of the priors, and
        the same figures for slices of ``X``'s own top codes with bottom codes
        the bottom prior drew (``*_given_real_top``): where these fall short,
        the bottom prior does; where only the samples do, the top prior.
        Compare with held-out slices of the people the generator learnt from:
        slices of other people or scanners are told apart almost perfectly even
        when both are real.

        Parameters
        ----------
        X : array-like of shape (n_real, height, width[, 1]) or SliceDataset
            Real slices the generator did not learn from.
        X_train : array-like of shape (n_train, height, width[, 1]) or SliceDataset
            The slices it learnt from (for memorisation and the shape reference),
            each volume's slices on consecutive rows in slice order.
        slice_position : array-like of shape (n_real,), optional
            The positions of ``X`` (taken from ``X.positions`` for a
            SliceDataset). A generator fitted with positions draws its samples at
            the positions of the real slices, so both sides show the same levels.
        n_samples : int, default=64
            Slices to generate.
        random_state : int or None, default=0
            Seeds the samples and the tests.
        temperature : float or pair of float, default=1.0
            Sampling temperature of both priors, or ``(top, bottom)``.
        top_k : int, optional
            Sample among the ``top_k`` most likely codes only.
        groups, train_groups : array-like, optional
            The volume (subject) of each slice of ``X`` and ``X_train``; taken
            from ``subjects`` of a SliceDataset. They set the copy threshold.
        classifier : {"cnn", "linear"}, default="cnn"
            The classifier of the two-sample tests.
        n_splits : int, default=5
            Folds of the two-sample tests.
        return_samples : bool, default=False
            Also return the generated slices.

        Returns
        -------
        quality : dict
            What :func:`oasisgen.metrics.sample_quality` returns, plus the bits
            per code of both priors on ``X`` (``"top_bits_per_code"``,
            ``"bottom_bits_per_code"``, their uniform baselines and
            ``"bottom_bits_per_code_other_top"``, see :meth:`bits_per_code`),
            the sampling settings and, for a generator fitted with positions
            given those of ``X`` and ``X_train``, how far the level read from
            each sample lies from the position it was drawn at
            (:func:`oasisgen.metrics.level_error`): ``"level_error"``, beside
            ``"level_error_real"`` for ``X`` and ``"level_error_chance"`` for
            guessing the mean training position.
        samples : ndarray of shape (n_samples, height, width, 1)
            Only with ``return_samples=True``.
        """
        from oasisgen.metrics import sample_quality

        check_is_fitted(self)
        caller = f"{type(self).__name__}.evaluate"
        real, real_groups, real_positions = _images_of(X, caller, "X")
        train, train_subjects, train_positions = _images_of(X_train, caller, "X_train")
        groups = real_groups if groups is None else groups
        train_groups = train_subjects if train_groups is None else train_groups
        for name, images in (("X", real), ("X_train", train)):
            if images.shape[1:3] != tuple(self.vqvae_.image_shape_):
                raise ValueError(
                    f"{caller} expected {name} of "
                    f"{self.vqvae_.image_shape_[0]}x{self.vqvae_.image_shape_[1]}, "
                    f"the size the generator was fitted on; got "
                    f"{images.shape[1]}x{images.shape[2]}. Resize them with "
                    "oasisgen.preprocessing.Resize."
                )
        positions = real_levels = None
        if self.slice_positions_ is not None:
            given = real_positions if slice_position is None else slice_position
            if given is not None:
                real_levels = check_slice_positions(
                    given, n_slices=len(real), caller=caller
                )
                check_sampling_options(n_samples, 1.0, top_k)
                order = check_random_state(random_state).permutation(len(real))
                positions = np.resize(real_levels[order], n_samples)
        elif slice_position is not None:
            raise ValueError(
                f"{caller} got slice_position, but this generator was fitted "
                "without slice positions; do not pass them."
            )
        samples = self.sample(
            n_samples,
            slice_position=positions,
            random_state=random_state,
            temperature=temperature,
            top_k=top_k,
        )
        quality = sample_quality(
            samples,
            real,
            train,
            heldout_groups=groups,
            train_groups=train_groups,
            classifier=classifier,
            n_splits=n_splits,
            random_state=random_state,
            reconstructions=self.vqvae_.reconstruct(real),
            real_top_samples=self._sample_given_real_top(
                real, random_state, _temperature_pair(temperature)[1], top_k
            ),
        )
        if self.slice_positions_ is None or real_levels is not None:
            bits = self.bits_per_code(real, real_levels)
        else:  # the top prior needs the positions of the real slices
            bits = dict.fromkeys(
                ["top", "bottom", "bottom_other_top", "top_uniform", "bottom_uniform"]
            )
        quality.update(
            {
                "top_bits_per_code": bits["top"],
                "bottom_bits_per_code": bits["bottom"],
                "bottom_bits_per_code_other_top": bits["bottom_other_top"],
                "top_bits_per_code_uniform": bits["top_uniform"],
                "bottom_bits_per_code_uniform": bits["bottom_uniform"],
                **_level_errors(
                    samples, positions, real, real_levels, train, train_positions
                ),
                "temperature": list(_temperature_pair(temperature)),
                "top_k": top_k,
                "sampled_at_real_positions": positions is not None,
            }
        )
        return (quality, samples) if return_samples else quality

    def _sample_given_real_top(
        self,
        real: np.ndarray,
        random_state: int | None,
        temperature: float,
        top_k: int | None,
    ) -> np.ndarray:
        """Decode the top codes of ``real`` with bottom codes the bottom prior draws.

        Samples whose layout is real: what they lack, the bottom prior lacks.
        """
        top, _ = self.vqvae_.encode(real)
        seed = seed_from(random_state)
        bottom = self.bottom_prior_.sample(
            len(real),
            top,
            random_state=None if seed is None else seed + 3,
            temperature=temperature,
            top_k=top_k,
        )
        return self.vqvae_.decode(top, bottom)

    # -------------------------------------------------------------- persistence
    def _write_saved(self, folder: Path) -> None:
        """Write each part's saved directory and ``estimator.json`` into ``folder``."""
        for part in _PARTS:
            getattr(self, part).save(folder / part.rstrip("_"))
        positions = self.slice_positions_
        fitted = {"slice_positions_": None if positions is None else positions.tolist()}
        write_manifest(folder, self, fitted)

    def _writes_files(self) -> bool:
        return all(writes_files(getattr(self, part).distribute) for part in _PARTS)

    @classmethod
    def _from_saved(cls, folder: Path, manifest: dict[str, Any]) -> Any:
        parts = {part: load(folder / part.rstrip("_")) for part in _PARTS}
        params = manifest["params"]
        frozen = (params.get("vqvae") or {}).get("class") == "FrozenEstimator"
        generator = cls(
            vqvae=FrozenEstimator(parts["vqvae_"])
            if frozen
            else clone(parts["vqvae_"]),
            top_prior=clone(parts["top_prior_"]),
            bottom_prior=clone(parts["bottom_prior_"]),
            refit_vqvae=params.get("refit_vqvae", "auto"),
            augmentation=_saved_augmentation(params.get("augmentation")),
        )
        for name, part in parts.items():
            setattr(generator, name, part)
        positions = manifest.get("fitted", {}).get("slice_positions_")
        generator.slice_positions_ = (
            None if positions is None else np.asarray(positions, dtype=np.float32)
        )
        return generator


def _frozen_vqvae(frozen: FrozenEstimator, refit: bool | str) -> VQVAE2Estimator:
    """Return the fitted VQ-VAE-2 inside a FrozenEstimator, or say what is wrong."""
    vqvae = frozen.estimator
    caller = "HierarchicalGenerator.fit"
    if not isinstance(vqvae, VQVAE2Estimator):
        raise TypeError(
            f"{caller} got a FrozenEstimator of {type(vqvae).__name__}; expected "
            "FrozenEstimator(VQVAE2Estimator(...).fit(X))."
        )
    if not hasattr(vqvae, "model_"):
        raise ValueError(
            f"{caller} got a FrozenEstimator of an unfitted VQVAE2Estimator; fit it "
            "before freezing it, or pass it unfrozen to have the generator fit it."
        )
    if refit is True:
        raise ValueError(
            f"{caller} got refit_vqvae=True and a FrozenEstimator, which cannot be "
            "refitted. Set refit_vqvae='auto', or pass the VQVAE2Estimator unfrozen."
        )
    return vqvae


def _prior_for(prior: PixelCNNPrior | None, name: str, **sizes: int) -> PixelCNNPrior:
    """Return a copy of ``prior`` set to the VQ-VAE-2's ``sizes``.

    A size the user set to another value is an error, not silently overwritten.
    """
    prior = clone(prior or PixelCNNPrior())
    params = prior.get_params(deep=False)
    defaults = PixelCNNPrior().get_params(deep=False)
    wrong = {
        key: params[key]
        for key, value in sizes.items()
        if params[key] != defaults[key] and params[key] != value
    }
    if wrong:
        given = ", ".join(f"{key}={value!r}" for key, value in wrong.items())
        needed = ", ".join(f"{key}={sizes[key]!r}" for key in wrong)
        raise ValueError(
            f"HierarchicalGenerator.fit: {name} has {given}, but the VQ-VAE-2 needs "
            f"{needed}. Leave them unset (the generator sets them) or make them "
            "agree with the VQ-VAE-2's num_embeddings and bottom_stride."
        )
    return prior.set_params(**sizes)


def _saved_augmentation(saved: dict[str, Any] | None) -> Any:
    """Rebuild the augmentation transformer written in a manifest."""
    from oasisgen import preprocessing

    if saved is None:
        return None
    kind = getattr(preprocessing, str(saved.get("class")), None)
    if not (isinstance(kind, type) and issubclass(kind, BaseEstimator)):
        raise ValueError(
            f"A saved HierarchicalGenerator names the augmentation {saved!r}, which "
            "is not a transformer of oasisgen.preprocessing; it cannot be rebuilt."
        )
    return kind(**saved["params"])


def _level_errors(
    samples: np.ndarray,
    positions: np.ndarray | None,
    real: np.ndarray,
    real_positions: np.ndarray | None,
    train: np.ndarray,
    train_positions: Any,
) -> dict[str, float | None]:
    """Return the level errors of the samples, the real slices and a guess.

    Each is None without the positions of the samples, ``real`` and ``train``.
    """
    from oasisgen.metrics import level_error

    keys = ("level_error", "level_error_real", "level_error_chance")
    if positions is None or real_positions is None or train_positions is None:
        return dict.fromkeys(keys)
    train_positions = np.asarray(train_positions, dtype=np.float64)
    chance = np.mean(np.abs(positions - train_positions.mean()))
    return dict(
        zip(
            keys,
            (
                level_error(samples, positions, train, train_positions),
                level_error(real, real_positions, train, train_positions),
                float(chance),
            ),
            strict=True,
        )
    )


def _temperature_pair(temperature: Any) -> tuple[Any, Any]:
    """Return ``(top, bottom)`` temperatures from one value or a pair."""
    if isinstance(temperature, tuple | list | np.ndarray):
        if len(temperature) != 2:
            raise ValueError(
                "temperature must be a float > 0 or a pair (top, bottom) of them; "
                f"got {len(temperature)} values {list(temperature)!r}."
            )
        return temperature[0], temperature[1]
    return temperature, temperature


def _given_positions(X: Any, slice_position: Any) -> Any:
    """Return the positions given for ``X``: explicit, or those of a SliceDataset."""
    if slice_position is not None:
        return slice_position
    if isinstance(X, SliceDataset):
        return X.positions
    return None


def _training_positions(X: Any, slice_position: Any) -> np.ndarray | None:
    given = _given_positions(X, slice_position)
    if given is None:
        return None
    try:
        n_slices = len(X)
    except TypeError:  # a tf.data.Dataset of unknown length: the priors check
        n_slices = len(np.asarray(given))
    return check_slice_positions(
        given, n_slices=n_slices, caller="HierarchicalGenerator.fit"
    )


def _images_of(X: Any, caller: str, name: str) -> tuple[np.ndarray, Any, Any]:
    """Return the images of ``X`` as an array, with its subjects and positions."""
    if isinstance(X, SliceDataset):
        return X.to_numpy(), X.subjects, X.positions
    source = image_source(X, caller=f"{caller} ({name})")
    if source.array is None:
        raise ValueError(
            f"{caller} expected {name} as an array or a SliceDataset; got a "
            "tf.data.Dataset, whose slices cannot be compared pair by pair."
        )
    return source.array, None, None
