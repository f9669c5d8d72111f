"""The township registry: townships, boundaries and target populations, validated on load.

``load_registry()`` gives the bundled synthetic demo (or ``$CRADLE_REGISTRY_DIR``);
``registry_group`` is the ``cradle registry`` command group.
"""

from forms.registry.cli import registry_group
from forms.registry.demo import (
    DEFAULT_SEED,
    build_demo_registry,
    demo_county_outlines,
    generate_demo_registry,
)
from forms.registry.load import DEMO_DIR, RegistryFiles, load_registry, read_registry
from forms.registry.model import (
    COUNTY_COLUMNS,
    CRS,
    TARGET_COLUMNS,
    TOWNSHIP_COLUMNS,
    Registry,
    RegistryError,
)
from forms.registry.validate import Sources, validate_registry

__all__ = [
    "COUNTY_COLUMNS",
    "CRS",
    "DEFAULT_SEED",
    "DEMO_DIR",
    "TARGET_COLUMNS",
    "TOWNSHIP_COLUMNS",
    "Registry",
    "RegistryError",
    "RegistryFiles",
    "Sources",
    "build_demo_registry",
    "demo_county_outlines",
    "generate_demo_registry",
    "load_registry",
    "read_registry",
    "registry_group",
    "validate_registry",
]
