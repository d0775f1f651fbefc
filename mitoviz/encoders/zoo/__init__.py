"""The built-in encoder specs, one module per vendor or family; importing this package registers them.

Adding a published encoder is adding one spec to the module of its vendor (or a new module listed
below) and, when its checkpoint has its own key layout, one converter in ``weights/keys.py``.
"""

from __future__ import annotations

# The import order is the listing order within a family.
# isort: off
from mitoviz.encoders.zoo import (  # noqa: F401  (imported to register their specs)
    mahmood,
    paige,
    microsoft,
    bioptimus,
    owkin,
    histai,
    kaiko,
    hkust,
    sophont,
    lunit,
    pathology_ssl,
    general,
    baselines,
)
# isort: on
