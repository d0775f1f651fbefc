"""The names mitoviz normalises to: labels, scanners, tumour types, species, splits.

Real annotation files spell one thing several ways (``Hammamatsu XR`` and ``Hamamatsu XR`` in the
MIDOG++ slide table, ``canine lymphoma`` vs ``canine lymphosarcoma``, labels as ``1``/``2``). Every
loader maps its raw values through this module, and the ingestion report lists what was merged.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

MITOTIC = "mitotic figure"
IMPOSTER = "imposter"
ATYPICAL = "atypical"
NORMAL = "normal"
UNKNOWN = "unknown"
BREAST = "human breast cancer"
HUMAN, CANINE, FELINE = "human", "canine", "feline"

#: Columns of a CellTable that name a domain; any further categorical column can serve as one too.
DOMAIN_COLUMNS = ("scanner", "tumor_type", "species", "source", "centre")

_SCANNERS = {
    "Hamamatsu XR": ("hamamatsuxr", "hamamatsunanozoomerxr", "nanozoomerxr", "hamamatsuc12000xr"),
    "Hamamatsu S360": ("hamamatsus360", "hamamatsunanozoomers360", "nanozoomers360"),
    "Aperio ScanScope CS2": ("aperiocs2", "aperioscanscopecs2", "scanscopecs2", "aperiocs"),
    "Leica GT450": ("leicagt450", "leicaaperiogt450", "aperiogt450", "gt450"),
    "3D Histech": ("3dhistech", "3dhistechpannoramicscanii", "pannoramicscanii", "3dhistechpannoramic250"),
    "Aperio ScanScope XT": ("aperioxt", "aperioscanscopext", "scanscopext"),
    "Leica SCN400": ("leicascn400", "scn400"),
}
_TUMOURS = {
    BREAST: ("humanbreastcancer", "breastcancer", "humanbreastcarcinoma", "breastcarcinoma", "breast"),
    "canine lung cancer": ("caninelungcancer", "caninelungcarcinoma", "lungcancer"),
    "canine lymphosarcoma": ("caninelymphosarcoma", "caninelymphoma", "lymphoma", "lymphosarcoma"),
    "canine cutaneous mast cell tumor": (
        "caninecutaneousmastcelltumor", "caninemastcelltumor", "cutaneousmastcelltumor", "mastcelltumor", "ccmct",
    ),
    "human neuroendocrine tumor": ("humanneuroendocrinetumor", "neuroendocrinetumor", "net"),
    "canine soft tissue sarcoma": ("caninesofttissuesarcoma", "softtissuesarcoma", "sts"),
    "human melanoma": ("humanmelanoma", "melanoma"),
    "canine mammary carcinoma": ("caninemammarycarcinoma", "caninebreastcancer", "cmc"),
}
_SPECIES = {
    HUMAN: ("human", "homosapiens", "humans"),
    CANINE: ("canine", "dog", "canisfamiliaris", "canines"),
    FELINE: ("feline", "cat", "feliscatus"),
}
_SPLITS = {"train": "train", "training": "train", "test": "test", "testing": "test", "": ""}
VALIDATION_SPLITS = ("val", "valid", "validation")

_IMPOSTER_WORDS = re.compile(
    r"not mitotic|non mitotic|nonmitotic|no mitosis|non mitosis|nonmitosis|hard negative|look ?alike"
    r"|imposter|impostor|mimic|non mf|^nmf$"
)
_MITOTIC_WORDS = re.compile(r"mitotic figure|mitosis|mitoses|mitose|^mf$")
_ATYPICAL_WORDS = re.compile(r"^(atypical|amf|abnormal)( mitotic figure| mitosis)?$")
_NORMAL_WORDS = re.compile(r"^(normal|typical)( mitotic figure| mitosis)?$")


def _squash(text: object) -> str:
    text = str(text).lower().replace("tumour", "tumor").replace("hammamatsu", "hamamatsu")
    return re.sub(r"[^a-z0-9]", "", text)


def clean(text: object) -> str:
    """Whitespace-normalised text; ``""`` for None and NaN."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return ""
    return " ".join(str(text).split())


