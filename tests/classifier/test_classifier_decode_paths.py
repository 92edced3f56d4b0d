"""One decoder: the same file gives the same pixels and the same scores in training, evaluation, prediction and
the daemon (issue 16), for every kind of file that used to differ."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drawn_photos import BRANDS, draw_photo


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _files() -> dict[str, bytes]:
    photo = draw_photo(("Acme",), seed=3, size=(72, 56))
    rgba = photo.convert("RGBA")
    rgba.paste((255, 0, 0, 0), (0, 0, 24, 56))  # a transparent red band: white once composited
    palette = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.paste(0, (0, 0, 20, 20))
    sixteen = Image.fromarray(np.asarray(photo.convert("L"), np.uint16) * 257)
    exif = Image.Exif()
    exif[0x0112] = 6
    return {
        "photo.jpg": _save(photo, "JPEG", quality=90),
        "alpha.png": _save(rgba, "PNG"),
        "palette.png": _save(palette, "PNG", transparency=0),
        "cmyk.jpg": _save(photo.convert("CMYK"), "JPEG"),
        "sixteen.png": _save(sixteen, "PNG"),
        "rotated.jpg": _save(photo, "JPEG", exif=exif.tobytes()),
        # several times the model's input: a JPEG the decoder could read at a reduced DCT scale
        "large.jpg": _save(photo.resize((576, 448), Image.Resampling.BICUBIC), "JPEG", quality=90),
    }


@pytest.fixture(scope="module")
def model_and_files(trained, tmp_path_factory):
    """The drawn-photo model of conftest (calibrated, so predict returns probabilities) and the files."""
    root = tmp_path_factory.mktemp("decode")
    paths = []
    for name, data in _files().items():
        (root / name).write_bytes(data)
        paths.append(root / name)
    model = trained[0]
    model.save(root / "bundle")
    return model, paths, root / "bundle"


def test_every_path_decodes_a_file_to_the_same_pixels(model_and_files):
    from classifier.dataset import load_dataset
    from classifier.features import Item
    from classifier.images import read_rgb
    from monitor.images import check_image

    _, paths, _ = model_and_files
    for path in paths:
        training = read_rgb(path)
        daemon = np.asarray(check_image(path.read_bytes(), min_side=16).image)
        np.testing.assert_array_equal(training, daemon, err_msg=path.name)
    examples = {Path(e.path).name: e for e in load_dataset(None, negatives=[paths[0].parent], progress=False).examples}
    for path in paths:  # the feature cache reads photos through Item.pixels
        np.testing.assert_array_equal(Item(examples[path.name], frozenset()).pixels(), read_rgb(path))
    alpha = read_rgb(paths[1])
    assert alpha[5, 5].tolist() == [255, 255, 255]  # transparent red composited on white, not [255, 0, 0]
    assert read_rgb(paths[5]).shape[:2] == (72, 56)  # EXIF orientation 6 applied
    assert read_rgb(paths[4]).dtype == np.uint8


def test_every_path_gives_the_same_scores(model_and_files):
    from classifier.images import read_rgb
    from classifier.workflows import predict_paths
    from monitor.images import check_image

    model, paths, bundle = model_and_files
    # One batch size on every path: without AVX-512 the float32 kernels sum in a batch-size-dependent order, which
    # moved scores by 1.3e-6 (a decode difference moves them by orders of magnitude more).
    training = model.predict([read_rgb(p) for p in paths], batch_size=4)
    files = model.predict_files(paths, batch_size=4)
    daemon = model.predict(
        [check_image(p.read_bytes(), min_side=16, work_side=model.input_size, square=True).image for p in paths],
        batch_size=4,
    )
    np.testing.assert_allclose(files, training, atol=1e-5)
    np.testing.assert_allclose(daemon, training, atol=1e-5)
    # every brand reported (threshold 0), in the arithmetic the in-memory model ran (the load-time bfloat16 probe
    # may decide otherwise, and a score of a few 1e-7 then fell under a threshold of 1e-6)
    shown = predict_paths(bundle, paths, thresholds=dict.fromkeys(BRANDS, 0.0), precision=model.compute_precision)
    for row, entry in zip(training, shown):
        confidences = {d["brand"]: d["confidence"] for d in entry["detections"]}
        np.testing.assert_allclose([confidences[b] for b in BRANDS], row, atol=1e-4)
    assert len({tuple(np.round(r, 5)) for r in training}) > 1  # the photos do score differently
