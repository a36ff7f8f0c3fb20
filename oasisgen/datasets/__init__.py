"""Brain MRI slices in: the bundled sample, OASIS PNG slices, NIfTI volumes, folders.

Every loader returns a :class:`SliceDataset` of float32 slices in [0, 1] of shape
(n_slices, height, width, 1), with the subject of every slice so that splits keep
subjects apart. TensorFlow is imported only when a ``tf.data`` pipeline is asked
for.
"""

from oasisgen.datasets._images import load_images
from oasisgen.datasets._nifti import load_nifti
from oasisgen.datasets._oasis import load_oasis
from oasisgen.datasets._sample import load_sample, sample_info
from oasisgen.datasets._slices import SliceDataset
from oasisgen.datasets._splits import load_splits

__all__ = [
    "load_sample",
    "sample_info",
    "load_oasis",
    "load_nifti",
    "load_images",
    "load_splits",
    "SliceDataset",
]
