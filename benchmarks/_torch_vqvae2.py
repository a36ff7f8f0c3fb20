"""PyTorch side of ``vs_pytorch.py``: a minimal two-level VQ-VAE-2, timed.

This is a re-implementation, written for this benchmark, of the architecture of
rosinality/vq-vae-2-pytorch (``VQVAE`` in its ``vqvae.py``, trained as in its
``train_vqvae.py``), itself the model of Razavi et al. 2019, "Generating Diverse
High-Fidelity Images with VQ-VAE-2":

* bottom encoder, stride 4: 4x4 conv (stride 2) to hidden/2, ReLU, 4x4 conv
  (stride 2) to hidden, ReLU, 3x3 conv, residual blocks, ReLU;
* top encoder, stride 2: 4x4 conv (stride 2) to hidden/2, ReLU, 3x3 conv to
  hidden, residual blocks, ReLU;
* residual block: ``x + conv1x1(relu(conv3x3(relu(x))))``;
* a 1x1 conv to the embedding size before each quantizer (``quantize_conv_t``,
  ``quantize_conv_b``), the bottom one reading the top decoder's output joined
  to the bottom encoder's;
* quantizers whose codebooks follow exponential moving averages (decay 0.99,
  Laplace smoothing 1e-5), with the straight-through gradient;
* top decoder ``dec_t`` (stride 2), a 4x4 transposed conv ``upsample_t`` of the
  top codes, and the image decoder ``dec`` (stride 4) on both levels joined;
* loss: mean squared reconstruction error + 0.25 x the latent (commitment) loss
  of both levels; Adam at lr 3e-4.

Images are grayscale (one input channel) so that the model matches oasisgen's.
It needs only ``torch`` and ``numpy`` (never oasisgen or TensorFlow), and runs in
its own environment, made as benchmarks/README.md says::

    benchmarks/.venv-torch/bin/python benchmarks/_torch_vqvae2.py --params-only

It prints one JSON object on its last line of standard output.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

LATENT_LOSS_WEIGHT = 0.25
"""Weight of the commitment loss, as in the reference's training script."""


