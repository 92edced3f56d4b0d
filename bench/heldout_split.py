"""bench/accuracy.py's held-out split as folders (symlinks), to measure the product commands themselves on it.

Usage: python bench/heldout_split.py OUT [--shared ../shared] [--seed 0] [--test-fraction 0.25]
                                        [--select [--select-seed N]]
Writes OUT/train/<Brand>/, OUT/train/none/, OUT/train-boxes.csv and OUT/heldout/<Brand>/, OUT/heldout/none/
(FlickrLogos-27 training photos plus the no-logo scenes, split as bench/accuracy.py splits them; --select
splits the training part again, as its --select does). Then, with the shared MobileNet weights:
  monitor train OUT/train --boxes OUT/train-boxes.csv --backbone mobilenet_v1_025 \\
      --weights ../shared/weights/mobilenet_2_5_224_tf_no_top.h5 --input-size 320 --out OUT/bundle
  monitor evaluate --model OUT/bundle OUT/heldout --json OUT/heldout.json --html OUT/heldout.html
Prints JSON: the photos on each side.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--select", action="store_true", help="split the training photos again (choosing settings)")
    parser.add_argument("--select-seed", type=int, default=0, help="seed of that selection split")
    args = parser.parse_args()

    from accuracy import shared_split  # bench/accuracy.py, beside this script: the one definition of the split

    from classifier.dataset import NEGATIVE_FOLDER

    data, scenes = args.shared / "data" / "flickrlogos27-train", args.shared / "data" / "scenes-nologo"
    if not (data.is_dir() and scenes.is_dir()):
        sys.exit(f"error: {args.shared} lacks data/flickrlogos27-train or data/scenes-nologo")
    train_set, test_set = shared_split(args.shared, args.test_fraction, args.seed, args.select, args.select_seed)
    for name, part in (("train", train_set), ("heldout", test_set)):
        for example in part.examples:
            for brand in sorted(example.brands) or [NEGATIVE_FOLDER]:
                folder = args.out / name / brand
                folder.mkdir(parents=True, exist_ok=True)
                # scenes from several folders share names: prefix the scene
                stem = example.path.name if example.brands else f"{example.path.parent.name}-{example.path.name}"
                if not (folder / stem).exists():
                    os.symlink(example.path.resolve(), folder / stem)
    names = {e.path.name for e in train_set.examples if e.brands}
    with (data / "boxes.csv").open(newline="") as source, (args.out / "train-boxes.csv").open("w", newline="") as out:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(out, reader.fieldnames or [])
        writer.writeheader()
        writer.writerows(row for row in reader if Path(row["image"]).name in names)
    print(
        json.dumps(
            {
                "train_photos": len(train_set),
                "heldout_photos": len(test_set),
                "heldout_nologo_photos": sum(not e.brands for e in test_set.examples),
                "out": str(args.out),
            }
        )
    )


if __name__ == "__main__":
    main()
