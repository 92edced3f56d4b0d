"""monitor.images on a corpus of bad and odd files: each rejected with its reason or decoded right."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from monitor.errors import ImageRejected
from monitor.images import check_image, sha256_hex, thumbnail_jpeg

from ingest_helpers import corpus, exif_jpeg

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
    assert checked.posted_at == datetime(2023, 4, 5, 6, 7, 8, tzinfo=timezone.utc)
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