def _lookup(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    out = {}
    for canonical, aliases in table.items():
        out[_squash(canonical)] = canonical
        out.update(dict.fromkeys(aliases, canonical))
    return out


_SCANNER_ALIASES = _lookup(_SCANNERS)
_TUMOR_ALIASES = _lookup(_TUMOURS)
_SPECIES_ALIASES = _lookup(_SPECIES)


def canonical_scanner(name: object) -> str:
    """One spelling per scanner (``Hammamatsu XR`` → ``Hamamatsu XR``); unknown names pass through."""
    text = clean(name)
    return _SCANNER_ALIASES.get(_squash(text), text)


def canonical_tumor(name: object) -> str:
    """One spelling per tumour type (``canine lymphoma`` → ``canine lymphosarcoma``); unknown names pass."""
    text = clean(name)
    return _TUMOR_ALIASES.get(_squash(text), text)


def canonical_species(name: object) -> str:
    """``human`` / ``canine`` / ``feline`` from common spellings; unknown names pass through."""
    text = clean(name)
    return _SPECIES_ALIASES.get(_squash(text), text.lower())


def species_of_tumor(tumor: str) -> str:
    """The species a canonical tumour-type name starts with (``canine …`` → canine), else ``""``."""
    first = tumor.split(" ", 1)[0].lower() if tumor else ""
    return first if first in _SPECIES else ""


#: Domain column → the function that merges its real spellings.
CANONICAL = {"scanner": canonical_scanner, "tumor_type": canonical_tumor, "species": canonical_species}


def canonical_split(value: object) -> str:
    """``train``/``test``/``""``; validation sets count as test. Raises ValueError for anything else."""
    text = clean(value).lower()
    if text in VALIDATION_SPLITS:
        return "test"
    if text not in _SPLITS:
        raise ValueError(text)
    return _SPLITS[text]


def label_from_class_name(name: object) -> str | None:
    """A data set's class name as a label (mitotic figure / imposter / atypical / normal); None if neither."""
    text = " ".join(re.sub(r"[-_/]", " ", clean(name).lower()).split())
    if not text:
        return None
    if _ATYPICAL_WORDS.search(text):
        return ATYPICAL
    if _NORMAL_WORDS.search(text):
        return NORMAL
    if _IMPOSTER_WORDS.search(text):
        return IMPOSTER
    if _MITOTIC_WORDS.search(text):
        return MITOTIC
    return None


# --------------------------------------------------------------------------- ids inside file names

# MIDOG 2021 / 2022 / MIDOG++: the image id fixes scanner and tumour type (ids 151-200 are unlabelled).
MIDOG_RANGES: tuple[tuple[int, int, str, str], ...] = (
    (1, 50, "Hamamatsu XR", BREAST),
    (51, 100, "Hamamatsu S360", BREAST),
    (101, 150, "Aperio ScanScope CS2", BREAST),
    (151, 200, "Leica GT450", BREAST),
    (201, 244, "3D Histech", "canine lung cancer"),
    (245, 299, "3D Histech", "canine lymphosarcoma"),
    (300, 349, "Aperio ScanScope CS2", "canine cutaneous mast cell tumor"),
    (350, 404, "Hamamatsu XR", "human neuroendocrine tumor"),
    (405, 504, "3D Histech", "canine soft tissue sarcoma"),
    (505, 553, "Hamamatsu XR", "human melanoma"),
)
TUPAC_CENTRES = ((1, 23, "TUPAC16 cases 01-23"), (24, 73, "TUPAC16 cases 24-73"))


def midog_id(file_name: object) -> int | None:
    """The image id of a MIDOG file name (``002.tiff``, ``2``, ``002``); None for any other name."""
    match = re.fullmatch(r"(\d{1,3})(\.0)?(\.tiff?)?", Path(clean(file_name)).name, flags=re.IGNORECASE)
    return int(match.group(1)) if match else None


def midog_domain(image_id: int | None) -> tuple[str, str] | None:
    """(scanner, tumour type) of a MIDOG 2021 / 2022 / MIDOG++ image id, from the published id ranges."""
    if image_id is None:
        return None
    for first, last, scanner, tumor in MIDOG_RANGES:
        if first <= image_id <= last:
            return scanner, tumor
    return None


def midog_domain_from_file(file_name: object) -> tuple[str, str] | None:
    """:func:`midog_domain` of a MIDOG file name such as ``001.tiff``; None for any other name."""
    return midog_domain(midog_id(file_name))


def tupac_case(file_name: object) -> int | None:
    """The TUPAC16 case of ``01_stitched1.tif``, ``24.tif`` or ``01/05.tif``; None otherwise."""
    path = Path(clean(file_name))
    if re.fullmatch(r"\d{1,2}", path.parent.name):  # original tiles: <case>/<tile>.tif
        return int(path.parent.name)
    match = re.fullmatch(r"(\d{1,2})(_stitched\d*)?(\.tiff?)?", path.name, re.IGNORECASE)
    return int(match.group(1)) if match else None


def tupac_centre(file_name: object) -> str:
    """TUPAC16 cases 1-23 and 24-73 come from two centres (the naming split reflects it); ``""`` if unknown."""
    case = tupac_case(file_name)
    for first, last, centre in TUPAC_CENTRES:
        if case is not None and first <= case <= last:
            return centre
    return ""
