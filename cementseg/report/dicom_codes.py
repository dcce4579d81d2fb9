"""Coded concepts for the DICOM outputs, as data: what each location's cement is and where it lies.

Every code comes from the DICOM standard's code dictionary shipped with pydicom
(`pydicom.sr.codedict.codes`), so nothing here is invented. Per location:

* ``category`` / ``type``: the SEG Segmented Property Category and Type (and the SR finding
  type). Cement filling the vertebral body as intended is an implant ("Physical object" /
  "Implant"); cement in a vessel or the heart is an embolus and cement anywhere else outside
  the body a foreign body ("Morphologically abnormal structure" / "Embolus" or "Foreign body").
* ``site``: the SNOMED CT structure holding it (SEG Anatomic Region, SR Finding Site); None
  where the dictionary has no fitting concept ("other"). Intradiscal and foraminal cement use
  the vertebral column, needle-tract cement the vertebral pedicle: the dictionary has no
  level-free intervertebral disc or intervertebral foramen concept.
"""

from __future__ import annotations

from dataclasses import dataclass

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code


@dataclass(frozen=True)
class LocationCodes:
    category: Code
    type: Code
    site: Code | None


_FILL = (codes.SCT.PhysicalObject, codes.SCT.Implant)
_EMBOLUS = (codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Embolus)
_FOREIGN = (codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.ForeignBody)

#: location (vocabulary) -> SEG/SR codes
LOCATION_DICOM_CODES: dict[str, LocationCodes] = {
    "vertebral_body": LocationCodes(*_FILL, codes.SCT.Vertebra),
    "intradiscal": LocationCodes(*_FOREIGN, codes.SCT.StructureOfVertebralColumn),
    "spinal_canal": LocationCodes(*_FOREIGN, codes.SCT.SpinalCanalStructure),
    "neural_foramen": LocationCodes(*_FOREIGN, codes.SCT.StructureOfVertebralColumn),
    "paravertebral_venous": LocationCodes(*_EMBOLUS, codes.SCT.Vein),
    "paravertebral_soft_tissue": LocationCodes(*_FOREIGN, codes.SCT.SoftTissue),
    "inferior_vena_cava": LocationCodes(*_EMBOLUS, codes.SCT.InferiorVenaCava),
    "azygos_system": LocationCodes(*_EMBOLUS, codes.SCT.AzygosVein),
    "right_heart": LocationCodes(*_EMBOLUS, codes.SCT.Heart),
    "pulmonary_artery": LocationCodes(*_EMBOLUS, codes.SCT.PulmonaryArtery),
    "needle_tract": LocationCodes(*_FOREIGN, codes.SCT.StructureOfPedicleOfVertebra),
    "other": LocationCodes(*_FOREIGN, None),
}

#: severity -> SR qualitative evaluation value of "Severity" (none is not reported)
SEVERITY_CODES: dict[str, Code] = {
    "info": codes.SCT.Mild,
    "warning": codes.SCT.Moderate,
    "critical": codes.SCT.Severe,
}

#: UCUM units of the SR measurements (the dictionary has no plain millilitre)
MILLILITRE = CodedConcept("ml", "UCUM", "milliliter")
MILLIMETRE = codes.UCUM.Millimeter
