"""``python -m forms.registry``: the registry commands without the top-level CLI."""

from forms.registry.cli import registry_group

registry_group(prog_name="python -m forms.registry")
