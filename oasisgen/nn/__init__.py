"""Keras 3 building blocks and models of oasisgen (TensorFlow backend).

Nothing here knows about scikit-learn: these are plain, serialisable Keras objects.
"""

from oasisgen.nn.attention import CausalSelfAttention
from oasisgen.nn.blocks import ResidualStack, decoder, encoder
from oasisgen.nn.codebook_metrics import CodebookPerplexity, CodebookUsage
from oasisgen.nn.discriminator import patch_discriminator
from oasisgen.nn.optimizers import FusedAdam
from oasisgen.nn.pixelcnn import GatedLayer, GatedPixelCNN
from oasisgen.nn.quantizer import VectorQuantizer
from oasisgen.nn.sampling import Sampler, sample_codes
from oasisgen.nn.vqvae2 import VQVAE2

__all__ = [
    "VQVAE2",
    "CausalSelfAttention",
    "CodebookPerplexity",
    "CodebookUsage",
    "FusedAdam",
    "GatedLayer",
    "GatedPixelCNN",
    "ResidualStack",
    "Sampler",
    "VectorQuantizer",
    "decoder",
    "encoder",
    "patch_discriminator",
    "sample_codes",
]
