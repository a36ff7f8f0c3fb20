"""Exact autoregressive sampling of code maps from a :class:`GatedPixelCNN`.

Two methods draw the same samples from the same seed:

``"naive"``
    The reference: the whole network runs on the whole map once per position,
    ``h * w`` full forward passes (what most Keras examples do).
``"fast"``
    Caches the activations of every layer (Ramachandran et al. 2017, "Fast
    Generation for Convolutional Autoregressive Models"). Within a row, each pixel
    runs the horizontal stacks on a window of ``k//2 + 1`` cached pixels per layer;
    once a row is complete, the vertical stacks run on a window of ``k//2 + 1``
    cached rows per layer, and their pre-activations feed the next row. The
    attention layers of a model with ``attention_layers`` keep the keys and values
    of every position drawn so far. Every position is thus computed once, as in
    one forward pass. One compiled function (fixed shapes, traced once per batch
    size, grid width, grid height with attention, and ``top_k``) samples a whole
    row.

Both methods draw one Gumbel vector per position from ``numpy.random.default_rng(
seed)`` in raster order and pick ``argmax(logits / temperature + gumbel)`` (the
Gumbel-max trick, an exact categorical draw), after setting the logits outside the
``top_k`` largest to ``-inf``. Only the computation of the logits differs, by
float round-off.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from oasisgen.datasets.validation import (
    check_code_maps,
    check_condition_grid,
    check_global_condition,
    check_sampling_options,
)
from oasisgen.nn.pixelcnn import GatedPixelCNN

METHODS = ("fast", "naive")


def sample_codes(
    model: GatedPixelCNN,
    n_samples: int,
    grid_shape: tuple[int, int],
    condition: Any = None,
    *,
    global_condition: Any = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | np.random.Generator | None = None,
    method: str = "fast",
    progress: bool = False,
) -> np.ndarray:
    """Draw code maps from a PixelCNN prior, one position at a time.

    Uses one :class:`Sampler` per model, kept with the model, so the compiled
    functions are reused by later calls.

    Parameters
    ----------
    model : GatedPixelCNN
        The prior.
    n_samples : int
        Number of maps, at least 1.
    grid_shape : tuple of (int, int)
        Height and width ``(h, w)`` of the maps.
    condition : int array of shape (n_samples, h // condition_upsample, \
w // condition_upsample), optional
        The condition of each map; required by a conditional model, refused by an
        unconditional one.
    global_condition : float array of shape (n_samples, global_condition_dim), optional
        The vector of each map (such as its slice position); required by a model
        with ``global_condition_dim``, refused by others.
    temperature : float, default=1.0
        Divides the logits; below 1 sharpens, above 1 flattens. Must be > 0.
    top_k : int, optional
        Sample among the ``top_k`` most likely codes only (and any code tied with
        the k-th); None for all.
    seed : int or numpy.random.Generator, optional
        Seed of the Gumbel noise; the same seed gives the same maps with either
        method.
    method : {"fast", "naive"}, default="fast"
        ``"fast"`` caches activations; ``"naive"`` reruns the whole network per
        position (the slow reference).
    progress : bool, default=False
        Show a progress bar over rows.

    Returns
    -------
    codes : int32 ndarray of shape (n_samples, h, w)

    Examples
    --------
    >>> from oasisgen.nn.pixelcnn import GatedPixelCNN
    >>> from oasisgen.nn.sampling import sample_codes
    >>> model = GatedPixelCNN(num_embeddings=8, n_layers=2, hidden_channels=8)
    >>> codes = sample_codes(model, 2, (4, 5), seed=0)
    >>> codes.shape, codes.dtype.name
    ((2, 4, 5), 'int32')
    >>> bool((sample_codes(model, 2, (4, 5), seed=0, method="naive") == codes).all())
    True
    """
    return Sampler.of(model).sample(
        n_samples,
        grid_shape,
        condition,
        global_condition=global_condition,
        temperature=temperature,
        top_k=top_k,
        seed=seed,
        method=method,
        progress=progress,
    )


class Sampler:
    """Exact autoregressive sampler of a :class:`GatedPixelCNN`.

    Holds the compiled functions of both methods, so repeated calls with the same
    batch size, grid and ``top_k`` do not trace again.

    Parameters
    ----------
    model : GatedPixelCNN
        The prior; built on first use if it is not.
    jit_compile : bool, default=True
        Compile the row function of the fast method with XLA.

    Examples
    --------
    >>> from oasisgen.nn.pixelcnn import GatedPixelCNN
    >>> from oasisgen.nn.sampling import Sampler
    >>> model = GatedPixelCNN(num_embeddings=8, n_layers=2, hidden_channels=8)
    >>> sampler = Sampler(model)
    >>> sampler.sample(3, (4, 4), temperature=0.5, top_k=2, seed=0).shape
    (3, 4, 4)
    """

    def __init__(self, model: GatedPixelCNN, jit_compile: bool = True) -> None:
        if not isinstance(model, GatedPixelCNN):
            raise TypeError(
                f"Sampler expected a GatedPixelCNN; got {type(model).__name__}."
            )
        self.model = model
        self.jit_compile = jit_compile
        self._functions: dict[tuple[str, int | None], Any] = {}

    @classmethod
    def of(cls, model: GatedPixelCNN) -> Sampler:
        """Return the sampler kept with ``model``, creating it on first use."""
        sampler = model.__dict__.get("_oasisgen_sampler")
        if sampler is None:
            sampler = cls(model)
            # Set outside Keras attribute tracking: not a layer, never saved.
            object.__setattr__(model, "_oasisgen_sampler", sampler)
        return sampler

    def sample(
        self,
        n_samples: int,
        grid_shape: tuple[int, int],
        condition: Any = None,
        *,
        global_condition: Any = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | np.random.Generator | None = None,
        method: str = "fast",
        progress: bool = False,
    ) -> np.ndarray:
        """Draw code maps; see :func:`sample_codes` for the parameters."""
        height, width = self._check_arguments(
            n_samples, grid_shape, temperature, top_k, method
        )
        condition = self._check_condition(condition, n_samples, height, width)
        global_condition = self._check_global_condition(global_condition, n_samples)
        if not self.model.built:
            self.model.build(None)
        if top_k is not None and top_k >= self.model.num_embeddings:
            top_k = None
        run = self._fast if method == "fast" else self._naive
        bar = keras.utils.Progbar(height, unit_name="row") if progress else None
        rows = run(
            (n_samples, height, width),
            condition,
            global_condition,
            np.random.default_rng(seed),
            tf.constant(temperature, dtype=self.model.compute_dtype),
            top_k,
        )
        codes = np.zeros((n_samples, height, width), dtype=np.int32)
        for i, row in enumerate(rows):
            codes[:, i] = row
            if bar is not None:
                bar.update(i + 1)
        return codes

    # ------------------------------------------------------------- validation
    @staticmethod
    def _check_arguments(
        n_samples: int,
        grid_shape: tuple[int, int],
        temperature: float,
        top_k: int | None,
        method: str,
    ) -> tuple[int, int]:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
        check_sampling_options(n_samples, temperature, top_k)
        shape = tuple(grid_shape)
        if len(shape) != 2 or any(not _whole(s) or s < 1 for s in shape):
            raise ValueError(
                f"grid_shape must be a pair of ints >= 1 (height, width); got "
                f"{grid_shape!r}."
            )
        return int(shape[0]), int(shape[1])

    def _check_condition(
        self, condition: Any, n_samples: int, height: int, width: int
    ) -> np.ndarray | None:
        model = self.model
        if not model.conditional:
            if condition is not None:
                raise ValueError(
                    "This GatedPixelCNN is unconditional (condition_num_embeddings="
                    "None); sample without a condition."
                )
            return None
        if condition is None:
            raise ValueError(
                "This GatedPixelCNN is conditional (condition_num_embeddings="
                f"{model.condition_num_embeddings}); pass a condition of shape "
                f"(n_samples, h // {model.condition_upsample}, "
                f"w // {model.condition_upsample})."
            )
        check_condition_grid(
            (n_samples, height, width),
            np.shape(condition),
            condition_upsample=model.condition_upsample,
            caller="Sampler.sample",
        )
        return check_code_maps(
            condition,
            caller="Sampler.sample",
            name="condition",
            num_embeddings=model.condition_num_embeddings,
        )

    def _check_global_condition(
        self, global_condition: Any, n_samples: int
    ) -> np.ndarray | None:
        dim = self.model.global_condition_dim
        if dim is None:
            if global_condition is not None:
                raise ValueError(
                    "This GatedPixelCNN reads no vector per map (global_condition_dim"
                    "=None); sample without a global_condition."
                )
            return None
        if global_condition is None:
            raise ValueError(
                f"This GatedPixelCNN reads a vector of {dim} per map "
                f"(global_condition_dim={dim}); pass a global_condition of shape "
                f"(n_samples, {dim})."
            )
        return check_global_condition(
            global_condition, n_samples=n_samples, caller="Sampler.sample", dim=dim
        )

    # ------------------------------------------------------------------ naive
    def _naive(
        self,
        shape: tuple[int, int, int],
        condition: np.ndarray | None,
        global_condition: np.ndarray | None,
        rng: np.random.Generator,
        temperature: tf.Tensor,
        top_k: int | None,
    ) -> Any:
        """Yield the rows, running the whole network once per position."""
        n, height, width = shape
        step = self._function("naive", top_k)
        codes = np.zeros(shape, dtype=np.int32)
        for i in range(height):
            noise = _row_noise(rng, n, width, self.model.num_embeddings)
            for j in range(width):
                codes[:, i, j] = step(
                    tf.constant(codes),
                    None if condition is None else tf.constant(condition),
                    None if global_condition is None else tf.constant(global_condition),
                    tf.constant(i),
                    tf.constant(j),
                    tf.constant(noise[:, j]),
                    temperature,
                )
            yield codes[:, i]

    def _naive_step(
        self,
        codes: tf.Tensor,
        condition: tf.Tensor | None,
        global_condition: tf.Tensor | None,
        i: tf.Tensor,
        j: tf.Tensor,
        noise: tf.Tensor,
        temperature: tf.Tensor,
        top_k: int | None,
    ) -> tf.Tensor:
        parts = [p for p in (codes, condition, global_condition) if p is not None]
        inputs = parts[0] if len(parts) == 1 else tuple(parts)
        logits = self.model(inputs, training=False)[:, i, j]
        return _choose(logits, noise, temperature, top_k)

    # ------------------------------------------------------------------- fast
    def _fast(
        self,
        shape: tuple[int, int, int],
        condition: np.ndarray | None,
        global_condition: np.ndarray | None,
        rng: np.random.Generator,
        temperature: tf.Tensor,
        top_k: int | None,
    ) -> Any:
        """Yield the rows, computing each position of each layer once."""
        model = self.model
        n, height, width = shape
        pad, channels = model.kernel_size // 2, model.hidden_channels
        dtype = model.compute_dtype
        row_step = self._function("fast", top_k)
        features = model.condition_features(condition, global_condition)
        layers = model.gated_layers
        # The last k//2 + 1 vertical inputs of each layer (zeros above the map),
        # and the vertical pre-activations of the row above (zeros at first).
        windows = [
            tf.zeros((n, pad + 1, width + 2 * pad, channels), dtype) for _ in layers
        ]
        above = [tf.zeros((n, 1, width, 2 * channels), dtype) for _ in layers]
        previous = tf.zeros((n, 1, width, channels), dtype)  # row above, embedded
        # the keys and values of every position of each attention layer
        caches = [
            (tf.zeros(size, dtype), tf.zeros(size, dtype))
            for size in (
                (n, block.heads, height * width, block.key_dim)
                for block in model.attention_blocks
            )
        ]
        for i in range(height):
            noise = tf.constant(_row_noise(rng, n, width, model.num_embeddings))
            condition_row = features
            if features is not None and features.shape[1] > 1:
                condition_row = features[:, i : i + 1]
            row, windows, above, previous, caches = row_step(
                windows,
                above,
                previous,
                noise,
                condition_row,
                temperature,
                caches,
                tf.constant(i),
            )
            yield row.numpy()

    def _fast_row(
        self,
        windows: list[tf.Tensor],
        above: list[tf.Tensor],
        previous: tf.Tensor,
        noise: tf.Tensor,
        condition: tf.Tensor | None,
        temperature: tf.Tensor,
        caches: list[tuple[tf.Tensor, tf.Tensor]],
        row_index: tf.Tensor,
        top_k: int | None,
    ) -> tuple[tf.Tensor, list[tf.Tensor], list[tf.Tensor], tf.Tensor, list[Any]]:
        """Sample row ``row_index``, then advance the vertical stacks past it.

        ``previous`` holds the embedded codes of the row above (zeros above the
        map); the embedded codes of this row are returned for the next one, and
        the attention ``caches`` with this row's keys and values.
        """
        model = self.model
        layers = model.gated_layers
        if model.mirror_context:
            biases = None  # they depend on the codes of the row: made per pixel
        else:
            biases = [
                layer.horizontal_bias(v_pre, condition)
                for layer, v_pre in zip(layers, above, strict=True)
            ]

        def biases_at(j: tf.Tensor, drawn: tf.Tensor) -> list[tf.Tensor]:
            """Return each layer's horizontal bias at column ``j`` of the row."""
            column = tf.reshape(j, (1,))
            if biases is not None:
                return [tf.gather(bias, column, axis=2) for bias in biases]
            mirror = model.mirror_network(
                tf.gather(model.mirror_inputs(drawn, previous), column, axis=2)
            )
            return [
                layer.horizontal_bias(
                    tf.gather(v_pre, column, axis=2),
                    mirror + _column(condition, column),
                )
                for layer, v_pre in zip(layers, above, strict=True)
            ]

        row, drawn, caches = self._sample_row_pixels(
            biases_at, noise, temperature, top_k, caches, row_index
        )
        if model.mirror_context:  # the whole row is known now
            mirror = model.mirror_network(model.mirror_inputs(drawn, previous))
            condition = mirror if condition is None else condition + mirror
        windows, above = self._advance_vertical(windows, row, condition)
        return row, windows, above, drawn, caches

    def _sample_row_pixels(
        self,
        biases_at: Any,
        noise: tf.Tensor,
        temperature: tf.Tensor,
        top_k: int | None,
        caches: list[tuple[tf.Tensor, tf.Tensor]],
        row_index: tf.Tensor,
    ) -> tuple[tf.Tensor, tf.Tensor, list[tuple[tf.Tensor, tf.Tensor]]]:
        """Return the codes (n, w) of one row, sampled left to right, embedded too.

        ``biases_at(j, drawn)`` gives each layer's horizontal bias at column ``j``
        from the embedded codes drawn so far (zeros where not drawn yet). Only a
        model with ``mirror_context`` reads them, so only then are they kept; the
        embedded row is zeros otherwise. The attention ``caches`` are returned with
        the keys and values of the row written in.
        """
        model = self.model
        n, width = noise.shape[0], noise.shape[1]
        pad, channels = model.kernel_size // 2, model.hidden_channels
        dtype = model.compute_dtype
        windows = [
            tf.zeros((n, 1, pad + 1, channels), dtype) for _ in model.gated_layers
        ]
        drawn = tf.zeros((n, 1, width, channels), dtype)

        def pixel(
            j: tf.Tensor,
            windows: list[tf.Tensor],
            drawn: tf.Tensor,
            caches: list[tuple[tf.Tensor, tf.Tensor]],
            codes: tf.TensorArray,
        ) -> tuple[tf.Tensor, list[tf.Tensor], tf.Tensor, list[Any], tf.TensorArray]:
            windows, caches = list(windows), list(caches)
            h, skip = None, 0.0
            biases = biases_at(j, drawn)
            for index, layer in enumerate(model.gated_layers):
                if index > 0:
                    windows[index] = _push(windows[index], h, axis=2)
                h, layer_skip = layer.horizontal(windows[index], h, biases[index])
                skip = skip + layer_skip
                if index in model.attention_after:
                    block = model.attention_after.index(index)
                    h, keys, values = model.attention_blocks[block].step(
                        h, *caches[block], row_index * width + j, width
                    )
                    caches[block] = (keys, values)
            logits = model.head(skip)[:, 0, 0]
            code = _choose(logits, noise[:, j], temperature, top_k)
            embedded = model.embedding(code)[:, None, None]
            # Mask "A": the first layer sees this pixel only from the next one on.
            windows[0] = _push(windows[0], embedded, 2)
            if model.mirror_context:  # only the mirror context reads the row so far
                at_j = tf.one_hot(j, width, dtype=dtype)[None, None, :, None]
                drawn = drawn + at_j * embedded
            return j + 1, windows, drawn, caches, codes.write(j, code)

        codes = tf.TensorArray(tf.int32, size=width)
        _, _, drawn, caches, codes = tf.while_loop(
            lambda j, *_: j < width,
            pixel,
            (tf.constant(0), windows, drawn, list(caches), codes),
        )
        return tf.transpose(codes.stack()), drawn, caches

    def _advance_vertical(
        self, windows: list[tf.Tensor], row: tf.Tensor, condition: tf.Tensor | None
    ) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
        """Push a finished row through the vertical stacks of every layer."""
        pad = self.model.kernel_size // 2
        padding = [[0, 0], [0, 0], [pad, pad], [0, 0]]
        v = self.model.embedding(row)[:, None]
        new_windows, above = [], []
        for layer, window in zip(self.model.gated_layers, windows, strict=True):
            window = _push(window, tf.pad(v, padding), axis=1)
            v, v_pre = layer.vertical(window, condition)
            new_windows.append(window)
            above.append(v_pre)
        return new_windows, above

    # ---------------------------------------------------------------- helpers
    def _function(self, method: str, top_k: int | None) -> Any:
        """Return the compiled function of ``method``, cached per ``top_k``."""
        key = (method, top_k)
        if key not in self._functions:
            if method == "fast":
                function = tf.function(
                    lambda *args: self._fast_row(*args, top_k),
                    jit_compile=self.jit_compile,
                )
            else:
                function = tf.function(lambda *args: self._naive_step(*args, top_k))
            self._functions[key] = function
        return self._functions[key]


def _column(features: tf.Tensor | None, column: tf.Tensor) -> tf.Tensor | float:
    """Return the condition features of one column of a row (0.0 without any)."""
    if features is None:
        return 0.0
    if features.shape[2] == 1:  # from the global condition alone: the same everywhere
        return features
    return tf.gather(features, column, axis=2)


def _push(window: tf.Tensor, new: tf.Tensor, axis: int) -> tf.Tensor:
    """Drop the first slice of ``window`` along ``axis`` and append ``new``."""
    kept = window[(slice(None),) * axis + (slice(1, None),)]
    return tf.concat([kept, tf.cast(new, window.dtype)], axis=axis)


def _row_noise(
    rng: np.random.Generator, n: int, width: int, num_embeddings: int
) -> np.ndarray:
    """Draw the Gumbel noise (n, width, K) of one row."""
    return rng.gumbel(size=(n, width, num_embeddings)).astype(np.float32)


def _choose(
    logits: tf.Tensor, noise: tf.Tensor, temperature: tf.Tensor, top_k: int | None
) -> tf.Tensor:
    """Return ``argmax(logits / temperature + noise)`` over the ``top_k`` codes."""
    scaled = logits / temperature
    if top_k is not None:
        kth = tf.math.top_k(scaled, k=top_k).values[:, -1:]
        scaled = tf.where(scaled < kth, tf.constant(-np.inf, scaled.dtype), scaled)
    return tf.argmax(
        scaled + tf.cast(noise, scaled.dtype), axis=-1, output_type="int32"
    )


def _whole(value: Any) -> bool:
    """Say whether ``value`` is a finite whole number, such as 3 or 3.0."""
    try:
        return math.isfinite(value) and int(value) == value
    except (TypeError, ValueError):
        return False
