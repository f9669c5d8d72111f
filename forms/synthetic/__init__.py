"""Synthetic field data with known truth: `cradle demo generate`.

Children are born in the registry's townships at the expected rate; they get newborn
visits, vaccinations on the national schedule and nutrition packs with growth
measurements, with township-to-township variation around the programme's targets. Each
visit is rendered as the OpenRosa submission ODK Collect would send for the built XForm,
and the truth (every child, every submitted value, every dose) is written as Parquet so
that tests can compute each indicator independently.

>>> from forms.synthetic import Options
>>> Options(counties=2).years
(2025, 2026)
"""

from forms.synthetic.cli import demo_group
from forms.synthetic.generate import Result, generate, prepare
from forms.synthetic.options import GENERATOR_VERSION, Options, SyntheticError
from forms.synthetic.sink import build_ingestor, read_submissions

__all__ = [
    "GENERATOR_VERSION",
    "Options",
    "Result",
    "SyntheticError",
    "build_ingestor",
    "demo_group",
    "generate",
    "prepare",
    "read_submissions",
]
