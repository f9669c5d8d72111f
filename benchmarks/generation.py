"""The synthetic generator at ~1M submissions: submissions per second, against copying the
very same bytes it wrote (the floor any generator that writes them must pay)."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result, peak_rss_mb
from forms.build import build_forms
from forms.synthetic import Options, generate


def run(scale: float = 0.72) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        forms_dir = tmp_path / "forms"
        build_forms(forms_dir)
        out = tmp_path / "out"
        options = Options(scale=scale)
        start = time.perf_counter()
        result = generate(options, out_dir=out, forms_dir=forms_dir)
        seconds = time.perf_counter() - start
        n = result.deliveries
        produced = out / "submissions.jsonl"
        copy_start = time.perf_counter()
        shutil.copyfile(produced, tmp_path / "copy.jsonl")
        copy_seconds = time.perf_counter() - copy_start
        size_mb = produced.stat().st_size / 1e6
    return [
        Result("generation.rate", n / seconds, "submissions/s", n / copy_seconds, n,
               f"baseline: copying the {size_mb:,.0f} MB it wrote"),
        Result("generation.peak_rss", peak_rss_mb(), "MB", None, n),
    ]  # fmt: skip
