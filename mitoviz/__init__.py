"""mitoviz: which image encoder to trust for mitotic figure classification."""

__version__ = "0.1.0"

import os as _os

# Torch's OpenMP threads spin while waiting; next to a Streamlit server, a browser or another worker
# that costs up to 5x in speed on a small machine. Passive waiting is the better default here.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
