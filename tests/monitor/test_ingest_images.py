"""monitor.images on a corpus of bad and odd files: each rejected with its reason or decoded right."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest_helpers import corpus, exif_jpeg
from monitor.errors import ImageRejected
from monitor.images import check_image, sha256_hex, thumbnail_jpeg

CORPUS = corpus()
LIMITS = dict(max_pixels=1_000_000, min_side=16)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_file_is_rejected_with_its_reason_or_accepted(name):
    data, status, reason = CORPUS[name]
    if status == "rejected":
        with pytest.raises(ImageRejected) as info:
            check_image(data, **LIMITS)
        assert info.value.reason == reason, info.value.detail
    else:
        checked = check_image(data, **LIMITS)
        assert checked.image.mode == "RGB"
        assert checked.sha256 == sha256_hex(data)
        assert len(checked.phash) == 16 and int(checked.phash, 16) >= 0


def test_exif_orientation_is_applied_and_sizes_follow_it():
    checked = check_image(exif_jpeg((80, 60), orientation=6), **LIMITS)
    assert (checked.width, checked.height) == (60, 80)
    assert checked.image.size == (60, 80)
    # The yellow top-left quarter of the stored pixels lands top-right after a 90 degree turn.
    r, g, b = checked.image.getpixel((50, 10))
    assert r > 200 and g > 200 and b < 80


def test_exif_time_and_gps_are_read():
    checked = check_image(exif_jpeg((64, 64), taken="2023:04:05 06:07:08", gps=(48.5, -2.25)), **LIMITS)
    assert checked.posted_at == datetime(2023, 4, 5, 6, 7, 8, tzinfo=UTC)
    assert checked.latitude == pytest.approx(48.5) and checked.longitude == pytest.approx(-2.25)
    plain = check_image(CORPUS["noise.jpg"][0], **LIMITS)
    assert plain.posted_at is None and plain.latitude is None


def test_sixteen_bit_is_scaled_not_clipped():
    assert check_image(CORPUS["sixteen.png"][0], **LIMITS).image.getpixel((3, 3)) == (127, 127, 127)


def test_animated_gif_uses_the_first_frame():
    assert check_image(CORPUS["animated.gif"][0], **LIMITS).image.getpixel((5, 5)) == (0, 0, 255)


def test_transparency_is_composited_on_white():
    palette = check_image(CORPUS["palette-alpha.png"][0], **LIMITS).image
    assert palette.getpixel((2, 2)) == (255, 255, 255) and palette.getpixel((30, 30)) == (255, 0, 0)
    alpha = check_image(CORPUS["alpha.png"][0], **LIMITS).image
    assert alpha.getpixel((60, 5)) == (255, 255, 255) and alpha.getpixel((5, 5)) == (0, 128, 0)


def test_cmyk_and_grayscale_become_rgb():
    r, g, b = check_image(CORPUS["cmyk.jpg"][0], **LIMITS).image.getpixel((5, 5))
    assert r > 200 and g < 60 and b < 60
    assert len(set(check_image(CORPUS["gray.jpg"][0], **LIMITS).image.getpixel((5, 5)))) == 1


def test_large_photo_is_reduced_for_the_classifier_but_keeps_its_size():
    from ingest_helpers import jpeg

    checked = check_image(jpeg((2400, 1800), seed=1), max_pixels=10_000_000, work_side=64)
    assert (checked.width, checked.height) == (2400, 1800)
    assert max(checked.image.size) <= 2 * 64 * 2  # JPEG draft scale, then a bounded resize


def test_thumbnail_longest_side():
    checked = check_image(CORPUS["noise.jpg"][0], **LIMITS)
    data, width, height = thumbnail_jpeg(checked.image, 100)
    assert data[:2] == b"\xff\xd8" and max(width, height) == 100 and (width, height) == (100, 75)


def test_square_classifier_copy_and_aspect_kept_thumbnail():
    from ingest_helpers import jpeg

    checked = check_image(jpeg((640, 480), seed=2), work_side=64, square=True, thumbnail_size=100)
    assert checked.image.size == (64, 64) and checked.thumbnail.size == (100, 75)
    assert checked.phash == check_image(jpeg((640, 480), seed=2)).phash  # hashed before squashing


def _exif_with_offset(taken: str, offset: str) -> bytes:
    import io

    from PIL import Image

    exif = Image.Exif()
    exif.get_ifd(0x8769).update({36867: taken, 36881: offset})
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize("taken, offset", [("9999:12:31 23:00:00", "-05:00"), ("0001:01:01 00:30:00", "+05:00")])
def test_exif_date_past_the_calendar_drops_the_date_not_the_photo(taken, offset):
    checked = check_image(_exif_with_offset(taken, offset), **LIMITS)
    assert checked.posted_at is None and checked.image.size == (64, 64)
    fine = check_image(_exif_with_offset("2024:01:02 03:04:05", "+02:00"), **LIMITS)
    assert fine.posted_at == datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)


def test_exif_gps_at_null_island_means_no_place():
    checked = check_image(exif_jpeg((64, 64), gps=(0.0, 0.0)), **LIMITS)
    assert checked.latitude is None and checked.longitude is None
    near = check_image(exif_jpeg((64, 64), gps=(0.0, 0.5)), **LIMITS)  # on the equator is a real place
    assert near.latitude == pytest.approx(0.0) and near.longitude == pytest.approx(0.5)


def test_an_eps_named_jpg_is_refused_by_format_before_any_decoder_runs():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n0 0 moveto 64 64 lineto stroke\nshowpage\n%%EOF\n"
    with pytest.raises(ImageRejected) as info:
        check_image(eps, **LIMITS)
    assert info.value.reason == "format_not_allowed" and "EPS" in info.value.detail


def test_a_format_left_out_of_the_allowlist_is_refused():
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, "TIFF")
    assert check_image(buffer.getvalue(), **LIMITS).image.getpixel((1, 1)) == (1, 2, 3)
    with pytest.raises(ImageRejected) as info:
        check_image(buffer.getvalue(), formats=("jpeg", "png"), **LIMITS)
    assert info.value.reason == "format_not_allowed" and "TIFF" in info.value.detail


def test_the_decoding_budget_is_checked_from_the_header_before_decoding():
    import numpy as np
    from PIL import Image

    from ingest_helpers import png

    data = png(Image.fromarray(np.zeros((2000, 1500), np.uint16)))  # 3 MP, 2 bytes a sample: 5.7 MiB decoded
    assert len(data) < 50_000
    with pytest.raises(ImageRejected) as info:
        check_image(data, max_pixels=10_000_000, max_decode_mb=4)
    assert info.value.reason == "too_large" and "MiB" in info.value.detail
    assert check_image(data, max_pixels=10_000_000, max_decode_mb=8).image.size == (1500, 2000)


def _peak_rss_of_decoding(path) -> int:
    """The whole process's peak (KB), interpreter included: a difference of peaks read 0 under load once."""
    import subprocess
    import sys

    code = (
        "import io, resource, sys; from PIL import Image; from monitor.images import check_image; "
        "small = io.BytesIO(); Image.new('RGB', (64, 64)).save(small, 'PNG'); "
        "check_image(small.getvalue(), min_side=1); data = open(sys.argv[1], 'rb').read(); "  # imports warmed up
        "check_image(data, max_pixels=100_000_000, max_decode_mb=4096); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def test_a_sixteen_bit_png_costs_about_what_its_pixels_need(tmp_path):
    """Issue 14: a 115 KB 16-bit PNG cost 1.5 GB (float64 copies); now close to an 8-bit PNG of the same size."""
    import numpy as np
    from PIL import Image

    side = 6000
    Image.fromarray(np.full((side, side), 40000, np.uint16)).save(tmp_path / "sixteen.png")
    Image.fromarray(np.full((side, side), 155, np.uint8)).save(tmp_path / "eight.png")
    sixteen, eight = _peak_rss_of_decoding(tmp_path / "sixteen.png"), _peak_rss_of_decoding(tmp_path / "eight.png")
    # 36 MP: 8-bit grey -> RGB holds ~150 MB over a ~100 MB interpreter; the float64 copies held ~700 MB more
    # (whole-process ratio ~3.5); now about 1
    assert sixteen < 2.0 * eight, (sixteen, eight)
