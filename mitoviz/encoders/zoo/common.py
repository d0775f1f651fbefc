"""What the zoo modules share: family names and the published normalisation statistics.

Facts from shared/reference/encoders.md §1–2 and encoders_new.md ("Constants").
"""

from __future__ import annotations

from mitoviz.encoders.spec import HALF, IMAGENET_MEAN, IMAGENET_STD

FM = "pathology foundation model"
SSL = "pathology SSL"
GENERAL = "general"

IMAGENET = IMAGENET_MEAN, IMAGENET_STD
KAIKO = HALF, HALF  # Kaiko ViTs, Midnight: (x - 0.5) / 0.5
HOPT_MEAN, HOPT_STD = (0.707223, 0.578729, 0.703617), (0.211883, 0.230117, 0.177517)
HIB_MEAN, HIB_STD = (0.7068, 0.5755, 0.722), (0.195, 0.2316, 0.1816)
LUNIT_MEAN, LUNIT_STD = (0.70322989, 0.53606487, 0.66096631), (0.21716536, 0.26081574, 0.20723464)
