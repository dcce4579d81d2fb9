"""Outputs of a scan for people and systems (docs/report.md).

`images` (key images, MIP, 3D), `html` (self-contained report), `tables` (CSV),
`dicom_seg` / `dicom_sr` (DICOM Segmentation and TID 1500 SR, codes in `dicom_codes`) and
`outputs.write_outputs` (any combination, as ``cementseg scan --report/--png/--csv/--dicom-seg/--dicom-sr``).
"""
