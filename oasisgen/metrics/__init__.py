"""Image quality, code statistics and the quality of generated slices.

Reconstructions and codes:

* :func:`ssim`, :func:`psnr`: compare two batches of images pair by pair;
* :func:`perplexity`, :func:`codebook_usage`, :func:`bits_per_code`: describe how a
  VQ-VAE uses its codebook and how well a prior models the codes.

Generated slices against real ones:

* shape: :func:`head_mask`, :func:`shape_statistics`, :func:`shape_plausibility`;
* fine detail and brightness: :func:`detail_energy`, :func:`head_intensity`;
* memorisation and diversity: :func:`nearest_ssim`, :func:`neighbour_ssim`,
  :func:`copy_rate`, :func:`pairwise_ssim`;
* realism: :func:`two_sample_test`;
* level: :func:`level_error`;
* all of them, for samples and for real held-out slices: :func:`sample_quality`.
"""

from __future__ import annotations

from oasisgen.metrics._reconstruction import (
    bits_per_code,
    codebook_usage,
    perplexity,
    psnr,
    ssim,
)
from oasisgen.metrics._samples import (
    copy_rate,
    detail_energy,
    head_intensity,
    head_mask,
    level_error,
    nearest_ssim,
    neighbour_ssim,
    pairwise_ssim,
    sample_quality,
    shape_plausibility,
    shape_statistics,
    two_sample_test,
)

__all__ = [
    "bits_per_code",
    "codebook_usage",
    "copy_rate",
    "detail_energy",
    "head_intensity",
    "head_mask",
    "level_error",
    "nearest_ssim",
    "neighbour_ssim",
    "pairwise_ssim",
    "perplexity",
    "psnr",
    "sample_quality",
    "shape_plausibility",
    "shape_statistics",
    "ssim",
    "two_sample_test",
]
