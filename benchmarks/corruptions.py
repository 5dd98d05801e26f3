"""Throughput of the batched corruptions against `imagecorruptions`, per image.

Runs every corruption at every severity on the same photographs (the
astronaut and cat test images at 224 px, and area-downsampled to 32 px),
ours batched on `--device`, the reference one image at a time in its own
interpreter (`--reference-python`, an environment with numpy<2 and
`imagecorruptions` 1.1.2), and prints images per second and their ratio per
corruption, with the geometric mean of the ratios. Without a reference
interpreter the reference's per-call times from the statistics file are used
instead and labelled as such.

Example:
    python benchmarks/corruptions.py --reference-python /path/to/refenv/bin/python
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_visionguard.corruptions import CORRUPTIONS  # noqa: E402
from pytest_visionguard.corruptions import corrupt  # noqa: E402

DATA = ROOT / "tests" / "corruptions" / "data"
SEVERITIES = (1, 2, 3, 4, 5)

REFERENCE_SCRIPT = """
import json, sys, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
import imagecorruptions
images = np.load(sys.argv[1])
names = json.loads(sys.argv[2])
repeats = int(sys.argv[3])
seconds = {}
for name in names:
    total = 0.0
    try:
        for severity in (1, 2, 3, 4, 5):
            imagecorruptions.corrupt(images[0], severity, name)
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                for image in images:
                    imagecorruptions.corrupt(image, severity, name)
                best = min(best, time.perf_counter() - start)
            total += best
    except Exception as error:
        seconds[name] = repr(error)
        continue
    seconds[name] = total / (len(images) * 5)
print(json.dumps(seconds))
"""


def main() -> None:
    arguments = parse_arguments()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    names = arguments.corruptions or list(CORRUPTIONS)
    print(machine_description(arguments))
    for size in arguments.sizes:
        photos = photographs(size)
        ours = time_ours(photos, names, arguments)
        reference, label = time_reference(photos, names, size, arguments)
        print_table(size, names, ours, reference, label, arguments.markdown)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="device for ours (cpu, cuda)")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[32, 224], help="image sides in px"
    )
    parser.add_argument(
        "--batch", type=int, default=64, help="images per batch for ours"
    )
    parser.add_argument(
        "--reference-images",
        type=int,
        default=8,
        help="images per severity for the reference (default: 8)",
    )
    parser.add_argument(
        "--reference-python",
        type=Path,
        help="interpreter with imagecorruptions 1.1.2 installed",
    )
    parser.add_argument(
        "--stats",
        type=Path,
        default=DATA / "imagecorruptions_stats.json",
        help="reference statistics used when no interpreter is given",
    )
    parser.add_argument("--repeats", type=int, default=3, help="best of N timings")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch default)"
    )
    parser.add_argument("--corruptions", nargs="+", help="names (default: all)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown")
    return parser.parse_args()


def machine_description(arguments: argparse.Namespace) -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cores = torch.get_num_threads()
    return (
        f"{model}, {cores} torch threads, Python {platform.python_version()}, "
        f"torch {torch.__version__}, device {arguments.device}; ours in batches "
        f"of {arguments.batch}, reference on {arguments.reference_images} images "
        f"one at a time; best of {arguments.repeats}; all severities"
    )


def photographs(size: int) -> torch.Tensor:
    """Return the two test photographs at `size` px, uint8 2×3×size×size."""
    with np.load(DATA / "imagecorruptions_reference.npz") as data:
        arrays = [data[f"clean/224/{image}"] for image in ("astronaut", "chelsea")]
    photos = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    if size != 224:
        resized = F.interpolate(photos.float(), size=(size, size), mode="area")
        photos = torch.round(resized).to(torch.uint8)
    return photos.contiguous()


def tiled(photos: torch.Tensor, count: int) -> torch.Tensor:
    repeats = math.ceil(count / photos.shape[0])
    return photos.repeat(repeats, 1, 1, 1)[:count].contiguous()


def time_ours(
    photos: torch.Tensor, names: list[str], arguments: argparse.Namespace
) -> dict[str, float]:
    """Return images per second per corruption, over all severities."""
    device = torch.device(arguments.device)
    batch = tiled(photos, arguments.batch).to(device)
    rates = {}
    for name in names:
        total = 0.0
        for severity in SEVERITIES:
            corrupt(batch[:2], name, severity)
            best = math.inf
            for _ in range(arguments.repeats):
                _synchronise(device)
                start = time.perf_counter()
                corrupt(batch, name, severity)
                _synchronise(device)
                best = min(best, time.perf_counter() - start)
            total += best
        rates[name] = batch.shape[0] * len(SEVERITIES) / total
    return rates


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_reference(
    photos: torch.Tensor,
    names: list[str],
    size: int,
    arguments: argparse.Namespace,
) -> tuple[dict[str, float], str]:
    """Return the reference's images per second and where they come from."""
    if arguments.reference_python is not None:
        images = tiled(photos, arguments.reference_images)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "images.npy"
            np.save(path, images.permute(0, 2, 3, 1).numpy())
            command = [
                str(arguments.reference_python),
                "-c",
                REFERENCE_SCRIPT,
                str(path),
                json.dumps([n for n in names if n not in ("low_light", "occlusion")]),
                str(arguments.repeats),
            ]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
        seconds = json.loads(result.stdout.strip().splitlines()[-1])
        rates = {n: 1.0 / s for n, s in seconds.items() if isinstance(s, float)}
        return rates, "measured in this run"
    return _rates_from_stats(arguments.stats, size)


def _rates_from_stats(path: Path, size: int) -> tuple[dict[str, float], str]:
    records = json.loads(path.read_text())
    stats_size = 224 if size >= 128 else 64
    times: dict[str, list[float]] = {}
    for record in records:
        if record["size"] == stats_size:
            times.setdefault(record["corruption"], []).append(record["ms"])
    rates = {name: 1000.0 / float(np.mean(ms)) for name, ms in times.items()}
    label = (
        f"NOT MEASURED HERE: per-call times at {stats_size} px from {path.name}, "
        "recorded on another machine"
    )
    return rates, label


def print_table(
    size: int,
    names: list[str],
    ours: dict[str, float],
    reference: dict[str, float],
    label: str,
    markdown: bool,
) -> None:
    ratios = [ours[n] / reference[n] for n in names if n in reference]
    geometric_mean = math.exp(sum(map(math.log, ratios)) / len(ratios))
    print()
    print(f"{size} px; reference: {label}")
    if markdown:
        print("| corruption | ours (images/s) | reference (images/s) | ratio |")
        print("|---|---:|---:|---:|")
    for name in names:
        theirs = reference.get(name)
        ratio = f"{ours[name] / theirs:.1f}" if theirs else "n/a"
        theirs_text = f"{theirs:.0f}" if theirs else "n/a"
        if markdown:
            print(f"| {name} | {ours[name]:.0f} | {theirs_text} | {ratio} |")
        else:
            print(f"{name:18s} {ours[name]:10.0f} {theirs_text:>10s} {ratio:>8s}")
    if markdown:
        print(f"| **geometric mean** | | | **{geometric_mean:.1f}** |")
    else:
        print(f"{'geometric mean':18s} {'':10s} {'':>10s} {geometric_mean:8.1f}")


if __name__ == "__main__":
    main()
