"""Known data sets: what each is, where it comes from and what its files need (data only).

A :class:`DatasetPreset` per data set, registered by name (``list_presets()``, ``get_preset(name)``).
Finding presets on disk and loading them lives in :mod:`mitoviz.data.sources`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mitoviz.data.vocab import (
    BREAST,
    CANINE,
    HUMAN,
    IMPOSTER,
    MITOTIC,
    midog_domain_from_file,
    tupac_centre,
)
from mitoviz.errors import SpecError

#: A domain value for every cell of a data set, or a function of a cell's image file name.
Domain = str | Callable[[str], str | None]
MF_1_NON_2 = {1: MITOTIC, 2: IMPOSTER}
MITOTIC_TASK = "mitotic figure vs imposter"
ATYPICAL_TASK = "atypical vs normal mitotic figure"
UNVERIFIED = "see the repository [unverified]"


def _midog_scanner(file_name: str) -> str | None:
    domain = midog_domain_from_file(file_name)
    return domain[0] if domain else None


def _midog_tumor(file_name: str) -> str | None:
    domain = midog_domain_from_file(file_name)
    return domain[1] if domain else None


MIDOG_DOMAINS: Mapping[str, Domain] = {"scanner": _midog_scanner, "tumor_type": _midog_tumor}


@dataclass(frozen=True)
class DatasetPreset:
    """Everything mitoviz knows about one published data set (or the built-in demo).

    ``annotation_files`` and ``folders`` are matched case-insensitively; ``file_patterns`` (globs)
    recognise other files of the data set (e.g. a SlideRunner database beside the JSON). A preset
    with no annotation file is a folder of class folders (``image_folder`` holds ``<class>/<file>``).
    ``domains`` fills domain columns the files leave empty; ``extra_files`` names files read beside
    the annotation file (``votes``, ``split``). ``format_verified`` is False where the file layout
    comes from no primary source: mitoviz then reads it with a generic loader and says so.
    """

    name: str
    title: str
    task: str
    licence: str
    citation: str
    doi: str
    download_url: str
    point_at: str
    annotation_files: tuple[str, ...] = ()
    image_folder: str = "images"
    folders: tuple[str, ...] = ()
    file_patterns: tuple[str, ...] = ()
    class_map: Mapping[int | str, str | None] | None = None
    test_slides: tuple[str, ...] = ()
    domains: Mapping[str, Domain] = field(default_factory=dict)
    extra_files: Mapping[str, str] = field(default_factory=dict)
    format_verified: bool = True
    synthetic: bool = False
    notes: str = ""

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (``python -m mitoviz datasets --json``)."""
        return {
            "name": self.name, "title": self.title, "task": self.task, "licence": self.licence,
            "citation": self.citation, "doi": self.doi, "download_url": self.download_url,
            "point_at": self.point_at, "annotation_files": list(self.annotation_files),
            "image_folder": self.image_folder, "class_map": {str(k): v for k, v in (self.class_map or {}).items()},
            "test_slides": list(self.test_slides), "format_verified": self.format_verified,
            "synthetic": self.synthetic, "notes": self.notes,
        }


_REGISTRY: dict[str, DatasetPreset] = {}


def register_preset(preset: DatasetPreset) -> DatasetPreset:
    """Add a preset to the registry (a name can be registered once)."""
    if preset.name in _REGISTRY:
        raise SpecError(f"A data set preset named {preset.name!r} is already registered.", "Pick another name.")
    _REGISTRY[preset.name] = preset
    return preset


def list_presets() -> list[str]:
    """Names of the registered presets, in registration order."""
    return list(_REGISTRY)


