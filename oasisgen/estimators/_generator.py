"""``HierarchicalGenerator``: VQ-VAE-2 codes drawn by two PixelCNN priors, decoded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from oasisgen.distribute import writes_files
from oasisgen.estimators._base import seed_from
from oasisgen.estimators._persistence import (
    discard_writes,
    load,
    register_estimator,
    save_directory,
    write_manifest,
)
from oasisgen.estimators._prior import PixelCNNPrior
from oasisgen.estimators._vqvae import VQVAE2Estimator

_PARTS = ("vqvae_", "top_prior_", "bottom_prior_")


@register_estimator
class HierarchicalGenerator(BaseEstimator):
    """Generate slices: top codes, then bottom codes given the top, then decode.

    ``fit`` trains the VQ-VAE-2 on images, encodes them, fits the top prior on the
    top code maps and the bottom prior on the bottom code maps conditioned on the
    top ones. ``sample`` runs the same chain forwards: it draws top maps, draws
    bottom maps given them, and decodes both (Razavi et al. 2019, section 3.2).

    Parameters
    ----------
    vqvae : VQVAE2Estimator, optional
        The autoencoder; ``None`` uses ``VQVAE2Estimator()``. If it is already
        fitted and ``refit_vqvae="auto"``, it is used as it is.
    top_prior : PixelCNNPrior, optional
        Prior of the top codes; ``None`` uses ``PixelCNNPrior()``.
    bottom_prior : PixelCNNPrior, optional
        Prior of the bottom codes given the top codes; ``None`` uses
        ``PixelCNNPrior()``. Its codebook sizes and ``condition_upsample=2`` are set
        from the VQ-VAE-2.
    refit_vqvae : {"auto", True, False}, default="auto"
        ``"auto"`` fits a copy of ``vqvae`` unless it is already fitted; ``True``
        always fits a fresh copy; ``False`` requires a fitted ``vqvae``.

    Attributes
    ----------
    vqvae_ : VQVAE2Estimator
        The fitted autoencoder.
    top_prior_ : PixelCNNPrior
        The fitted prior of the top codes.
    bottom_prior_ : PixelCNNPrior
        The fitted prior of the bottom codes given the top codes.

    Examples
    --------
    >>> from oasisgen import HierarchicalGenerator, PixelCNNPrior, VQVAE2Estimator
    >>> from oasisgen.datasets import load_sample
    >>> X = load_sample("train", image_size=32)[:32]
    >>> tiny_prior = PixelCNNPrior(n_layers=2, channels=8, epochs=1, random_state=0)
    >>> gen = HierarchicalGenerator(
    ...     vqvae=VQVAE2Estimator(num_embeddings=16, embedding_dim=4,
    ...                           hidden_channels=8, n_res_channels=4, epochs=1,
    ...                           random_state=0),
    ...     top_prior=tiny_prior, bottom_prior=tiny_prior,
    ... ).fit(X)
    >>> gen.sample(2, random_state=0).shape
    (2, 32, 32, 1)
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "vqvae": [None, VQVAE2Estimator],
        "top_prior": [None, PixelCNNPrior],
        "bottom_prior": [None, PixelCNNPrior],
        "refit_vqvae": ["boolean", StrOptions({"auto"})],
    }

    def __init__(
        self,
        vqvae: VQVAE2Estimator | None = None,
        top_prior: PixelCNNPrior | None = None,
        bottom_prior: PixelCNNPrior | None = None,
        refit_vqvae: bool | str = "auto",
    ) -> None:
        self.vqvae = vqvae
        self.top_prior = top_prior
        self.bottom_prior = bottom_prior
        self.refit_vqvae = refit_vqvae

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.required = False
        return tags

    def fit(self, X: Any, y: None = None) -> HierarchicalGenerator:
        """Fit the VQ-VAE-2 (unless given fitted), then both priors on its codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, 1]), SliceDataset or \
tf.data.Dataset
            Training images, as for :meth:`VQVAE2Estimator.fit`.
        y : None
            Ignored.

        Returns
        -------
        self : HierarchicalGenerator
            The fitted generator.
        """
        self._validate_params()
        self.vqvae_ = self._fitted_vqvae(X)
        top, bottom = self.vqvae_.encode(X)
        self.top_prior_ = clone(self.top_prior or PixelCNNPrior()).set_params(
            num_embeddings=self.vqvae_.n_top_codes_
        )
        self.top_prior_.fit(top)
        self.bottom_prior_ = clone(self.bottom_prior or PixelCNNPrior()).set_params(
            num_embeddings=self.vqvae_.n_bottom_codes_,
            condition_num_embeddings=self.vqvae_.n_top_codes_,
            condition_upsample=2,
        )
        self.bottom_prior_.fit(bottom, top)
        return self

    def _fitted_vqvae(self, X: Any) -> VQVAE2Estimator:
        vqvae = self.vqvae if self.vqvae is not None else VQVAE2Estimator()
        fitted = hasattr(vqvae, "model_")
        if self.refit_vqvae is False and not fitted:
            raise ValueError(
                "HierarchicalGenerator got refit_vqvae=False but an unfitted vqvae; "
                "fit it first or set refit_vqvae='auto'."
            )
        if fitted and self.refit_vqvae is not True:
            return vqvae
        return clone(vqvae).fit(X)

    def sample(
        self,
        n_samples: int = 1,
        *,
        random_state: int | np.random.RandomState | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        progress: bool = False,
    ) -> np.ndarray:
        """Generate new images.

        Parameters
        ----------
        n_samples : int, default=1
            Number of images, at least 1.
        random_state : int, RandomState instance or None, default=None
            The same seed gives the same images.
        temperature : float, default=1.0
            Temperature of both priors; below 1 is more conservative. Must be > 0.
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
        seed = seed_from(random_state)
        seeds = (None, None) if seed is None else (seed, seed + 1)
        options = {"temperature": temperature, "top_k": top_k, "progress": progress}
        top = self.top_prior_.sample(n_samples, random_state=seeds[0], **options)
        bottom = self.bottom_prior_.sample(
            n_samples, top, random_state=seeds[1], **options
        )
        return self.vqvae_.decode(top, bottom)

    def score_samples(self, X: Any) -> np.ndarray:
        """Return the log-likelihood of the codes of each image under both priors.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, 1]), SliceDataset or \
