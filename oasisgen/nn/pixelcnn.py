"""Gated PixelCNN prior over discrete code maps.

The model of van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders": logits of ``p(code[i, j] | codes before (i, j) in raster order, condition)``.

::

    codes (n, h, w) -> embedding (channels)
      -> gated layer, mask "A" (the current position is not seen)
      -> n_layers gated residual layers, mask "B"
      -> sum of the skips -> ReLU -> 1x1 -> ReLU -> 1x1 -> logits (n, h, w, K)

Every gated layer has two stacks, so the receptive field has no blind spot:

* the *vertical* stack sees whole rows above: a ``(k//2 + 1, k)`` convolution of an
  input padded with ``k//2`` rows on top (it also sees the current row, so it is only
  ever read shifted down by one row);
* the *horizontal* stack sees the pixels to the left in the current row: a
  ``(1, k//2 + 1)`` convolution of an input padded with ``k//2`` columns on the left
  (in the mask "A" layer the input is first shifted right by one pixel), plus a 1x1
  projection of the vertical stack shifted down by one row.

Both stacks go through the gate ``tanh(a) * sigmoid(b)``; the horizontal stack has a
residual connection (mask "B" layers) and a 1x1 skip connection to the output head.

The convolutions have ``padding="valid"`` and the padding is explicit, so the same
kernels apply to a whole map (:meth:`GatedLayer.call`, for training and scoring) and
to a window of cached rows or pixels (:meth:`GatedLayer.vertical` and
:meth:`GatedLayer.horizontal`, which :mod:`oasisgen.nn.sampling` uses to sample one
pixel at a time without recomputing the whole map).

A conditional model (``condition_num_embeddings`` set) also reads a condition map of
integer codes on a grid ``condition_upsample`` times coarser (the top codes, for the
prior of the bottom codes). The condition is known before sampling, so a small
non-causal network (embedding, ``condition_layers`` 3x3 convolutions,
nearest-neighbour upsampling, 3x3 convolution) reads the condition codes around
each position, including those below and to the right, and per-layer 1x1
projections of its output are added to the pre-activations of both gates.

A model with ``global_condition_dim`` set also reads one vector per map, such as the
level of an MRI slice (a class-conditional PixelCNN, van den Oord et al. 2016): a
small dense network turns it into features that the same per-layer 1x1 projections
add to the pre-activations of both gates, at every position.

A model with ``mirror_context`` set also shows each position the codes at its mirror
image across the vertical midline: in its own row once that position is drawn
(columns ``j`` with ``w - 1 - j < j``), and in the row above. A dense layer turns
their embeddings into features added like those of the conditions. The stacks see
that far only after many layers, and a head is nearly symmetric from left to right:
with it, the prior of the bottom codes of the demo keeps the outline symmetric
(benchmarks/README.md, "Mirror context").

A model with ``attention_layers`` set follows that many gated layers, spread
evenly through the network, with causal multi-head self-attention on the
horizontal stack (:class:`~oasisgen.nn.attention.CausalSelfAttention`), as the
priors of the VQ-VAE-2 paper do: each position then sees every code before it,
however large the grid, where the stacks alone see ``k // 2`` more rows per layer.
"""

from __future__ import annotations

import warnings
from typing import Any

import keras
import tensorflow as tf

from oasisgen.datasets.validation import check_condition_grid
from oasisgen.nn.attention import CausalSelfAttention
from oasisgen.nn.multi_worker import MultiWorkerLogsMixin
from oasisgen.nn.seeds import LayerSeeds


def _gate(x: tf.Tensor) -> tf.Tensor:
    """Return ``tanh(a) * sigmoid(b)`` of the two halves of the last axis."""
    a, b = tf.split(x, 2, axis=-1)
    return tf.tanh(a) * tf.sigmoid(b)


