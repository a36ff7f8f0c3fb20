"""Sample quality of the demo configuration, against the targets of the issue.

Trains the ``oasisgen demo`` configuration at ``--image-size`` (64 by default; 128
takes about four times longer) into ``--out``: the VQ-VAE-2 and both priors learn
from four fifths of each training person's slices, and 64 samples, drawn at the
positions of the remaining fifth, are compared with them. Prints each figure
beside the real held-out slices' and the target, and writes them as JSON::

    cd benchmarks
    ../.venv/bin/python sample_quality.py --json results/sample_quality_64.json

``--seed N`` trains the whole run from another seed (the demo's is 0), for the
spread between runs. ``--set NAME=VALUE`` changes one setting of the demo (the keys of
``oasisgen.cli.demo.DEMO``; lists with commas, such as the top and the bottom
prior's ``--set prior_hidden_channels=64,32``), to measure the alternatives::

    ../.venv/bin/python sample_quality.py --set num_embeddings=32,256 \
        --set sample_temperature=1.0
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _machine import write_record

from oasisgen.cli import demo
from oasisgen.cli._common import parse_as


def targets(metrics: dict) -> list[tuple[str, float, float | None, str, bool]]:
    """Return (figure, samples, real, target, met) rows."""
    q = metrics["sample_quality"]
    ceiling = q["shape_plausibility_real"]
    rows = [
        (
            "shape plausibility",
            q["shape_plausibility"],
            ceiling,
            f">= 0.9 x real = {0.9 * ceiling:.2f}",
            q["shape_plausibility"] >= 0.9 * ceiling,
        ),
        (
            "detail energy within the real IQR",
            q["detail_energy_in_real_iqr"],
            0.5,
            "most samples (> 0.5)",
            q["detail_energy_in_real_iqr"] > 0.5,
        ),
        (
            "two-sample accuracy, small CNN",
            q["two_sample_accuracy"],
            q["two_sample_accuracy_real"],
            "<= 0.80",
            q["two_sample_accuracy"] <= 0.80,
        ),
        (
            "copy rate",
            q["copy_rate"],
            q["copy_rate_real"],
            "<= 0.05",
            q["copy_rate"] <= 0.05,
        ),
        (
            "nearest-training SSIM, median",
            q["nearest_ssim_median"],
            q["nearest_ssim_median_real"],
            "<= real",
            q["nearest_ssim_median"] <= q["nearest_ssim_median_real"],
        ),
        (
            "held-out bits per code, top prior",
            metrics["top_prior_test_bits_per_code"],
            metrics["top_prior_uniform_bits_per_code"],
            "< uniform (second column)",
            metrics["top_prior_test_bits_per_code"]
            < metrics["top_prior_uniform_bits_per_code"],
        ),
        (
            "held-out bits per code, bottom prior",
            metrics["bottom_prior_test_bits_per_code"],
            metrics["bottom_prior_uniform_bits_per_code"],
            "< uniform (second column)",
            metrics["bottom_prior_test_bits_per_code"]
            < metrics["bottom_prior_uniform_bits_per_code"],
        ),
    ]
    return rows  # fmt: skip


def setting(text: str) -> tuple[str, object]:
    """Parse ``NAME=VALUE`` for a key of the demo's settings."""
    name, _, value = text.partition("=")
    known = {**demo.DEMO, **demo.LARGE_IMAGES}
    if name not in known or not value:
        raise SystemExit(
            f"--set expects NAME=VALUE with NAME one of {sorted(known)}; got {text!r}."
        )
    old = known[name]
    if isinstance(old, bool):  # bool("false") would be True
        if value.lower() not in ("true", "false"):
            raise SystemExit(f"--set {name}= expects true or false; got {value!r}.")
        return name, value.lower() == "true"
    kind = type(old[0]) if isinstance(old, list) else type(old)
    if isinstance(old, list) or "," in value:  # a list, such as top,bottom
        return name, [kind(part) for part in value.split(",")]
    return name, kind(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("../runs/quality"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change a setting of oasisgen.cli.demo.DEMO",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the whole run (weights, held-out split, augmentation, "
        "samples); the demo's is 0",
    )
    args = parser.parse_args()
    changed = dict(setting(text) for text in args.set)
    if args.seed is not None:
        changed["seed"] = args.seed  # `oasisgen train --seed`
    demo.DEMO.update(changed)
    for name in changed:  # what is set is set at every size
        demo.LARGE_IMAGES.pop(name, None)
    started = time.perf_counter()
    argv = ["demo", "--out", str(args.out), "--image-size", str(args.image_size)]
    metrics = demo.run(parse_as(demo.add_parser, [*argv, "--quiet"]))
    seconds = time.perf_counter() - started
    rows = targets(metrics)
    print(f"\n{args.image_size} px, {seconds:.0f} s in all")
    print(f"{'figure':40s} {'samples':>9s} {'real':>9s}  target")
    for name, value, real, target, met in rows:
        real_text = "-" if real is None else f"{real:9.3f}"
        verdict = "met" if met else "NOT met"
        print(f"{name:40s} {value:9.3f} {real_text:>9s}  {target} {verdict}")
    q = metrics["sample_quality"]
    print(
        "the VQ-VAE-2's reconstructions of the held-out slices, the priors' ceiling: "
        f"two-sample accuracy {q['two_sample_accuracy_reconstructed']:.3f}, shape "
        f"plausibility {q['shape_plausibility_reconstructed']:.3f}, detail "
        f"within the real IQR {q['detail_energy_in_real_iqr_reconstructed']:.3f}"
    )
    print(
        "the bottom prior over the held-out slices' own top codes: two-sample "
        f"accuracy {q['two_sample_accuracy_given_real_top']:.3f}, shape "
        f"plausibility {q['shape_plausibility_given_real_top']:.3f}, detail "
        f"within the real IQR {q['detail_energy_in_real_iqr_given_real_top']:.3f}"
    )
    if q.get("level_error") is not None:
        print(
            f"level error {q['level_error']:.3f} (real {q['level_error_real']:.3f}, "
            f"guessing {q['level_error_chance']:.3f}); bottom prior bits per code "
            f"{q['bottom_bits_per_code']:.3f}, given other slices' top codes "
            f"{q['bottom_bits_per_code_other_top']:.3f}"
        )
    record = {
        "image_size": args.image_size,
        "changed_settings": changed,
        "seconds": round(seconds, 1),
        "metrics": metrics,
        "targets": [
            {"figure": n, "samples": v, "real": r, "target": t, "met": m}
            for n, v, r, t, m in rows
        ],
    }
    write_record(args.json, record)


if __name__ == "__main__":
    main()
