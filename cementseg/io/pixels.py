"""Pixel data -> HU, slice by slice, into one preallocated int16 array.

* Uncompressed little-endian single-frame files are read straight from the file into the
  volume (pydicom is not needed); everything else is decoded by pydicom's pixel backends
  (pylibjpeg-libjpeg, -openjpeg, -rle, pyjpegls) one file at a time.
* RescaleSlope/Intercept are applied per slice; pixel padding becomes air (-1024 HU);
  values outside int16 are clipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.uid import ImplicitVRLittleEndian

from ..errors import CorruptFileError, UnsupportedTransferSyntaxError
from .files import open_binary
from .records import SliceHeader

AIR_HU = -1024
INT16_MIN, INT16_MAX = -32768, 32767

#: the pip packages that decode each family of transfer syntaxes
DECODER_PACKAGES = {
    "JPEG 2000": "pylibjpeg-openjpeg",
    "High-Throughput JPEG 2000": "pylibjpeg-openjpeg>=2.1",
    "JPEG-LS": "pylibjpeg-libjpeg (or pyjpegls)",
    "JPEG": "pylibjpeg-libjpeg",
    "RLE": "pylibjpeg-rle (or pydicom's own RLE decoder)",
    "Deflate": "numpy and zlib",
}


@dataclass
class SliceTally:
    """What converting slices to HU had to do (summed over slices)."""

    clipped_voxels: int = 0
    padded_voxels: int = 0

    def add(self, other: SliceTally) -> None:
        self.clipped_voxels += other.clipped_voxels
        self.padded_voxels += other.padded_voxels


def get_decoder(uid: str):
    """pydicom's pixel decoder for transfer syntax ``uid`` (pydicom is imported when first needed:
    plain uncompressed files are read without it)."""
    from pydicom.pixels.decoders.base import get_decoder as pydicom_decoder

    return pydicom_decoder(uid)


def _package_for(syntax) -> str:
    name = syntax.name
    for family, package in DECODER_PACKAGES.items():
        if family in name:
            return package
    return "a decoder plugin for it"


def check_decodable(syntax: str, series_label: str) -> None:
    """Raise UnsupportedTransferSyntaxError unless an installed pydicom decoder handles ``syntax``."""
    from pydicom.uid import UID

    uid = UID(syntax)
    try:
        decoder = get_decoder(uid)
    except NotImplementedError as error:
        raise UnsupportedTransferSyntaxError(
            f"series {series_label}: transfer syntax {uid.name} ({uid}) has no pixel decoder; "
            f"convert it (e.g. with dcmconv or gdcmconv) to an uncompressed syntax"
        ) from error
    if not decoder.is_available:
        raise UnsupportedTransferSyntaxError(
            f"series {series_label}: cannot decode {uid.name} ({uid}); install {_package_for(uid)}"
        )


def raw_to_hu(
    raw: np.ndarray, header: SliceHeader, out: np.ndarray, stored_range: tuple[int, int] | None = None
) -> SliceTally:
    """Write HU = stored * slope + intercept into ``out`` (int16), padding -> air, clipping counted.

    ``raw`` may share ``out``'s memory (converted in place). ``stored_range`` (low, high): bounds
    the stored values are known to keep (BitsStored); when the shifted bounds fit int16 the
    actual minimum and maximum need not be looked for.
    """
    tally = SliceTally()
    padding = _padding_mask(raw, header)
    slope, intercept = header.rescale_slope, header.rescale_intercept
    if slope == 1 and float(intercept).is_integer():
        shift = int(intercept)
        if not (stored_range and _shift_fits_int16(*stored_range, shift)):
            stored_range = int(raw.min()), int(raw.max())
        if _shift_fits_int16(*stored_range, shift):
            np.add(_as_int16(raw), np.int16(shift), out=out)
        else:
            tally.clipped_voxels = _clip_into(raw.astype(np.int64) + shift, out)
    else:
        hu = np.rint(raw.astype(np.float64) * slope + intercept)
        tally.clipped_voxels = _clip_into(hu, out)
    if padding is not None:
        out[padding] = AIR_HU
        tally.padded_voxels = int(np.count_nonzero(padding))
    return tally


def _shift_fits_int16(low: int, high: int, shift: int) -> bool:
    """Whether stored values in [low, high] plus ``shift`` all fit int16 (and view as int16 unchanged)."""
    return (
        INT16_MIN <= low + shift
        and high + shift <= INT16_MAX
        and high <= INT16_MAX
        and INT16_MIN <= shift <= INT16_MAX
    )


def _as_int16(raw: np.ndarray) -> np.ndarray:
    """``raw`` as int16 without a copy when it is 16-bit with values in int16 range."""
    if raw.dtype.itemsize == 2 and raw.dtype.kind in "iu" and raw.dtype.isnative:
        return raw.view(np.int16)
    return raw.astype(np.int16)


def _clip_into(values: np.ndarray, out: np.ndarray) -> int:
    outside = int(np.count_nonzero((values < INT16_MIN) | (values > INT16_MAX)))
    np.clip(values, INT16_MIN, INT16_MAX, out=values)
    out[...] = values
    return outside


def _padding_mask(raw: np.ndarray, header: SliceHeader) -> np.ndarray | None:
    if header.padding_value is None:
        return None
    value = _stored_value(header.padding_value, header)
    if header.padding_range_limit is None:
        mask = raw == value
    else:
        limit = _stored_value(header.padding_range_limit, header)
        mask = (raw >= min(value, limit)) & (raw <= max(value, limit))
    return mask if mask.any() else None


def _stored_value(value: int, header: SliceHeader) -> int:
    """A padding value as the stored pixels see it (US read of a signed value wraps)."""
    if header.pixel_representation == 1 and value >= 2 ** (header.bits_allocated - 1):
        return value - 2**header.bits_allocated
    return value


def _fix_bits_stored(raw: np.ndarray, header: SliceHeader) -> tuple[int, int] | None:
    """Mask high bits beyond BitsStored (and sign-extend signed data) in place, as the standard
    says; returns the (low, high) bounds the stored values now keep (None: no BitsStored to go by)."""
    unused = header.bits_allocated - header.bits_stored
    bits = header.bits_allocated - max(unused, 0)
    if header.pixel_representation == 1:
        if unused > 0:
            raw <<= unused
            raw >>= unused
        return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if bits > 0 else None
    if unused > 0:
        raw &= np.uint16((1 << header.bits_stored) - 1)
    return 0, (1 << bits) - 1


def read_uncompressed(header: SliceHeader, out: np.ndarray) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Stored values of an uncompressed little-endian single-frame file, read directly into the
    memory of ``out`` (a C-contiguous 16-bit rows x columns array); (the values, their bounds)."""
    count = header.rows * header.columns
    dtype = np.dtype("<i2" if header.pixel_representation == 1 else "<u2")
    raw = out.view(dtype)
    header_bytes = 8 if header.transfer_syntax == ImplicitVRLittleEndian else 12
    with open_binary(header.file) as stream:
        stream.seek(header.pixel_data_offset)
        element = stream.read(header_bytes)
        length = int.from_bytes(element[-4:], "little")
        if element[:4] != b"\xe0\x7f\x10\x00" or length < 2 * count:
            raise CorruptFileError(f"{header.file}: pixel data element not where its header says")
        if stream.readinto(memoryview(raw).cast("B")) != 2 * count:
            raise CorruptFileError(f"{header.file}: truncated pixel data")
    return raw, _fix_bits_stored(raw, header)


