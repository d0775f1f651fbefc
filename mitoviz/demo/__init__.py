"""Synthetic demo data: a small MIDOG++-style data set in the real on-disk format.

The set lets a fresh install show every page without real data. It is rendered, not photographed:
tissue architecture and cells are drawn as haematoxylin and eosin concentration maps and turned into
RGB with Beer–Lambert, then passed through a simulated scanner (stain matrix, white point, gamma, blur,
noise, JPEG). Each image is a pyramidal tiled TIFF that OpenSlide opens, described by a MIDOG++ JSON
file and a ``datasets_xvalidation.csv`` scanner table, so it goes through the real MIDOG loader.
Every file says that it is synthetic.

Modules, from the bottom up: ``parameters`` (scanners, tumour types, constants), ``shapes`` (noise
fields, ellipses, strands, the canvas), ``cells`` (nuclei, mitoses, imposters), ``tissue`` (layout,
stroma, fibres, the crowd of nuclei), ``optics`` (stain → RGB, the scanner), ``render`` (one region),
``writing`` (TIFF, JSON, CSV, README and :func:`generate_demo`).
"""

from mitoviz.demo.parameters import MIN_CELL_DISTANCE, SCANNERS, TUMOURS, Scanner, Tumour
from mitoviz.demo.render import render_image
from mitoviz.demo.writing import (
    DEMO_JSON,
    DEMO_README,
    DEMO_SCANNERS_CSV,
    IMAGES_DIR,
    generate_demo,
    write_pyramid_tiff,
)

__all__ = [
    "DEMO_JSON",
    "DEMO_README",
    "DEMO_SCANNERS_CSV",
    "IMAGES_DIR",
    "MIN_CELL_DISTANCE",
    "SCANNERS",
    "TUMOURS",
    "Scanner",
    "Tumour",
    "generate_demo",
    "render_image",
    "write_pyramid_tiff",
]