def get_preset(name: str) -> DatasetPreset:
    """The preset registered under ``name``; SpecError listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SpecError(
            f"Unknown data set preset {name!r}.",
            f"Known presets: {', '.join(_REGISTRY)}; or give the path of an annotation file or folder.",
        ) from None


CCMCT_TEST_SLIDES = (
    "be10fa37ad6e88e1f406", "f3741e764d39ccc4d114", "c86cd41f96331adf3856", "552c51bfb88fd3e65ffe",
    "8c9f9618fcaca747b7c3", "c91a842257ed2add5134", "dd4246ab756f6479c841", "f26e9fcef24609b988be",
    "96274538c93980aad8d6", "add0a9bbc53d1d9bac4c", "1018715d369dd0df2fc0",
)
CMC_TEST_SLIDES = (
    "4eee7b944ad5e46c60ce", "e09512d530d933e436d5", "2d56d1902ca533a5b509", "13528f1921d4f1f15511",
    "69a02453620ade0edefd", "b1bdee8e5e3372174619", "022857018aa597374b6c",
)
MIDOG_CITATION = (
    "Aubreville M. et al., Mitosis domain generalization in histopathology images — The MIDOG challenge, "
    "Medical Image Analysis 84:102699 (2023)"
)
AMB = "https://github.com/DeepMicroscopy/AMi-Br_Benchmark"
AMB_CITATION = (
    "Banerjee S. et al., Benchmarking Deep Learning and Vision Foundation Models for Atypical vs. Normal "
    "Mitosis Classification with Cross-Dataset Evaluation, MELBA (2026), arXiv:2506.21444"
)

register_preset(DatasetPreset(
    name="mitoviz-demo", title="mitoviz synthetic demo (MIDOG++ format)", task=MITOTIC_TASK,
    licence="generated by mitoviz (Apache-2.0); synthetic, not real tissue", citation="", doi="", download_url="",
    point_at="the mitoviz-demo folder (MIDOG++-demo.json, datasets_xvalidation.csv, images/)",
    annotation_files=("MIDOG++-demo.json",), folders=("mitoviz-demo",), file_patterns=("midog++-demo.json",),
    class_map=MF_1_NON_2, synthetic=True,
    notes="Rendered H&E-like regions with simulated scanners; always labelled synthetic.",
))
register_preset(DatasetPreset(
    name="midog21", title="MIDOG 2021 training set (human breast cancer, 4 scanners)", task=MITOTIC_TASK,
    licence="CC BY-NC-ND 2.0", citation=MIDOG_CITATION, doi="10.1016/j.media.2022.102699",
    download_url="https://zenodo.org/records/4643381",
    point_at="a folder with MIDOG.json (or MIDOG.sqlite; DeepMicroscopy/MIDOG databases/) and images/001.tiff … 200.tiff",
    annotation_files=("MIDOG.json", "MIDOG.sqlite"), folders=("MIDOG", "midog21", "MIDOG2021", "MIDOG_2021"),
    file_patterns=("midog.json", "midog.sqlite"), class_map=MF_1_NON_2,
    domains={**MIDOG_DOMAINS, "species": HUMAN},
    notes="Ids 151-200 (Leica GT450) carry no labels; the scanner is the image-id range.",
))
register_preset(DatasetPreset(
    name="midogpp", title="MIDOG++ (7 tumour types, 5 scanners, human and canine)", task=MITOTIC_TASK,
    licence="CC0",
    citation="Aubreville M. et al., A comprehensive multi-domain dataset for mitotic figure assessment, "
    "Scientific Data 10:484 (2023)",
    doi="10.1038/s41597-023-02327-4",
    download_url="https://github.com/DeepMicroscopy/MIDOGpp (Setup.ipynb downloads the images from figshare)",
    point_at="a folder with MIDOG++.json (or MIDOGpp.json / the .sqlite), datasets_xvalidation.csv and images/NNN.tiff",
    annotation_files=("MIDOG++.json", "MIDOGpp.json", "MIDOG++.sqlite", "MIDOGpp.sqlite", "MIDOGpp.csv"),
    folders=("MIDOGpp", "MIDOG++", "midogpp", "MIDOG_pp"), file_patterns=("midog++*", "midogpp*"),
    class_map=MF_1_NON_2, domains=MIDOG_DOMAINS,
    notes="Scanner, origin (centre), species and the train/test split come from datasets_xvalidation.csv "
    "beside the JSON; the published cell table MIDOGpp.csv (labels 1/2) loads too.",
))
register_preset(DatasetPreset(
    name="midog22", title="MIDOG 2022 training set (5 tumour types; published cell table)", task=MITOTIC_TASK,
    licence="[unverified]", citation=MIDOG_CITATION, doi="",
    download_url="https://zenodo.org/records/6362337 (images); "
    "https://github.com/DeepMicroscopy/FoundationModelComparison (databases/MIDOG2022_training_tiff.csv)",
    point_at="a folder with MIDOG2022_training_tiff.csv and images/NNN.tiff",
    annotation_files=("MIDOG2022_training_tiff.csv", "MIDOG2022_training.csv"),
    folders=("MIDOG2022", "MIDOG22", "midog22", "MIDOG_2022"), file_patterns=("midog2022*.csv",),
    domains=MIDOG_DOMAINS,
    notes="Labels 1 = mitotic figure, 0 = imposter; the 'val' split counts as test. Image ids are MIDOG++'s, "
    "so scanner and tumour type follow from them.",
))
register_preset(DatasetPreset(
    name="ccmct", title="CCMCT: canine cutaneous mast cell tumour WSIs (MITOS_WSI_CCMCT)", task=MITOTIC_TASK,
    licence=UNVERIFIED,
    citation="Bertram C.A. et al., A large-scale dataset for mitotic figure assessment on whole slide images of "
    "canine cutaneous mast cell tumor, Scientific Data 6:274 (2019)",
    doi="10.1038/s41597-019-0290-4",
    download_url="https://github.com/DeepMicroscopy/MITOS_WSI_CCMCT (Setup.ipynb downloads the WSIs from figshare)",
    point_at="the MITOS_WSI_CCMCT folder: databases/MITOS_WSI_CCMCT_ODAEL.sqlite and WSI/<hex>.svs",
    annotation_files=("MITOS_WSI_CCMCT_ODAEL.sqlite", "MITOS_WSI_CCMCT_HEAEL.sqlite", "MITOS_WSI_CCMCT_MEL.sqlite",
                      "MITOS_WSI_CCMCT_ODAEL_binary_labels.csv"),
    image_folder="WSI", folders=("MITOS_WSI_CCMCT", "CCMCT", "ccmct"), file_patterns=("*ccmct*.sqlite", "*ccmct*.csv"),
    class_map={2: MITOTIC, 7: IMPOSTER}, test_slides=CCMCT_TEST_SLIDES,
    domains={"scanner": "Aperio ScanScope CS2", "tumor_type": "canine cutaneous mast cell tumor", "species": CANINE},
    notes="Classes 1 granulocyte, 3 tumour cell and others are skipped and counted; ODAEL is recommended.",
))
register_preset(DatasetPreset(
    name="cmc", title="CMC: canine mammary carcinoma WSIs (MITOS_WSI_CMC)", task=MITOTIC_TASK, licence=UNVERIFIED,
    citation="Aubreville M. et al., A completely annotated whole slide image dataset of canine breast cancer to "
    "aid human breast cancer research, Scientific Data 7:417 (2020)",
    doi="10.1038/s41597-020-00756-z",
    download_url="https://github.com/DeepMicroscopy/MITOS_WSI_CMC (Setup.ipynb downloads the WSIs from figshare)",
    point_at="the MITOS_WSI_CMC folder: databases/MITOS_WSI_CMC_COADEL_TR.sqlite and WSI/<hex>.svs",
    annotation_files=("MITOS_WSI_CMC_COADEL_TR.sqlite", "MITOS_WSI_CMC_CODAEL_TR.sqlite",
                      "MITOS_WSI_CMC_CODAEL_TR_ROI.sqlite", "MITOS_WSI_CMC_ODAEL_TR.sqlite", "MITOS_WSI_CMC_MEL.sqlite"),
    image_folder="WSI", folders=("MITOS_WSI_CMC", "CMC", "cmc"), file_patterns=("mitos_wsi_cmc*", "*_cmc_*"),
    class_map={2: MITOTIC, 1: IMPOSTER}, test_slides=CMC_TEST_SLIDES,
    domains={"scanner": "Aperio ScanScope CS2", "tumor_type": "canine mammary carcinoma", "species": CANINE},
    notes="Scanner model taken from the lab's other data sets [unverified]; 'Tumor region' polygons are skipped.",
))
register_preset(DatasetPreset(
    name="amibr", title="AMi-Br: atypical vs normal mitotic figures (human breast cancer patches)",
    task=ATYPICAL_TASK, licence=UNVERIFIED,
    citation="Bertram C.A. et al., Histologic Dataset of Normal and Atypical Mitotic Figures on Human Breast "
    "Cancer (AMi-Br), Bildverarbeitung für die Medizin 2025",
    doi="10.1007/978-3-658-47422-5_25", download_url="https://github.com/DeepMicroscopy/AMi-Br",
    point_at="the AMi-Br folder: AMI-BR.csv and patches/{atypical,normal}/<DATASET>_<uid>.png "
    f"(and amibr_train_split.csv from {AMB} for the benchmark's split)",
    annotation_files=("AMI-BR.csv",), image_folder="patches", folders=("AMi-Br", "AMI-BR", "amibr"),
    file_patterns=("ami-br*.csv", "amibr*.csv"), extra_files={"split": "amibr_train_split.csv"},
    domains={"tumor_type": BREAST, "species": HUMAN},
    notes="3,720 ready 128 px patches from MIDOG 2021 (scanner from the image id) and TUPAC16 (source); three "
    "expert votes; the AMi-Br benchmark's slide-level split when amibr_train_split.csv lies beside the CSV.",
))
register_preset(DatasetPreset(
    name="atnorm-br", title="AtNorM-Br: atypical vs normal mitotic figures, TCGA breast (held-out test set)",
    task=ATYPICAL_TASK, licence="MIT (AMi-Br_Benchmark repository)", citation=AMB_CITATION, doi="", download_url=AMB,
    point_at="the AtNorM-Br folder of the AMi-Br_Benchmark repository: {Atypical,Normal}/<n>.png",
    image_folder="AtNorM-Br", folders=("AtNorM-Br", "AMi-Br_Benchmark", "atnorm-br"),
    domains={"tumor_type": BREAST, "species": HUMAN, "source": "TCGA"},
    notes="746 patches (128 atypical / 618 normal); label = folder; no slide ids, so each patch is its own slide.",
))
register_preset(DatasetPreset(
    name="atnorm-md", title="AtNorM-MD: atypical vs normal mitotic figures, multi-domain (held-out test set)",
    task=ATYPICAL_TASK, licence="MIT (AMi-Br_Benchmark repository)", citation=AMB_CITATION, doi="", download_url=AMB,
    point_at="the AtNorM-MD folder of the AMi-Br_Benchmark repository ({Atypical,Normal}/<n>.png) and "
    "AtNorM-MD_expert_votes.csv",
    image_folder="AtNorM-MD", folders=("AtNorM-MD", "AMi-Br_Benchmark", "atnorm-md"),
    extra_files={"votes": "AtNorM-MD_expert_votes.csv"}, domains={"source": "MIDOG++ subset"},
    notes="2,107 patches (219 atypical / 1,888 normal) from MIDOG++; the five experts' votes become rater votes. "
    "The mapping to MIDOG++ slides and tumour types is not published [unverified].",
))
register_preset(DatasetPreset(
    name="midog25-atypical", title="MIDOG 2025 atypical training set (Zenodo 16044804) [format unverified]",
    task=ATYPICAL_TASK, licence="[unverified]", citation="MIDOG 2025 challenge, track 2", doi="",
    download_url="https://zenodo.org/records/16044804",
    point_at="a folder of class folders (<class>/<image>), or a patch CSV with image and label columns",
    image_folder="", folders=("MIDOG2025_atypical", "MIDOG25-atypical", "midog25-atypical", "MIDOG2025"),
    file_patterns=("*atypical*.csv",), format_verified=False,
    notes="File layout not verified against the Zenodo record: mitoviz reads class folders or a patch CSV with "
    "the generic loaders; check inspect's counts (organisers: about 9,408 normal / 1,741 atypical, unverified).",
))
register_preset(DatasetPreset(
    name="omg-octo", title="OMG-Octo atypical mitoses (Zenodo 16107743) [format unverified]",
    task=ATYPICAL_TASK, licence="[unverified]", citation="Shen et al., arXiv:2509.02585", doi="",
    download_url="https://zenodo.org/records/16107743",
    point_at="a folder of class folders (<class>/<image>), or a patch CSV with image and label columns",
    image_folder="", folders=("OMG-Octo", "omg-octo", "OMG_Octo"), file_patterns=("*omg*octo*.csv",),
    format_verified=False,
    notes="Everything about the files is unverified: mitoviz reads class folders or a patch CSV generically.",
))
register_preset(DatasetPreset(
    name="tupac16", title="TUPAC16 mitoses with alternative labels (SlideRunner database)", task=MITOTIC_TASK,
    licence="see the TUPAC16 challenge terms [unverified]",
    citation="Bertram C.A. et al., Are pathologist-defined labels reproducible? Comparison of the TUPAC16 "
    "mitotic figure dataset with an alternative set of labels, LABELS workshop, MICCAI 2020",
    doi="10.1007/978-3-030-61166-8_22", download_url="https://github.com/DeepMicroscopy/TUPAC16_AlternativeLabels",
    point_at="a folder with TUPAC_alternativeLabels_augmented_training.sqlite and the stitched TIFFs "
    "(01_stitched1.tif … 23_stitched1.tif, 24.tif … 73.tif)",
    annotation_files=("TUPAC_alternativeLabels_augmented_training.sqlite", "TUPAC_alternativeLabels_training.sqlite",
                      "TUPAC_stitched.sqlite", "TUPAC.sqlite"),
    folders=("TUPAC16_AlternativeLabels", "TUPAC16", "tupac16", "TUPAC"), file_patterns=("tupac*.sqlite",),
    class_map=MF_1_NON_2, domains={"tumor_type": BREAST, "species": HUMAN, "centre": tupac_centre},
    notes="Classes 1 'Mitose', 2 'Hard negative'. Cases 01-23 and 24-73 come from two centres (centre axis); "
    "their scanners are unverified.",
))
register_preset(DatasetPreset(
    name="mitos2014", title="MITOS-ATYPIA-14 (SlideRunner conversion)", task=MITOTIC_TASK,
    licence="see the MITOS-ATYPIA-14 challenge terms [unverified]",
    citation="MITOS-ATYPIA-14 challenge, https://mitos-atypia-14.grand-challenge.org", doi="",
    download_url="https://github.com/DeepMicroscopy/SlideRunner (databases/MITOS2014.sqlite)",
    point_at="a folder with MITOS2014.sqlite and the frame TIFFs (e.g. A03_00Aa.tiff)",
    annotation_files=("MITOS2014.sqlite",), folders=("MITOS2014", "MITOS-ATYPIA-14", "mitos2014"),
    file_patterns=("mitos2014*.sqlite",), class_map=MF_1_NON_2, domains={"tumor_type": BREAST, "species": HUMAN},
    notes="Classes 1 'Mitosis', 2 'Nonmitosis'.",
))