tf.data.Dataset
            Images of the size the generator was fitted on.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            ``log p(top) + log p(bottom | top)`` in nats.
        """
        check_is_fitted(self)
        top, bottom = self.vqvae_.encode(X)
        return self.top_prior_.score_samples(top) + self.bottom_prior_.score_samples(
            bottom, top
        )

    def score(self, X: Any, y: None = None) -> float:
        """Return the mean log-likelihood per code of the images' codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, 1]), SliceDataset or \
tf.data.Dataset
            Images of the size the generator was fitted on.
        y : None
            Ignored.

        Returns
        -------
        score : float
            ``log p(top) + log p(bottom | top)`` per code, averaged over images, in
            nats (higher is better).
        """
        n_codes = np.prod(self.vqvae_.top_shape_) + np.prod(self.vqvae_.bottom_shape_)
        return float(np.mean(self.score_samples(X)) / n_codes)

    # -------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path | None:
        """Save the three fitted parts to a directory that never unpickles code.

        Parameters
        ----------
        path : str or path-like
            Directory to create; it gets ``estimator.json`` and one saved estimator
            per part (``vqvae/``, ``top_prior/``, ``bottom_prior/``).
        overwrite : bool, default=False
            Replace an existing ``path``.

        Returns
        -------
        path : Path or None
            The saved directory; None on a worker other than the chief of a
            multi-worker run, which writes nothing.
        """
        check_is_fitted(self)

        def write(folder: Path) -> None:
            for part in _PARTS:
                getattr(self, part).save(folder / part.rstrip("_"))
            write_manifest(folder, self, {})

        if not all(writes_files(getattr(self, part).distribute) for part in _PARTS):
            discard_writes(write)
            return None
        return save_directory(path, write, overwrite=overwrite)

    @classmethod
    def _from_saved(cls, folder: Path, manifest: dict[str, Any]) -> Any:
        parts = {part: load(folder / part.rstrip("_")) for part in _PARTS}
        generator = cls(
            vqvae=clone(parts["vqvae_"]),
            top_prior=clone(parts["top_prior_"]),
            bottom_prior=clone(parts["bottom_prior_"]),
            refit_vqvae=manifest["params"].get("refit_vqvae", "auto"),
        )
        for name, part in parts.items():
            setattr(generator, name, part)
        return generator
