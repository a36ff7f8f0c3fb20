"""Fuzzing: every call works or raises its documented error; none crashes or hangs.

Random arrays (shapes, dtypes, NaN, inf, huge and negative values, objects) go
through the input checks of the estimators; random and damaged files (PNG, NIfTI,
gzipped NIfTI, Analyze pairs) go through the loaders. Each test tries 40 examples;
set OASISGEN_FUZZ_EXAMPLES=2000 for a long hunt.
"""

import contextlib
import gzip
import io
import os
import signal
import struct
import tempfile
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from oasisgen import PixelCNNPrior, VQVAE2Estimator
from oasisgen.datasets import load_images, load_nifti
from oasisgen.datasets.validation import check_code_maps as check_codes
from oasisgen.datasets.validation import check_images
from oasisgen.estimators._inputs import image_source

from .estimators.conftest import TINY_PRIOR, TINY_VQVAE, make_row_codes, make_slices

DOCUMENTED = (ValueError, TypeError, FileNotFoundError)
FUZZ = settings(
    max_examples=int(os.environ.get("OASISGEN_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Hang(BaseException):
    """Not an Exception, so no ``except`` in the library can swallow it."""


@contextlib.contextmanager
def no_hang(seconds=30):
    def give_up(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------- arrays
SHAPES = hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=10)
NUMERIC = st.one_of(
    hnp.boolean_dtypes(),
    hnp.integer_dtypes(),
    hnp.unsigned_integer_dtypes(),
    hnp.floating_dtypes(),
    hnp.complex_number_dtypes(),
    hnp.datetime64_dtypes(),
    st.just(np.dtype("U3")),
)
OBJECTS = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3))
ARRAYS = st.one_of(
    hnp.arrays(NUMERIC, SHAPES),
    hnp.arrays(np.dtype(object), SHAPES, elements=OBJECTS),
    # whole numbers in the usual ranges, so that valid inputs come up too
    st.builds(
        np.ndarray.astype,
        hnp.arrays(
            np.int64,
            st.sampled_from([(2, 8, 8), (1, 16, 16, 1), (3, 4, 4), (2, 16, 16)]),
            elements=st.integers(-2, 300),
        ),
        st.sampled_from([np.uint8, np.int64, np.float32]),
    ),
)
ANYTHING = st.one_of(
    ARRAYS,
    st.recursive(OBJECTS, lambda inner: st.lists(inner, max_size=3), max_leaves=12),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


def assert_images(images):
    assert images.dtype == np.float32 and images.ndim == 4 and images.shape[-1] == 1
    assert min(images.shape[:3]) >= 1
    assert np.isfinite(images).all()
    assert images.min() >= 0 and images.max() <= 1


@FUZZ
@given(X=ANYTHING, multiple_of=st.sampled_from([None, 1, 8]))
def test_check_images_gives_unit_float_images_or_a_documented_error(X, multiple_of):
    try:
        images = check_images(X, caller="fuzz", multiple_of=multiple_of)
    except DOCUMENTED:
        return
    assert_images(images)
    if multiple_of:
        assert images.shape[1] % multiple_of == 0 == images.shape[2] % multiple_of


@FUZZ
@given(X=ANYTHING)
def test_image_source_and_a_failing_fit_raise_the_same_documented_error(X):
    try:
        source = image_source(X, caller="fuzz")
    except DOCUMENTED as error:
        with pytest.raises(type(error)):  # fit fails the same way, before training
            VQVAE2Estimator(**TINY_VQVAE).fit(X)
        return
    assert_images(source.array)


@FUZZ
@given(codes=ANYTHING, num_embeddings=st.one_of(st.none(), st.integers(1, 40)))
def test_check_codes_gives_the_same_whole_numbers_or_a_documented_error(
    codes, num_embeddings
):
    try:
        checked = check_codes(codes, caller="fuzz", num_embeddings=num_embeddings)
    except DOCUMENTED:
        return
    assert checked.dtype == np.int32 and checked.ndim == 3 and checked.min() >= 0
    assert num_embeddings is None or checked.max() < num_embeddings
    np.testing.assert_array_equal(checked, np.asarray(codes).astype(np.float64))


@pytest.fixture(scope="module")
def vqvae():
    return VQVAE2Estimator(**TINY_VQVAE).fit(make_slices(8))


@pytest.fixture(scope="module")
def prior():
    return PixelCNNPrior(**TINY_PRIOR).fit(make_row_codes(16, size=4))


@FUZZ
@given(X=ANYTHING, method=st.sampled_from(["transform", "inverse_transform", "score"]))
def test_fitted_vqvae_methods_work_or_raise_a_documented_error(vqvae, X, method):
    try:
        result = getattr(vqvae, method)(X)
    except DOCUMENTED:
        return
    assert np.all(np.isfinite(result))


@FUZZ
@given(
    top=ANYTHING,
    bottom=st.one_of(ANYTHING, hnp.arrays(np.int32, (2, 4, 4), elements=st.just(1))),
)
def test_decode_works_or_raises_a_documented_error(vqvae, top, bottom):
    try:
        images = vqvae.decode(top, bottom)
    except DOCUMENTED:
        return
    assert_images(images)


@FUZZ
@given(
    X=ANYTHING,
    n_samples=st.one_of(st.integers(-2, 2), st.floats(), st.none(), st.text()),
    temperature=st.one_of(st.floats(), st.integers(-1, 2)),
    top_k=st.one_of(st.none(), st.integers(-1, 5), st.floats()),
)
def test_fitted_prior_methods_work_or_raise_a_documented_error(
    prior, X, n_samples, temperature, top_k
):
    with contextlib.suppress(*DOCUMENTED):
        assert np.all(np.isfinite(prior.score_samples(X)))
    try:
        samples = prior.sample(n_samples, temperature=temperature, top_k=top_k)
    except DOCUMENTED:
        return
    assert samples.shape[1:] == (4, 4) and samples.min() >= 0


PARAMETER_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 1000),
    st.floats(),
    st.text(max_size=4),
    st.tuples(st.integers(-1, 9), st.integers(-1, 9)),
    st.lists(st.floats(), max_size=3),
)