def can_read_directly(header: SliceHeader) -> bool:
    return (
        header.pixel_data_offset is not None
        and header.frame is None
        and header.bits_allocated == 16
        and header.samples_per_pixel == 1
    )


def decode_file(slices: list[tuple[SliceHeader, int]], volume: np.ndarray) -> SliceTally:
    """Decode every image of one file into ``volume[z]`` for each (header, z) pair."""
    tally = SliceTally()
    first = slices[0][0]
    if len(slices) == 1 and can_read_directly(first):
        out = volume[slices[0][1]]
        raw, stored_range = read_uncompressed(first, out)  # converted to HU in place
        tally.add(raw_to_hu(raw, first, out, stored_range))
        return tally
    _check_monochrome(first)
    import pydicom
    from pydicom.pixels import iter_pixels
    from pydicom.uid import UID

    targets = {header.frame: (header, z) for header, z in slices}
    try:
        with open_binary(first.file) as stream:
            if first.frame is None:
                ds = pydicom.dcmread(stream)
                frames = [ds.pixel_array]
                del ds
            else:
                frames = iter_pixels(stream)
            for index, raw in enumerate(frames):
                key = None if first.frame is None else index
                if key in targets:
                    header, z = targets[key]
                    _check_shape(raw, header)
                    tally.add(raw_to_hu(raw, header, volume[z]))
    except (ValueError, RuntimeError, EOFError, OSError, KeyError, AttributeError) as error:
        raise CorruptFileError(
            f"{first.file}: pixel data cannot be decoded ({UID(first.transfer_syntax).name}): {error}"
        ) from error
    return tally


def _check_monochrome(header: SliceHeader) -> None:
    if header.samples_per_pixel != 1:
        raise CorruptFileError(
            f"{header.file}: {header.samples_per_pixel} samples per pixel; CT is greyscale"
        )


def _check_shape(raw: np.ndarray, header: SliceHeader) -> None:
    if raw.shape != (header.rows, header.columns):
        raise CorruptFileError(
            f"{header.label}: decoded shape {raw.shape}, header says {(header.rows, header.columns)}"
        )
