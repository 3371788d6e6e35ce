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

"""Checkpoint URLs: served by a loopback HTTP server the test runs; nothing leaves the machine."""

import functools
import hashlib
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
import threading

from checkpoint_files import OFFICIAL_PREFIX
import pytest
import torch
from vjepa_nodes.encoder.build import build_encoder
from vjepa_nodes.encoder.checkpoint import CheckpointError
from vjepa_nodes.encoder.download import DownloadError, fetch


class CountingHandler(SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - the name http.server calls
        CountingHandler.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serve tmp_path/served on 127.0.0.1; the cache goes to tmp_path/cache."""
    served = tmp_path / 'served'
    served.mkdir()
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    CountingHandler.requests = []
    httpd = ThreadingHTTPServer(('127.0.0.1', 0),
                                functools.partial(CountingHandler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    thread.join()


def official_file(served, name='vjepa2_1_tiny.pt'):
    encoder = build_encoder('tiny', model_version='2.1', allow_random_weights=True)
    torch.save({'ema_encoder': {OFFICIAL_PREFIX + k: v
                                for k, v in encoder.state_dict().items()}}, served / name)
    return encoder, hashlib.sha256((served / name).read_bytes()).hexdigest()


def test_a_url_downloads_once_with_progress_and_loads(server, capsys):
    served, base = server
    original, digest = official_file(served)
    url = f'{base}/vjepa2_1_tiny.pt#sha256={digest}'
    for _ in range(2):
        loaded = build_encoder('tiny', model_version='2.1', checkpoint=url)
        assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                     original.state_dict().values()))
    assert CountingHandler.requests == ['/vjepa2_1_tiny.pt']  # the second load used the cache
    progress = capsys.readouterr().err
    assert '100 % of' in progress and 'downloaded http://127.0.0.1' in progress


def test_a_file_that_is_not_the_one_named_is_refused_and_not_kept(server, tmp_path):
    served, base = server
    official_file(served)
    with pytest.raises(CheckpointError, match='has sha256 .* not the 0{64} its URL names'):
        build_encoder('tiny', model_version='2.1',
                      checkpoint=f'{base}/vjepa2_1_tiny.pt#sha256={"0" * 64}')
    assert not list((tmp_path / 'cache').rglob('*.pt*'))


def test_missing_files_and_plain_http_elsewhere_are_refused(server):
    _, base = server
    with pytest.raises(CheckpointError, match='cannot download .*nothing.pt: HTTP Error 404'):
        build_encoder('tiny', model_version='2.1', checkpoint=f'{base}/nothing.pt')
    with pytest.raises(DownloadError, match='use https'):
        fetch('http://example.com/vitl.pt')  # refused before any connection
    for nameless in (f'{base}/', 'https:///vitl.pt'):
        with pytest.raises(DownloadError, match='names no host and file'):
            fetch(nameless)
