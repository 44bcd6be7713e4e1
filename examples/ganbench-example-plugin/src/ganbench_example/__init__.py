"""An example ganbench plugin. Importing this module registers its entries with ganbench's
registries; ganbench imports it through the ``ganbench.plugins`` entry point declared in this
package's pyproject.toml. Names start with ``example-`` so they never clash with the core's."""
from . import npz, rsgan  # noqa: F401  (registration)