class Residual(nn.Module):
    """One residual block: ``x + conv1x1(relu(conv3x3(relu(x))))``.

    Parameters
    ----------
    channels : int
        Channels of the input and output.
    inner_channels : int
        Channels between the two convolutions.
    """

    def __init__(self, channels: int, inner_channels: int) -> None:
        super().__init__()
        self.conv3 = nn.Conv2d(channels, inner_channels, 3, padding=1)
        self.conv1 = nn.Conv2d(inner_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add the block's branch to its input."""
        return x + self.conv1(F.relu(self.conv3(F.relu(x))))


def _residual_tail(channels: int, n_blocks: int, inner: int) -> list[nn.Module]:
    """Return ``n_blocks`` residual blocks followed by a ReLU."""
    return [*(Residual(channels, inner) for _ in range(n_blocks)), nn.ReLU()]


def make_encoder(
    in_channels: int, hidden: int, n_blocks: int, inner: int, stride: int
) -> nn.Sequential:
    """Return an encoder that divides height and width by ``stride`` (2 or 4).

    Parameters
    ----------
    in_channels : int
        Channels of the input.
    hidden : int
        Channels of the output (the model's hidden channels).
    n_blocks, inner : int
        Number of residual blocks and their inner channels.
    stride : {2, 4}
        Total downsampling.

    Returns
    -------
    encoder : torch.nn.Sequential
    """
    half = hidden // 2
    layers: list[nn.Module] = [nn.Conv2d(in_channels, half, 4, stride=2, padding=1)]
    layers.append(nn.ReLU())
    if stride == 4:
        layers += [nn.Conv2d(half, hidden, 4, stride=2, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(hidden, hidden, 3, padding=1))
    elif stride == 2:
        layers.append(nn.Conv2d(half, hidden, 3, padding=1))
    else:
        raise ValueError(f"stride must be 2 or 4; got {stride!r}.")
    return nn.Sequential(*layers, *_residual_tail(hidden, n_blocks, inner))


def make_decoder(
    in_channels: int,
    out_channels: int,
    hidden: int,
    n_blocks: int,
    inner: int,
    stride: int,
) -> nn.Sequential:
    """Return a decoder that multiplies height and width by ``stride`` (2 or 4).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    hidden : int
        The model's hidden channels.
    n_blocks, inner : int
        Number of residual blocks and their inner channels.
    stride : {2, 4}
        Total upsampling.

    Returns
    -------
    decoder : torch.nn.Sequential
    """
    layers: list[nn.Module] = [nn.Conv2d(in_channels, hidden, 3, padding=1)]
    layers += _residual_tail(hidden, n_blocks, inner)
    if stride == 4:
        half = hidden // 2
        layers += [nn.ConvTranspose2d(hidden, half, 4, stride=2, padding=1), nn.ReLU()]
        layers.append(nn.ConvTranspose2d(half, out_channels, 4, stride=2, padding=1))
    elif stride == 2:
        layers.append(nn.ConvTranspose2d(hidden, out_channels, 4, stride=2, padding=1))
    else:
        raise ValueError(f"stride must be 2 or 4; got {stride!r}.")
    return nn.Sequential(*layers)


class EMAQuantizer(nn.Module):
    """Nearest-code quantizer whose codebook follows moving averages.

    The codebook is not trained by gradients (van den Oord et al. 2017, appendix
    A.1): in training mode each call moves the running code counts and the running
    sums of the vectors assigned to each code, and sets every code to their
    Laplace-smoothed ratio. Its state is three buffers, none of them parameters.

    Parameters
    ----------
    n_codes : int
        Codebook size K.
    dim : int
        Size D of each code vector.
    decay : float, default=0.99
        Decay of the moving averages.
    eps : float, default=1e-5
        Laplace smoothing of the counts.
    """

    def __init__(
        self, n_codes: int, dim: int, decay: float = 0.99, eps: float = 1e-5
    ) -> None:
        super().__init__()
        self.n_codes, self.dim, self.decay, self.eps = n_codes, dim, decay, eps
        codebook = torch.randn(n_codes, dim)
        self.register_buffer("codebook", codebook)
        self.register_buffer("ema_counts", torch.zeros(n_codes))
        self.register_buffer("ema_sums", codebook.clone())

    def forward(
        self, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantize ``z`` (N, D, H, W); return quantized, commitment loss, codes."""
        z_last = z.permute(0, 2, 3, 1)
        flat = z_last.reshape(-1, self.dim)
        distances = (
            flat.pow(2).sum(1, keepdim=True)
            - 2 * flat @ self.codebook.t()
            + self.codebook.pow(2).sum(1)[None, :]
        )
        codes = distances.argmin(1)
        if self.training:
            self._follow(flat.detach(), codes)
        quantized = F.embedding(codes, self.codebook).view_as(z_last)
        commitment = (quantized.detach() - z_last).pow(2).mean()
        straight_through = z_last + (quantized - z_last).detach()
        return (
            straight_through.permute(0, 3, 1, 2),
            commitment,
            codes.view(z_last.shape[:-1]),
        )

    @torch.no_grad()
    def _follow(self, flat: torch.Tensor, codes: torch.Tensor) -> None:
        """Move the running counts and sums, then reset the codebook from them."""
        one_hot = F.one_hot(codes, self.n_codes).to(flat.dtype)
        keep = 1 - self.decay
        self.ema_counts.mul_(self.decay).add_(one_hot.sum(0), alpha=keep)
        self.ema_sums.mul_(self.decay).add_(one_hot.t() @ flat, alpha=keep)
        total = self.ema_counts.sum()
        smoothed = (self.ema_counts + self.eps) / (total + self.n_codes * self.eps)
        self.codebook.copy_(self.ema_sums / (smoothed * total)[:, None])


class VQVAE2(nn.Module):
    """Two-level VQ-VAE-2 with the reference's layer names and shapes.

    Parameters
    ----------
    in_channels : int, default=1
        Image channels.
    hidden : int, default=128
        Channels of the encoders and decoders.
    n_res_blocks : int, default=2
        Residual blocks in each encoder and decoder.
    res_channels : int, default=32
        Inner channels of the residual blocks.
    embedding_dim : int, default=64
        Size of each code vector.
    n_codes : int, default=512
        Codebook size of each level.
    """

    def __init__(
        self,
        in_channels: int = 1,
        hidden: int = 128,
        n_res_blocks: int = 2,
        res_channels: int = 32,
        embedding_dim: int = 64,
        n_codes: int = 512,
    ) -> None:
        super().__init__()
        res, dim = (n_res_blocks, res_channels), embedding_dim
        self.enc_b = make_encoder(in_channels, hidden, *res, stride=4)
        self.enc_t = make_encoder(hidden, hidden, *res, stride=2)
        self.quantize_conv_t = nn.Conv2d(hidden, dim, 1)
        self.quantize_t = EMAQuantizer(n_codes, dim)
        self.dec_t = make_decoder(dim, dim, hidden, *res, stride=2)
        self.quantize_conv_b = nn.Conv2d(dim + hidden, dim, 1)
        self.quantize_b = EMAQuantizer(n_codes, dim)
        self.upsample_t = nn.ConvTranspose2d(dim, dim, 4, stride=2, padding=1)
        self.dec = make_decoder(2 * dim, in_channels, hidden, *res, stride=4)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the reconstruction of ``images`` (N, C, H, W) and the latent loss."""
        bottom = self.enc_b(images)
        top = self.enc_t(bottom)
        quant_t, latent_t, _ = self.quantize_t(self.quantize_conv_t(top))
        joined = torch.cat([self.dec_t(quant_t), bottom], 1)
        quant_b, latent_b, _ = self.quantize_b(self.quantize_conv_b(joined))
        upsampled = self.upsample_t(quant_t)
        return self.dec(torch.cat([upsampled, quant_b], 1)), latent_t + latent_b


def count_parameters(model: nn.Module) -> dict[str, Any]:
    """Count the trainable parameters and the buffer elements of ``model``.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    counts : dict
        ``trainable`` (int), ``trainable_sizes`` (the element count of every
        trainable tensor, sorted), ``state`` (elements of the buffers) and
        ``state_by_name`` (elements of each buffer).
    """
    trainable = [p.numel() for p in model.parameters() if p.requires_grad]
    buffers = {name: b.numel() for name, b in model.named_buffers()}
    return {
        "trainable": sum(trainable),
        "trainable_sizes": sorted(trainable),
        "state": sum(buffers.values()),
        "state_by_name": buffers,
    }


def _batches(images: torch.Tensor, batch_size: int, order: torch.Tensor | None):
    """Yield the batches of ``images``, in ``order`` when given."""
    for start in range(0, len(images), batch_size):
        if order is None:
            yield images[start : start + batch_size]
        else:
            yield images[order[start : start + batch_size]]


def train_epoch(
    model: VQVAE2,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
) -> list[float]:
    """Train one shuffled pass over ``images`` as the reference's loop does.

    Parameters
    ----------
    model : VQVAE2
    optimizer : torch.optim.Optimizer
    images : tensor of shape (N, C, H, W)
    batch_size : int
    generator : torch.Generator
        Draws the shuffling order.

    Returns
    -------
    step_seconds : list of float
        Wall time of each step.
    """
    model.train()
    order = torch.randperm(len(images), generator=generator)
    seconds = []
    for batch in _batches(images, batch_size, order):
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        reconstruction, latent_loss = model(batch)
        reconstruction_loss = F.mse_loss(reconstruction, batch)
        loss = reconstruction_loss + LATENT_LOSS_WEIGHT * latent_loss
        loss.backward()
        optimizer.step()
        reconstruction_loss.item()  # the reference logs it every step
        seconds.append(time.perf_counter() - started)
    return seconds


def reconstruct(model: VQVAE2, images: torch.Tensor, batch_size: int) -> np.ndarray:
    """Return the clipped reconstructions of ``images`` as a NumPy array.

    Parameters
    ----------
    model : VQVAE2
    images : tensor of shape (N, C, H, W)
    batch_size : int

    Returns
    -------
    reconstructions : ndarray of shape (N, C, H, W), values in [0, 1]
    """
    model.eval()
    with torch.inference_mode():
        parts = [
            model(batch)[0].clamp(0, 1).numpy()
            for batch in _batches(images, batch_size, None)
        ]
    return np.concatenate(parts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the worker's options.

    Parameters
    ----------
    argv : list of str, optional
        The command line, without the program; ``sys.argv[1:]`` when None.

    Returns
    -------
    args : argparse.Namespace
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help=".npy of images (N, H, W, 1) in [0, 1]")
    parser.add_argument("--params-only", action="store_true")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hidden-channels", type=int, default=128)
    parser.add_argument("--n-res-blocks", type=int, default=2)
    parser.add_argument("--n-res-channels", type=int, default=32)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--num-embeddings", type=int, default=512)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.params_only and args.data is None:
        parser.error("--data is required unless --params-only")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Build the model, time training and reconstruction, print JSON.

    Parameters
    ----------
    argv : list of str, optional
        The command line, without the program.

    Returns
    -------
    record : dict
        What was printed.
    """
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    model = VQVAE2(
        in_channels=1,
        hidden=args.hidden_channels,
        n_res_blocks=args.n_res_blocks,
        res_channels=args.n_res_channels,
        embedding_dim=args.embedding_dim,
        n_codes=args.num_embeddings,
    )
    record: dict[str, Any] = {
        "framework": "pytorch",
        "versions": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "threads": {
            "intra_op": torch.get_num_threads(),
            "inter_op": torch.get_num_interop_threads(),
        },
        "parameters": count_parameters(model),
    }
    if not args.params_only:
        record.update(_time_model(model, args))
    print(json.dumps(record), flush=True)
    return record


def _time_model(model: VQVAE2, args: argparse.Namespace) -> dict[str, Any]:
    """Time the warm-up, one training epoch and the reconstructions."""
    array = np.load(args.data)
    images = torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2)))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    generator = torch.Generator().manual_seed(args.seed)
    batch = args.batch_size
    started = time.perf_counter()
    warmup = images[: batch * args.warmup_steps]
    train_epoch(model, optimizer, warmup, batch, generator)
    warmup_seconds = time.perf_counter() - started

    started = time.perf_counter()
    steps = train_epoch(model, optimizer, images, batch, generator)
    epoch_seconds = time.perf_counter() - started

    reconstruct(model, images, batch)  # warm-up
    recon_seconds = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        reconstruct(model, images, batch)
        recon_seconds.append(time.perf_counter() - started)
    return {
        "image_size": int(images.shape[-1]),
        "n_images": len(images),
        "batch_size": batch,
        "warmup_seconds": warmup_seconds,
        "train_epoch_seconds": epoch_seconds,
        "train_step_seconds": steps,
        "reconstruct_seconds": recon_seconds,
        "train_images_per_second": len(images) / epoch_seconds,
        "train_step_images_per_second": batch / statistics.median(steps),
        "reconstruct_images_per_second": len(images) / statistics.median(recon_seconds),
    }


if __name__ == "__main__":
    main()