@FUZZ
@given(
    estimator=st.sampled_from([VQVAE2Estimator, PixelCNNPrior]),
    params=st.data(),
)
def test_parameter_checks_pass_or_raise_a_documented_error(estimator, params):
    names = sorted(estimator().get_params())
    chosen = params.draw(
        st.dictionaries(st.sampled_from(names), PARAMETER_VALUES, max_size=3)
    )
    est = estimator(**chosen)
    try:
        getattr(est, "_check_params", est._validate_params)()
    except DOCUMENTED as error:
        # the message names a parameter that was set
        assert any(name in str(error) for name in chosen), str(error)
        return
    # values that pass are kept as given: checking never rewrites a parameter
    params = est.get_params()
    assert all(params[name] is value for name, value in chosen.items())


# -------------------------------------------------------------------- files
@st.composite
def damaged(draw, content):
    """Bytes of a file, damaged (or not) the ways a disk or a download can."""
    kind = draw(st.sampled_from(["intact", "truncated", "flipped", "appended"]))
    if kind == "truncated" and content:
        return content[: draw(st.integers(0, len(content) - 1))]
    if kind == "flipped" and content:
        data = bytearray(content)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "appended":
        return content + draw(st.binary(min_size=1, max_size=64))
    return content


def _gray(dtype):
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12))


def _color(channels):
    shape = st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(channels))
    return hnp.arrays(np.uint8, shape)


PIXELS = {
    "L": _gray(np.uint8),
    "I;16": _gray(np.uint16),
    "1": _gray(np.bool_),
    "RGB": _color(3),
    "RGBA": _color(4),
}


@st.composite
def png_files(draw):
    mode = draw(st.sampled_from([*PIXELS, "P", "LA"]))
    pixels = draw(PIXELS["L" if mode in ("P", "LA") else mode])
    image = Image.fromarray(pixels)
    if mode in ("P", "LA"):
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return draw(damaged(buffer.getvalue()))


