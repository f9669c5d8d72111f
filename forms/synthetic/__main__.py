"""`python -m forms.synthetic generate ...`, the same as `cradle demo generate ...`."""

from forms.synthetic.cli import demo_group

demo_group(prog_name="python -m forms.synthetic")
