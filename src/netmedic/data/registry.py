"""Datasets known by name: where their files are looked for, and their checksums.

Lookup order for ``mnist`` and ``fashion-mnist``: ``data_dir`` (and ``data_dir/<name>``,
``data_dir/<TorchvisionName>/raw``), the user cache, the Debian package's files, and finally a
download from the mirrors (sha256-verified, streamed into the cache). See :func:`locate`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from netmedic.data.download import RemoteFile, fetch
from netmedic.data.files import IDX_STEMS, find_idx_files
from netmedic.errors import BadInputError

#: Where Debian's ``dataset-*`` packages install (``dpkg -L dataset-fashion-mnist`` lists
#: /usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz).
DEBIAN_DATASETS_DIR = Path("/usr/share/datasets")


@dataclass(frozen=True)
class NamedDataset:
    """A dataset netmedic can fetch by name: its four IDX files and where to get them."""

    name: str
    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    num_classes: int = 10
    class_names: tuple[str, ...] | None = None
    debian_package: str | None = None  # Debian package that ships the same files
    torchvision_name: str | None = None  # folder name torchvision uses (DIR/<name>/raw)


# sha256 = of the .gz as the mirrors serve it; raw_sha256 = of the gunzipped IDX bytes, which
# survives recompression (Debian's .gz files differ from Zalando's only in the gzip header).
# MNIST: the t10k sha256s match /work/shared/data/mnist/SHA256SUMS; the train sha256s are the
# widely published ones (LeCun's MD5s, also checked by torchvision: train-images
# f68b3c2dcbeaaa9fbdd348bbdeb94873, train-labels d53e105ee54ea40749a09fcbcd1e9432).
MNIST = NamedDataset(
    name="mnist",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    files=(
        RemoteFile("x_train", "train-images-idx3-ubyte.gz",
                   "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        RemoteFile("y_train", "train-labels-idx1-ubyte.gz",
                   "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        RemoteFile("x_test", "t10k-images-idx3-ubyte.gz",
                   "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                   "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        RemoteFile("y_test", "t10k-labels-idx1-ubyte.gz",
                   "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                   "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    ),
    torchvision_name="MNIST",
)

# Fashion-MNIST: raw_sha256 computed from the Debian package's files; the .gz sha256s are of
# Zalando's files (Debian's with the original gzip name/mtime header restored, which then
# reproduces Zalando's published MD5s 8d4fb7e6…, 25c81989…, bef4ecab…, bb300cfd…).
FASHION_MNIST = NamedDataset(
    name="fashion-mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    files=(
        RemoteFile("x_train", "train-images-idx3-ubyte.gz",
                   "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                   "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        RemoteFile("y_train", "train-labels-idx1-ubyte.gz",
                   "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                   "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        RemoteFile("x_test", "t10k-images-idx3-ubyte.gz",
                   "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                   "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        RemoteFile("y_test", "t10k-labels-idx1-ubyte.gz",
                   "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                   "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    ),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
    debian_package="dataset-fashion-mnist",
    torchvision_name="FashionMNIST",
)

NAMED: dict[str, NamedDataset] = {d.name: d for d in (MNIST, FASHION_MNIST)}
#: every name ``load`` understands, the embedded one first
KNOWN_NAMES = ("mnist-mini", *NAMED)


def canonical_name(text: str) -> str | None:
    """``"Fashion_MNIST"`` → ``"fashion-mnist"``; ``None`` when not a known dataset name."""
    key = text.strip().lower().replace("_", "-")
    aliases = {"fashionmnist": "fashion-mnist", "mnistmini": "mnist-mini"}
    key = aliases.get(key, key)
    return key if key in KNOWN_NAMES else None


def cache_dir(name: str) -> Path:
    """``$NETMEDIC_CACHE/<name>``, else ``$XDG_CACHE_HOME/netmedic/<name>``, else ~/.cache/…."""
    if os.environ.get("NETMEDIC_CACHE"):
        return Path(os.environ["NETMEDIC_CACHE"]).expanduser() / name
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "netmedic" / name


def mirrors_for(spec: NamedDataset, mirror: str | None = None) -> tuple[str, ...]:
    """Base URLs to try: ``mirror`` (comma-separated), else ``$NETMEDIC_MIRROR``, else built-in."""
    text = mirror or os.environ.get("NETMEDIC_MIRROR")
    if not text:
        return spec.mirrors
    return tuple(u.strip() if u.strip().endswith("/") else u.strip() + "/"
                 for u in text.split(",") if u.strip())


def candidate_dirs(spec: NamedDataset, data_dir: Path | None) -> list[tuple[Path, str]]:
    """Folders to search, in order, each with a label saying what it is."""
    dirs: list[tuple[Path, str]] = []
    if data_dir is not None:
        dirs.append((data_dir, "--data-dir"))
        dirs.append((data_dir / spec.name, "--data-dir"))
        if spec.torchvision_name:
            torchvision = data_dir / spec.torchvision_name / "raw"
            dirs.append((torchvision, "--data-dir, torchvision layout"))
    dirs.append((cache_dir(spec.name), "netmedic's cache"))
    if spec.debian_package:
        dirs.append((DEBIAN_DATASETS_DIR / spec.name, f"Debian package {spec.debian_package}"))
    return dirs


def locate(
    spec: NamedDataset,
    *,
    data_dir: Path | None = None,
    download: bool = True,
    progress: bool = True,
    mirror: str | None = None,
) -> tuple[dict[str, Path], str]:
    """Find (or download) the four IDX files of ``spec``.

    Returns
    -------
    (files, source) : role (``x_train``…) → path, and where they were found, in words
    """
    searched = candidate_dirs(spec, data_dir)
    for folder, label in searched:
        files = find_idx_files(folder) if folder.is_dir() else {}
        if len(files) == len(IDX_STEMS):
            return files, f"{folder} ({label})"
    target = cache_dir(spec.name)
    if not download:
        looked = "; ".join(f"{folder} ({label})" for folder, label in searched)
        names = ", ".join(f.filename for f in spec.files)
        apt = (f", install the Debian package (apt-get install {spec.debian_package})"
               if spec.debian_package else "")
        raise BadInputError(
            f"{spec.name}: the dataset files are not here and downloading is off. Looked in: "
            f"{looked}. Allow the download (drop --no-download / download=False){apt}, put the "
            f"four files ({names}; raw or .gz) in a folder and pass --data-dir, or use the "
            "embedded offline dataset 'mnist-mini'."
        )
    have = find_idx_files(target) if target.is_dir() else {}
    files = dict(have)
    urls = mirrors_for(spec, mirror)
    for remote in spec.files:
        if remote.role not in have:
            files[remote.role] = fetch(remote, urls, target, dataset=spec.name, progress=progress)
    return files, f"{target} (netmedic's cache, downloaded now)"
