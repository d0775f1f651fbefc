"""mitoviz: which image encoder to trust for mitotic figure classification."""

__version__ = "0.1.0"
