"""Built-in vs TotalSegmentator anatomy, side by side on the same real CTs with inserted cement.

Cement is inserted by `cementseg.phantom.insert` into the real CTs of
../shared/data/totalseg_example (the abdominal CT with its v1 labels; the DICOM series with
its v2 labels), each case is scanned twice -- built-in anatomy, then TotalSegmentator's
labels (`scan(anatomy=...)`, the level cross-check on) -- and scored with
`cementseg.evaluate`. The table replaces the section between the markers below in
docs/validation.md (benchmarks/validate.py keeps that section when it rewrites the file).

    .venv/bin/python benchmarks/validate_totalseg.py               # seeds 0 and 1
    .venv/bin/python benchmarks/validate_totalseg.py --seeds 0 --out /tmp/v.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "totalseg_example"
BEGIN = "<!-- validate_totalseg: begin -->"
END = "<!-- validate_totalseg: end -->"
ABDOMEN_PLANS = ("clean_fill", "ivc_linear_leak", "ivc_and_pulmonary", "epidural", "intradiscal",
                 "paravertebral_soft_tissue")
DICOM_PLAN = {"fills": {"T12": 4.0},
              "leaks": [{"route": "epidural", "level": "T12"}, {"route": "ivc_cast", "level": "T12", "length_mm": 20.0}]}


def cases(seeds):
    """(name, CTVolume with cement, PhantomCase, TotalSegmentator labels path) for every case."""
    import SimpleITK as sitk

    from cementseg.anatomy.class_maps import TOTAL
    from cementseg.io import load
    from cementseg.phantom import insert

    abdomen = load(DATA / "abdomen_ct.nii.gz")
    v1 = load(DATA / "abdomen_seg_v1.nii.gz")
    for plan in ABDOMEN_PLANS:
        for seed in seeds:
            yield f"abdomen (v1 labels) + {plan}", seed, insert(abdomen, v1, plan, seed=seed), DATA / "abdomen_seg_v1.nii.gz"
    dicom = load(DATA / "dicom")
    image = sitk.ReadImage(str(DATA / "dicom_seg_v2.nii.gz"))
    on_ct = sitk.GetArrayFromImage(
        sitk.Resample(image, dicom.to_sitk(), sitk.Transform(), sitk.sitkNearestNeighbor, 0, image.GetPixelID())
    )
    for seed in seeds:
        yield ("DICOM T11-T12 (v2 labels) + T12 fill, epidural, IVC", seed,
               insert(dicom, on_ct, DICOM_PLAN, seed=seed, class_map=TOTAL), DATA / "dicom_seg_v2.nii.gz")


def score(case, anatomy):
    """Scan ``case`` with ``anatomy`` (None = built-in) and score it; also whether the fill levels are right."""
    from cementseg.evaluate import score_case
    from cementseg.pipeline import scan

    findings = scan(case.volume, anatomy=anatomy)
    result = score_case(findings.to_dict(), findings.label_volume(), case.truth, case.volume.voxel_volume_mm3,
                        manifest=case.manifest, truth_instances=case.instances, name="")
    levels_right = sorted(findings.summary["cemented_levels"]) == sorted(case.manifest["cemented_levels"])
    doubts = sum("level_doubt" in c.evidence for c in findings.components if c.material == "cement")
    return result, levels_right, doubts, findings.summary["cemented_levels"]


def table(rows) -> list[str]:
    lines = [
        "| case | seed | anatomy | leaks >= 0.02 mL | found, right location | false leaks | "
        "fill levels (truth) | levels right | findings with level doubt | volume error |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, seed, anatomy, (result, levels_right, doubts, levels), truth_levels in rows:
        required = result.required
        right = sum(leak["found"] and leak["location_correct"] for leak in required)
        error = "-"
        if result.truth_leak_volume_ml > 0:
            error = f"{(result.predicted_leak_volume_ml / result.truth_leak_volume_ml - 1):+.0%}"
        lines.append(
            f"| {name} | {seed} | {anatomy} | {len(required)} | {right}/{len(required)} | {len(result.false_leaks)} | "
            f"{', '.join(levels) or '-'} ({', '.join(truth_levels)}) | {'yes' if levels_right else 'NO'} | "
            f"{doubts} | {error} |"
        )
    return lines


def write_section(lines: list[str], path: Path) -> None:
    """Replace (or append) the marked section of ``path``."""
    text = path.read_text() if path.exists() else ""
    section = "\n".join([BEGIN, *lines, END])
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "validation.md")
    options = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: nothing to validate")
    started = time.perf_counter()
    rows = []
    for name, seed, case, labels in cases(options.seeds):
        truth_levels = case.manifest["cemented_levels"]
        for anatomy, label in ((None, "built-in"), (labels, "TotalSegmentator")):
            rows.append((name, seed, label, score(case, anatomy), truth_levels))
            print(rows[-1][0], seed, label, "done", flush=True)
    from cementseg import __version__
    from cementseg.settings import Settings

    minutes = (time.perf_counter() - started) / 60
    by_engine = {}
    for _, _, anatomy, (result, levels_right, _, _), _ in rows:
        total = by_engine.setdefault(anatomy, [0, 0, 0, 0, 0])
        total[0] += sum(leak["found"] and leak["location_correct"] for leak in result.required)
        total[1] += len(result.required)
        total[2] += len(result.false_leaks)
        total[3] += levels_right
        total[4] += 1
    lines = [
        "## Built-in vs TotalSegmentator anatomy (real CTs with inserted cement)",
        "",
        f"Generated by `python benchmarks/validate_totalseg.py --seeds {' '.join(map(str, options.seeds))}` "
        f"(cementseg {__version__}, settings digest `{Settings().digest()}`, {minutes:.1f} min). "
        "Do not edit by hand: run the script again.",
        "",
        "Each case is scanned twice, with the built-in anatomy and with TotalSegmentator's labels "
        "(`--anatomy`, level cross-check on; docs/totalsegmentator.md), and scored as above. "
        "*Levels right*: the cemented levels reported equal the truth. "
        "*Findings with level doubt*: cement findings whose level failed a label check or disagreed "
        "with the built-in count (confidence lowered).",
        "",
        "| anatomy | leaks found with the right location | false leaks | cases with the right fill levels |",
        "| --- | --- | --- | --- |",
    ]
    for anatomy, (right, required, false, levels_ok, n) in by_engine.items():
        lines.append(f"| {anatomy} | {right}/{required} | {false} | {levels_ok}/{n} |")
    lines += ["", *table(rows)]
    write_section(lines, options.out)
    print("\n".join(lines))
    print(f"wrote {options.out} ({minutes:.1f} min)")


if __name__ == "__main__":
    main()
