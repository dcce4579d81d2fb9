"""`cementseg phantom SCENARIO OUTDIR`: write a synthetic post-vertebroplasty CT with its truth."""

from __future__ import annotations

import click

from cementseg.phantom.scenarios import SCENARIOS

from .common import one_line_errors


def _triple(ctx, param, value):
    if value is None:
        return None
    parts = value.replace("x", ",").split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise click.BadParameter(f"expected three numbers z,y,x, got {value!r}") from None
    if len(numbers) == 1:
        numbers *= 3
    if len(numbers) != 3:
        raise click.BadParameter(f"expected one or three numbers z,y,x, got {value!r}")
    return tuple(numbers)


@click.command("phantom")
@click.argument("scenario", type=click.Choice(sorted(SCENARIOS)))
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("--seed", default=0, show_default=True, help="Random seed (cement density, emboli, noise).")
@click.option("--spacing", callback=_triple, metavar="Z,Y,X", help="Voxel size in mm (one value or z,y,x) [1.5,1,1].")
@click.option("--shape", callback=_triple, metavar="Z,Y,X", help="Voxels (z,y,x); default: 320 mm field of view over the scenario's levels.")
@click.option("--format", "fmt", type=click.Choice(["dicom", "nifti"]), default="dicom", show_default=True)
@click.option("--compression", type=click.Choice(["none", "rle", "deflate"]), default="none", show_default=True,
              help="DICOM transfer syntax.")
@one_line_errors
def phantom_command(scenario: str, outdir: str, seed: int, spacing, shape, fmt: str, compression: str) -> None:
    """Write SCENARIO's CT (DICOM series in OUTDIR/ct or OUTDIR/ct.nii.gz), truth.nii.gz,
    instances.nii.gz, anatomy labels (segmentations/) and manifest.json to OUTDIR."""
    from cementseg.phantom import generate
    from cementseg.phantom.writers import write_case

    case = generate(scenario, seed, spacing_mm=spacing or (1.5, 1.0, 1.0), shape=None if shape is None else tuple(int(n) for n in shape))
    written = write_case(case, outdir, fmt, compression=None if compression == "none" else compression)
    manifest = case.manifest
    click.echo(f"{scenario} (seed {seed}): {case.volume.shape[2]}x{case.volume.shape[1]}x{case.volume.shape[0]} voxels "
               f"of {'x'.join(f'{s:g}' for s in reversed(case.volume.spacing_mm))} mm, levels "
               f"{manifest['levels_present'][0]}-{manifest['levels_present'][-1]}")
    click.echo(f"cement in: {', '.join(manifest['cemented_levels']) or 'none'}; leaks: {len(manifest['leaks'])} "
               f"({manifest['total_leak_volume_ml']:.3f} mL)")
    for leak in manifest["leaks"]:
        click.echo(f"  {leak['id']:>3}  {leak['location']:<26} from {leak['source_vertebra']:<4} "
                   f"{leak['volume_ml']:.3f} mL  {leak['length_mm']:.0f} mm")
    click.echo(f"image: {written['image']}")
    click.echo(f"truth, anatomy and manifest: {outdir}")