def _shift_down(x: tf.Tensor) -> tf.Tensor:
    """Shift a (n, h, w, c) map down by one row, with zeros in the first row."""
    return tf.pad(x[:, :-1], [[0, 0], [1, 0], [0, 0], [0, 0]])


def _shift_right(x: tf.Tensor) -> tf.Tensor:
    """Shift a (n, h, w, c) map right by one column, with zeros in the first one."""
    return tf.pad(x[:, :, :-1], [[0, 0], [0, 0], [1, 0], [0, 0]])


@keras.saving.register_keras_serializable(package="oasisgen")
class GatedLayer(keras.layers.Layer):
    """One gated layer of a PixelCNN, with a vertical and a horizontal stack.

    Parameters
    ----------
    channels : int
        Channels of the input and the output of both stacks.
    kernel_size : int, default=5
        Odd width ``k`` of the convolutions; the vertical stack is ``(k//2 + 1, k)``,
        the horizontal stack ``(1, k//2 + 1)``.
    mask_type : {"A", "B"}, default="B"
        ``"A"`` for the first layer: the horizontal stack does not see the current
        pixel and has no residual connection. ``"B"`` for the others.
    dropout : float, default=0.0
        Dropout rate on the gated output of the horizontal stack (training only).
    condition_channels : int, optional
        Channels of the condition features; None for an unconditional layer.
    last : bool, default=False
        Whether this is the last layer of the network, whose only output is the
        skip: it has no vertical gate and no residual projection, so it holds no
        weights that would get no gradient.
    seed : int, optional
        Seed of the initial weights and of the dropout.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Notes
    -----
    ``call(v, h, condition=None)`` takes the vertical and horizontal inputs
    (n, h, w, channels) and the condition features (n, h, w, condition_channels),
    and returns ``(v_out, h_out, skip)``, each (n, h, w, channels); ``v_out`` and
    ``h_out`` are None for the ``last`` layer.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.nn.pixelcnn import GatedLayer
    >>> layer = GatedLayer(channels=4, kernel_size=3)
    >>> x = np.zeros((1, 5, 6, 4), dtype="float32")
    >>> [tuple(t.shape) for t in layer(x, x)]
    [(1, 5, 6, 4), (1, 5, 6, 4), (1, 5, 6, 4)]
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int = 5,
        mask_type: str = "B",
        dropout: float = 0.0,
        condition_channels: int | None = None,
        last: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B'; got {mask_type!r}.")
        _check_kernel_size(kernel_size)
        self.channels = int(channels)
        self.kernel_size = int(kernel_size)
        self.mask_type = mask_type
        self.dropout = float(dropout)
        self.condition_channels = (
            None if condition_channels is None else int(condition_channels)
        )
        self.last = bool(last)
        self.seed = seed
        half, gates = self.kernel_size // 2, 2 * self.channels
        seeds = LayerSeeds(seed)

        def conv(filters: int, kernel: Any, name: str) -> keras.layers.Conv2D:
            return keras.layers.Conv2D(
                filters, kernel, kernel_initializer=seeds.glorot(), name=name
            )

        self.vertical_conv = conv(gates, (half + 1, self.kernel_size), name="vertical")
        self.horizontal_conv = conv(gates, (1, half + 1), name="horizontal")
        self.link = conv(gates, 1, name="link")
        self.skip = conv(self.channels, 1, name="skip")
        self.dropout_layer = keras.layers.Dropout(self.dropout, seed=seeds())
        if not self.last:
            self.residual = conv(self.channels, 1, name="residual")
        if self.condition_channels is not None:
            self.condition_horizontal = conv(gates, 1, name="condition_horizontal")
            if not self.last:
                self.condition_vertical = conv(gates, 1, name="condition_vertical")

    @property
    def padding(self) -> int:
        """Rows on top, and columns on each side, that the stacks need: ``k // 2``."""
        return self.kernel_size // 2

    def build(self, input_shape: Any = None) -> None:
        """Create the weights; they depend only on the channel counts."""
        features = (None, None, None, self.channels)
        gated = (None, None, None, 2 * self.channels)
        condition = (None, None, None, self.condition_channels)
        for name, shape in [
            ("vertical_conv", features),
            ("horizontal_conv", features),
            ("link", gated),
            ("skip", features),
            ("residual", features),
            ("condition_horizontal", condition),
            ("condition_vertical", condition),
        ]:
            if hasattr(self, name):
                getattr(self, name).build(shape)

    def call(
        self,
        v: tf.Tensor,
        h: tf.Tensor,
        condition: tf.Tensor | None = None,
        training: bool | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Apply the layer to whole maps; return ``(v_out, h_out, skip)``."""
        pad = self.padding
        v_out, v_pre = self.vertical(
            tf.pad(v, [[0, 0], [pad, 0], [pad, pad], [0, 0]]), condition
        )
        bias = self.horizontal_bias(_shift_down(v_pre), condition)
        h_in = _shift_right(h) if self.mask_type == "A" else h
        h_window = tf.pad(h_in, [[0, 0], [0, 0], [pad, 0], [0, 0]])
        h_out, skip = self.horizontal(h_window, h, bias, training=training)
        return v_out, h_out, skip

    def vertical(
        self, window: tf.Tensor, condition: tf.Tensor | None = None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Apply the vertical stack to rows padded with their context.

        Parameters
        ----------
        window : tensor of shape (n, rows + k//2, width + 2 * (k//2), channels)
            The input rows, preceded by the ``k//2`` rows above them (zeros above
            the map) and padded with ``k//2`` zero columns on each side.
        condition : tensor of shape (n, rows, width, condition_channels), optional

        Returns
        -------
        v_out : tensor of shape (n, rows, width, channels), or None
            The gated output, input of the next layer's vertical stack; None for
            the ``last`` layer.
        v_pre : tensor of shape (n, rows, width, 2 * channels)
            The pre-activation, which the horizontal stack of the rows below reads.
        """
        v_pre = self.vertical_conv(window)
        if self.last:
            return None, v_pre
        if condition is None:
            return _gate(v_pre), v_pre
        return _gate(v_pre + self.condition_vertical(condition)), v_pre

    def horizontal_bias(
        self, v_pre_above: tf.Tensor, condition: tf.Tensor | None = None
    ) -> tf.Tensor:
        """Return what the horizontal gate adds from outside its row.

        Parameters
        ----------
        v_pre_above : tensor of shape (n, rows, width, 2 * channels)
            The vertical pre-activation of the row above each row (zeros above the
            first row of the map).
        condition : tensor of shape (n, rows, width, condition_channels), optional

        Returns
        -------
        bias : tensor of shape (n, rows, width, 2 * channels)
        """
        bias = self.link(v_pre_above)
        if condition is None:
            return bias
        return bias + self.condition_horizontal(condition)

    def horizontal(
        self,
        window: tf.Tensor,
        h: tf.Tensor | None,
        bias: tf.Tensor,
        training: bool | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Apply the horizontal stack to pixels padded with their left context.

        Parameters
        ----------
        window : tensor of shape (n, rows, cols + k//2, channels)
            The horizontal input (shifted right by one pixel for mask "A") of the
            pixels, preceded by the ``k//2`` pixels to their left (zeros before the
            first column).
        h : tensor of shape (n, rows, cols, channels) or None
            The horizontal input of the pixels themselves, for the residual
            connection; unused (may be None) for mask "A".
        bias : tensor of shape (n, rows, cols, 2 * channels)
            From :meth:`horizontal_bias`.
        training : bool, optional
            Whether to apply dropout.

        Returns
        -------
        h_out : tensor of shape (n, rows, cols, channels), or None
            None for the ``last`` layer.
        skip : tensor of shape (n, rows, cols, channels)
        """
        gated = _gate(self.horizontal_conv(window) + bias)
        gated = self.dropout_layer(gated, training=training)
        skip = self.skip(gated)
        if self.last:
            return None, skip
        h_out = self.residual(gated)
        if self.mask_type == "B":
            h_out = h + h_out
        return h_out, skip

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        config = super().get_config()
        config.update(
            channels=self.channels,
            kernel_size=self.kernel_size,
            mask_type=self.mask_type,
            dropout=self.dropout,
            condition_channels=self.condition_channels,
            last=self.last,
            seed=self.seed,
        )
        return config


@keras.saving.register_keras_serializable(package="oasisgen")
class GatedPixelCNN(MultiWorkerLogsMixin, keras.Model):
    """Gated PixelCNN: an autoregressive prior over integer code maps.

    Parameters
    ----------
    num_embeddings : int
        Number of codes K; inputs are in ``[0, num_embeddings)``.
    n_layers : int, default=12
        Gated residual layers (mask "B") after the first (mask "A") layer.
    hidden_channels : int, default=128
        Hidden channels (also the size of the code embedding). Formerly
        ``channels``, which still works with a ``FutureWarning``.
    kernel_size : int, default=5
        Odd width of the causal convolutions, at least 3.
    dropout : float, default=0.0
        Dropout rate inside the gated layers, applied in training only.
    condition_num_embeddings : int, optional
        Size of the codebook of the condition map; None for an unconditional model.
    condition_upsample : int, default=2
        Integer factor from the condition grid to the grid of the codes.
    condition_channels : int, default=64
        Channels of the conditioning network.
    condition_layers : int, default=1
        3x3 convolutions of the conditioning network on the grid of the
        condition, before it is upsampled: each one widens what a position sees
        of the condition by one condition code on every side.
    global_condition_dim : int, optional
        Length of the vector that conditions each whole map (1 for the level of a
        slice); None for no such vector.
    mirror_context : bool, default=False
        Also show each position the codes at its mirror image across the
        vertical midline, where they are already drawn (see the module notes).
    attention_layers : int, default=0
        Causal self-attention layers, each after one of the gated layers,
        spread evenly; at most ``n_layers``. 0 for none.
    attention_heads : int, default=4
        Heads of each attention layer.
    seed : int, optional
        Seed of the initial weights and of the dropout.
    **kwargs
        Passed to :class:`keras.Model`.

    Notes
    -----
    Inputs: ``model(codes)`` for an unconditional model and
    ``model((codes, condition))`` (a tuple or list) for a conditional one, with
    ``codes`` of shape (n, h, w) and ``condition`` of shape
    (n, h // condition_upsample, w // condition_upsample), both integer. A model
    with ``global_condition_dim`` takes a float ``global_condition`` of shape
    (n, global_condition_dim) last: ``model((codes, global_condition))`` or
    ``model((codes, condition, global_condition))``. The output
    is the float logits (n, h, w, num_embeddings) of each code given the codes
    before it in raster order (and the whole condition).

    Train with the standard Keras loop, the codes as both input and target::

        model.compile("adam", loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True))
        model.fit(codes, codes)                  # unconditional
        model.fit((codes, condition), codes)     # conditional

    Sample new maps with :func:`oasisgen.nn.sampling.sample_codes`.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.nn.pixelcnn import GatedPixelCNN
    >>> model = GatedPixelCNN(num_embeddings=8, n_layers=2, hidden_channels=8)
    >>> codes = np.random.default_rng(0).integers(0, 8, size=(2, 4, 5))
    >>> tuple(model(codes).shape)
    (2, 4, 5, 8)
    >>> tuple(model.log_likelihood(codes).shape)
    (2,)

    A prior of 8x8 bottom codes conditioned on 4x4 top codes:

    >>> bottom = GatedPixelCNN(num_embeddings=8, n_layers=2, hidden_channels=8,
    ...                        condition_num_embeddings=6, condition_channels=4)
    >>> top = np.zeros((2, 4, 4), dtype="int32")
    >>> tuple(bottom((np.zeros((2, 8, 8), dtype="int32"), top)).shape)
    (2, 8, 8, 8)

    A prior whose every code sees all the codes before it, with one attention
    layer:

    >>> seeing = GatedPixelCNN(num_embeddings=8, n_layers=2, hidden_channels=8,
    ...                        attention_layers=1)
    >>> tuple(seeing(codes).shape)
    (2, 4, 5, 8)

    A prior of 4x4 top codes given the level of each slice:

    >>> by_level = GatedPixelCNN(num_embeddings=8, n_layers=2, hidden_channels=8,
    ...                          global_condition_dim=1)
    >>> levels = np.array([[0.2], [0.8]], dtype="float32")
    >>> tuple(by_level((np.zeros((2, 4, 4), dtype="int32"), levels)).shape)
    (2, 4, 4, 8)
    """

    def __init__(
        self,
        num_embeddings: int,
        n_layers: int = 12,
        hidden_channels: int = 128,
        kernel_size: int = 5,
        dropout: float = 0.0,
        condition_num_embeddings: int | None = None,
        condition_upsample: int = 2,
        condition_channels: int = 64,
        condition_layers: int = 1,
        global_condition_dim: int | None = None,
        mirror_context: bool = False,
        attention_layers: int = 0,
        attention_heads: int = 4,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        if "channels" in kwargs:
            warnings.warn(
                "GatedPixelCNN(channels=...) is deprecated and will be removed in a "
                "future release; pass hidden_channels=... (the name PixelCNNPrior and "
                "VQVAE2Estimator use).",
                FutureWarning,
                stacklevel=2,
            )
            hidden_channels = kwargs.pop("channels")
        super().__init__(**kwargs)
        _check_kernel_size(kernel_size)
        for name, value, low in [
            ("n_layers", n_layers, 0),
            ("condition_upsample", condition_upsample, 1),
            ("condition_layers", condition_layers, 1),
            ("attention_heads", attention_heads, 1),
        ]:
            if int(value) < low:
                raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
        if not 0 <= int(attention_layers) <= int(n_layers):
            raise ValueError(
                "attention_layers must be an int from 0 to n_layers, each following "
                f"one gated layer; got {attention_layers!r} with n_layers={n_layers!r}."
            )
        self.num_embeddings = int(num_embeddings)
        self.n_layers = int(n_layers)
        self.hidden_channels = int(hidden_channels)
        self.kernel_size = int(kernel_size)
        self.dropout = float(dropout)
        self.condition_num_embeddings = (
            None if condition_num_embeddings is None else int(condition_num_embeddings)
        )
        self.condition_upsample = int(condition_upsample)
        self.condition_channels = int(condition_channels)
        self.condition_layers = int(condition_layers)
        self.global_condition_dim = (
            None if global_condition_dim is None else int(global_condition_dim)
        )
        if self.global_condition_dim is not None and self.global_condition_dim < 1:
            raise ValueError(
                "global_condition_dim must be None or an int >= 1; got "
                f"{global_condition_dim!r}."
            )
        self.mirror_context = bool(mirror_context)
        self.attention_layers = int(attention_layers)
        self.attention_heads = int(attention_heads)
        self.seed = seed

        seeds = LayerSeeds(seed)
        self.embedding = keras.layers.Embedding(
            self.num_embeddings,
            self.hidden_channels,
            embeddings_initializer=seeds.uniform(),
            name="embedding",
        )
        self.gated_layers = [
            GatedLayer(
                self.hidden_channels,
                self.kernel_size,
                mask_type="A" if i == 0 else "B",
                dropout=self.dropout,
                condition_channels=self.condition_channels
                if self.conditional or self.global_conditional or self.mirror_context
                else None,
                last=i == self.n_layers,
                seed=seeds(),
                name=f"gated_{i}",
            )
            for i in range(self.n_layers + 1)
        ]
        self.head_hidden = keras.layers.Conv2D(
            self.hidden_channels,
            1,
            kernel_initializer=seeds.glorot(),
            name="head_hidden",
        )
        self.head_logits = keras.layers.Conv2D(
            self.num_embeddings, 1, kernel_initializer=seeds.glorot(), name="logits"
        )
        if self.conditional:
            self.condition_network = _condition_network(
                self.condition_num_embeddings,
                self.condition_channels,
                self.condition_upsample,
                self.condition_layers,
                LayerSeeds(seeds()),
            )
        if self.global_conditional:
            self.global_network = _global_network(
                self.condition_channels, LayerSeeds(seeds())
            )
        if self.mirror_context:
            self.mirror_network = keras.layers.Dense(
                self.condition_channels,
                kernel_initializer=seeds.glorot(),
                name="mirror",
            )
        # drawn after the other seeds, so models without attention are unchanged
        self.attention_blocks = [
            CausalSelfAttention(
                self.hidden_channels,
                self.attention_heads,
                seed=seeds(),
                name=f"attention_{index}",
            )
            for index in self.attention_after
        ]

    @property
    def conditional(self) -> bool:
        """Whether the model reads a condition map."""
        return self.condition_num_embeddings is not None

    @property
    def attention_after(self) -> tuple[int, ...]:
        """Indices of the gated layers followed by an attention layer."""
        n, count = self.n_layers, self.attention_layers
        return tuple(n * (k + 1) // (count + 1) for k in range(count))

    def attention_of(self, index: int) -> CausalSelfAttention | None:
        """Return the attention layer after gated layer ``index``, or None."""
        after = self.attention_after
        return self.attention_blocks[after.index(index)] if index in after else None

    @property
    def global_conditional(self) -> bool:
        """Whether the model reads a vector per map (``global_condition_dim``)."""
        return self.global_condition_dim is not None

    # ------------------------------------------------------------------ forward
    def build(self, input_shape: Any = None) -> None:
        """Create every weight by running a tiny map of zeros through the model.

        The weights do not depend on the size of the maps, so ``input_shape`` is
        not used.
        """
        size = self.condition_upsample
        codes = tf.zeros((1, size, size), dtype="int32")
        condition = tf.zeros((1, 1, 1), dtype="int32") if self.conditional else None
        global_condition = (
            tf.zeros((1, self.global_condition_dim))
            if self.global_conditional
            else None
        )
        features = self.condition_features(condition, global_condition)
        self._logits(codes, features, training=False)

    def call(self, inputs: Any, training: bool | None = None) -> tf.Tensor:
        """Return the logits (n, h, w, K) of ``codes`` and its conditions."""
        codes, condition, global_condition = self.split_inputs(inputs)
        features = self.condition_features(condition, global_condition)
        return self._logits(codes, features, training=training)

    def split_inputs(self, inputs: Any) -> tuple[Any, Any, Any]:
        """Return ``(codes, condition, global_condition)`` from :meth:`call`'s inputs.

        ``condition`` is None for a model without a condition map,
        ``global_condition`` for a model without ``global_condition_dim``.

        Raises
        ------
        ValueError
            If a condition is given to an unconditional model, is missing for a
            conditional one, or its grid does not match the grid of the codes.
        """
        expected = 1 + self.conditional + self.global_conditional
        parts = list(inputs) if isinstance(inputs, tuple | list) else [inputs]
        wrong_count = len(parts) != expected if self.global_conditional else False
        if wrong_count or len(parts) > max(expected, 2):
            names = ["codes"] + ["condition"] * self.conditional
            names += ["global_condition"] * self.global_conditional
            got = "codes alone" if len(parts) == 1 else f"{len(parts)} inputs"
            raise ValueError(
                f"This GatedPixelCNN expected ({', '.join(names)}); got {got}."
            )
        global_condition = parts.pop() if self.global_conditional else None
        codes, condition = (parts + [None])[:2]
        if condition is None and self.conditional:
            raise ValueError(
                "This GatedPixelCNN is conditional (condition_num_embeddings="
                f"{self.condition_num_embeddings}): call it on (codes, condition)."
            )
        if condition is not None and not self.conditional:
            raise ValueError(
                "This GatedPixelCNN is unconditional (condition_num_embeddings=None):"
                " call it on codes alone, without a condition."
            )
        if condition is not None:
            check_condition_grid(
                tuple(codes.shape),
                tuple(condition.shape),
                condition_upsample=self.condition_upsample,
                caller="GatedPixelCNN",
            )
        if global_condition is not None:
            self._check_global_shape(tuple(codes.shape), global_condition)
        return codes, condition, global_condition

    def _check_global_shape(self, codes_shape: tuple, global_condition: Any) -> None:
        shape = tuple(getattr(global_condition, "shape", ()))
        n = codes_shape[0]
        if (
            len(shape) != 2
            or shape[1] != self.global_condition_dim
            or None not in (n, shape[0])
            and shape[0] != n
        ):
            raise ValueError(
                f"GatedPixelCNN expected a global_condition of shape ({n}, "
                f"{self.global_condition_dim}) for codes of shape {codes_shape}; got "
                f"shape {shape}."
            )

    def condition_features(
        self, condition: Any, global_condition: Any = None
    ) -> tf.Tensor | None:
        """Return the conditioning features on the grid of the codes.

        Parameters
        ----------
        condition : int tensor of shape (n, hc, wc) or None
            The condition map.
        global_condition : float tensor of shape (n, global_condition_dim), optional
            The vector of each map; required by a model with
            ``global_condition_dim``.

        Returns
        -------
        features : float tensor of shape (n, hc * condition_upsample, \
wc * condition_upsample, condition_channels), or (n, 1, 1, condition_channels) from
            the global condition alone (it broadcasts over the grid), or None without a
            condition
        """
        features = None
        if condition is not None:
            features = self.condition_network(tf.cast(condition, "int32"))
        if self.global_conditional:
            if global_condition is None:
                raise ValueError(
                    "This GatedPixelCNN reads a vector per map (global_condition_dim"
                    f"={self.global_condition_dim}); pass it last in the inputs."
                )
            global_condition = tf.cast(global_condition, self.compute_dtype)
            from_global = self.global_network(global_condition)[:, None, None, :]
            features = from_global if features is None else features + from_global
        return features

    def mirror_inputs(self, row: tf.Tensor, above: tf.Tensor) -> tf.Tensor:
        """Return what each position sees across the midline, before the dense layer.

        Parameters
        ----------
        row : tensor of shape (n, rows, w, channels)
            Embedded codes of some rows; columns not drawn yet may hold anything
            on the right half, since they are masked out.
        above : tensor of shape (n, rows, w, channels)
            Embedded codes of the row above each of them (zeros above the map).

        Returns
        -------
        inputs : tensor of shape (n, rows, w, 2 * channels)
            At column ``j``: the embedding at column ``w - 1 - j`` of the same row
            where ``w - 1 - j < j`` (zeros elsewhere), then that of the row above.
        """
        width = row.shape[2]
        drawn = tf.cast(2 * tf.range(width) > width - 1, row.dtype)
        same = tf.reverse(row, axis=[2]) * drawn[None, None, :, None]
        return tf.concat([same, tf.reverse(above, axis=[2])], axis=-1)

    def _logits(
        self, codes: Any, features: tf.Tensor | None, training: bool | None
    ) -> tf.Tensor:
        v = h = self.embedding(tf.cast(codes, "int32"))
        if self.mirror_context:
            mirror = self.mirror_network(self.mirror_inputs(v, _shift_down(v)))
            features = mirror if features is None else features + mirror
        skip = tf.zeros_like(v)
        for index, layer in enumerate(self.gated_layers):
            v, h, layer_skip = layer(v, h, features, training=training)
            skip = skip + layer_skip
            attention = self.attention_of(index)
            if attention is not None:
                h = attention(h)
        return self.head(skip)

    def head(self, skip: tf.Tensor) -> tf.Tensor:
        """Return the logits (..., num_embeddings) from the summed skips."""
        return self.head_logits(tf.nn.relu(self.head_hidden(tf.nn.relu(skip))))

    def log_likelihood(
        self, codes: Any, condition: Any = None, global_condition: Any = None
    ) -> tf.Tensor:
        """Return the total log-likelihood (natural log) of each code map.

        Parameters
        ----------
        codes : int array of shape (n, h, w)
        condition : int array of shape (n, h // condition_upsample, \
w // condition_upsample), optional
            Required by a conditional model.
        global_condition : float array of shape (n, global_condition_dim), optional
            Required by a model with ``global_condition_dim``.

        Returns
        -------
        log_likelihood : float32 tensor of shape (n,)
        """
        codes = tf.cast(codes, "int32")
        inputs = [codes]
        if condition is not None:
            inputs.append(tf.cast(condition, "int32"))
        if global_condition is not None:
            inputs.append(global_condition)
        logits = self(inputs[0] if len(inputs) == 1 else tuple(inputs), training=False)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(codes, logits)
        return -tf.reduce_sum(nll, axis=(1, 2))

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        config = super().get_config()
        config.update(
            num_embeddings=self.num_embeddings,
            n_layers=self.n_layers,
            hidden_channels=self.hidden_channels,
            kernel_size=self.kernel_size,
            dropout=self.dropout,
            condition_num_embeddings=self.condition_num_embeddings,
            condition_upsample=self.condition_upsample,
            condition_channels=self.condition_channels,
            condition_layers=self.condition_layers,
            global_condition_dim=self.global_condition_dim,
            mirror_context=self.mirror_context,
            attention_layers=self.attention_layers,
            attention_heads=self.attention_heads,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GatedPixelCNN:
        """Rebuild a model from :meth:`get_config`, also one saved as ``channels``.

        Models saved before ``hidden_channels`` hold ``channels`` in their
        configuration; they load without a warning.
        """
        config = dict(config)
        if "channels" in config:
            config["hidden_channels"] = config.pop("channels")
        return cls(**config)


def _global_network(channels: int, seeds: LayerSeeds) -> keras.Sequential:
    """Return the network from a vector per map to its conditioning features."""
    return keras.Sequential(
        [
            keras.layers.Dense(
                channels, activation="relu", kernel_initializer=seeds.glorot()
            ),
            keras.layers.Dense(channels, kernel_initializer=seeds.glorot()),
        ],
        name="global_network",
    )


def _condition_network(
    num_embeddings: int, channels: int, upsample: int, n_layers: int, seeds: LayerSeeds
) -> keras.Sequential:
    """Return the network from condition codes to features on the finer grid."""

    def conv() -> keras.layers.Conv2D:
        return keras.layers.Conv2D(
            channels,
            3,
            padding="same",
            activation="relu",
            kernel_initializer=seeds.glorot(),
        )

    return keras.Sequential(
        [
            keras.layers.Embedding(
                num_embeddings, channels, embeddings_initializer=seeds.uniform()
            ),
            *(conv() for _ in range(n_layers)),
            keras.layers.UpSampling2D(upsample, interpolation="nearest"),
            conv(),
        ],
        name="condition_network",
    )


def _check_kernel_size(kernel_size: int) -> None:
    if int(kernel_size) < 3 or int(kernel_size) % 2 == 0:
        raise ValueError(
            f"kernel_size must be an odd int >= 3, so the causal convolutions are "
            f"centred; got {kernel_size!r}."
        )