@st.composite
def png_headers(draw):
    """A PNG with a checksummed header of any size and a few bytes of pixels."""
    width, height = draw(st.integers(0, 2**31)), draw(st.integers(0, 2**31))
    depth, color = draw(st.sampled_from([(8, 0), (16, 0), (8, 2), (1, 0), (8, 3)]))
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    pixels = zlib.compress(draw(st.binary(max_size=64)))
    chunks = [_chunk(b"IHDR", header), _chunk(b"IDAT", pixels), _chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def _chunk(kind, data):
    checksum = struct.pack(">I", zlib.crc32(kind + data))
    return struct.pack(">I", len(data)) + kind + data + checksum


IMAGE_BYTES = st.one_of(png_files(), png_headers(), st.binary(max_size=200))


@FUZZ
@given(
    files=st.lists(IMAGE_BYTES, min_size=1, max_size=3),
    image_size=st.sampled_from([None, 8]),
    on_error=st.sampled_from(["raise", "skip"]),
)
def test_load_images_on_random_files(files, image_size, on_error):
    with tempfile.TemporaryDirectory() as folder, no_hang():
        for i, content in enumerate(files):
            (Path(folder) / f"scan_{i}.png").write_bytes(content)
        try:
            dataset = load_images(folder, image_size=image_size, on_error=on_error)
            images = dataset.to_numpy()
            streamed = np.concatenate(
                [batch.numpy() for batch in dataset.as_tf_dataset(batch_size=2)]
            )
        except DOCUMENTED:
            return
    assert_images(images)
    np.testing.assert_allclose(streamed, images, atol=1 / 255)


@st.composite
def volumes(draw, image_class):
    """A small volume of any dtype, values and voxel sizes, as its files' bytes."""
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=6))
    dtype = draw(st.sampled_from([np.uint8, np.int16, np.float32, np.float64]))
    data = draw(hnp.arrays(dtype, shape))
    zoom = st.floats(0.25, 3) | st.floats(-3, -0.25)  # 0 cannot be written
    zooms = draw(st.lists(zoom, min_size=3, max_size=3))
    image = image_class(data, np.diag([*zooms, 1.0]))
    files = image.make_file_map({"image": io.BytesIO(), "header": io.BytesIO()})
    image.to_file_map(files)
    return {kind: holder.fileobj.getvalue() for kind, holder in files.items()}


@st.composite
def volume_files(draw):
    """File names and bytes: .nii, .nii.gz, or an Analyze .hdr/.img pair."""
    kind = draw(st.sampled_from([".nii", ".nii.gz", ".hdr", "random"]))
    if kind == "random":
        suffix = draw(st.sampled_from([".nii", ".nii.gz", ".hdr"]))
        return {f"brain{suffix}": draw(st.binary(max_size=600))}
    if kind == ".hdr":
        pair = draw(volumes(nib.AnalyzeImage))
        return {
            "brain.hdr": draw(damaged(pair["header"])),
            "brain.img": draw(damaged(pair["image"])),
        }
    content = draw(damaged(draw(volumes(nib.Nifti1Image))["image"]))
    if kind == ".nii":
        return {"brain.nii": content}
    return {"brain.nii.gz": draw(damaged(gzip.compress(content)))}


@FUZZ
@given(
    files=volume_files(),
    image_size=st.sampled_from([None, 16]),
    fraction=st.sampled_from([0.0, 0.1]),
)
def test_load_nifti_on_random_files(files, image_size, fraction):
    with tempfile.TemporaryDirectory() as folder, no_hang():
        for name, content in files.items():
            (Path(folder) / name).write_bytes(content)
        try:
            dataset = load_nifti(
                folder, image_size=image_size, min_brain_fraction=fraction
            )
            images = dataset.to_numpy()
        except DOCUMENTED:
            return
    assert_images(images)
