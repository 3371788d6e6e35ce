# Copyright 2026 vjepa_nodes contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Checkpoints given as URLs: downloaded once into a cache, with progress and a digest check.

`https://host/file.pt#sha256=<hex>` names the file's expected sha256; without it the download is
only checked for completeness. Plain http is accepted for this machine only (tests, a local
mirror), so weights never travel unauthenticated over a network.
"""

import hashlib
import os
from pathlib import Path
import sys
import tempfile
from typing import Callable
from urllib.error import URLError
from urllib.parse import urlsplit
from urllib.request import urlopen

CHUNK_BYTES = 1 << 20
LOOPBACK_HOSTS = ('localhost', '127.0.0.1', '::1')
TIMEOUT_SECONDS = 60.0  # per network operation, not for the whole file


class DownloadError(ValueError):
    """A checkpoint URL that cannot be fetched, or whose file is not the one expected."""


def cache_root() -> Path:
    """~/.cache/vjepa_nodes, or under $XDG_CACHE_HOME when that is set."""
    return Path(os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache') / 'vjepa_nodes'


def checkpoints_dir() -> Path:
    """Where downloaded checkpoints are kept: <cache root>/checkpoints/<host>/<file>."""
    return cache_root() / 'checkpoints'


def is_url(source: object) -> bool:
    """Return whether a checkpoint source is a URL (http or https)."""
    return isinstance(source, str) and source.startswith(('https://', 'http://'))


def fetch(url: str, report: Callable[[str], None] | None = None) -> Path:
    """
    Return the cached file of `url`, downloading it first if it is not cached yet.

    Raises DownloadError naming the URL and what went wrong; a failed or mismatching download
    leaves nothing in the cache.
    """
    report = report or _to_stderr
    parts = urlsplit(url)
    address, _, fragment = url.partition('#')
    expected = fragment.removeprefix('sha256=').lower() if fragment else ''
    if parts.scheme == 'http' and parts.hostname not in LOOPBACK_HOSTS:
        raise DownloadError(f'{address}: use https (plain http only for this machine)')
    name = Path(parts.path).name
    if not name or not parts.hostname:
        raise DownloadError(f'{address} names no host and file')
    target = checkpoints_dir() / parts.hostname / name
    if target.is_file():
        if expected and _sha256(target) != expected:
            raise DownloadError(f'the cached {target} does not have the sha256 {url} names: '
                                'delete it to download it again')
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial_name = tempfile.mkstemp(prefix=f'.{name}.', dir=target.parent)
    os.close(handle)  # written by name below
    partial = Path(partial_name)
    try:
        digest = _download(address, partial, report)
        if expected and digest != expected:
            raise DownloadError(f'{address} has sha256 {digest}, not the {expected} its URL '
                                'names: not used')
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _download(address: str, path: Path, report: Callable[[str], None]) -> str:
    """Stream `address` into `path`; return its sha256, reporting progress every 10 %."""
    digest, done, shown = hashlib.sha256(), 0, -1
    try:
        with urlopen(address, timeout=TIMEOUT_SECONDS) as response, path.open('wb') as out:
            total = int(response.headers.get('Content-Length') or 0)
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                tenth = done * 10 // total if total else -1
                if tenth > shown:
                    shown = tenth
                    report(f'downloading {address}: {10 * tenth} % of {total / 1e6:.0f} MB')
    except (URLError, OSError) as error:  # HTTPError is a URLError
        raise DownloadError(f'cannot download {address}: {error}') from None
    if total and done != total:
        raise DownloadError(f'{address} ended after {done} of {total} bytes')
    report(f'downloaded {address}: {done / 1e6:.1f} MB')
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open('rb') as data:
        while chunk := data.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
