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

"""ImagePublishing: camera-sized outputs behind the inference worker, newest first."""

import threading

from conftest import wait_for

from vjepa_nodes.ros.image_publishing import ImagePublishing


class SlowPublisher:
    """Record what is published; hold the first publication until released."""

    def __init__(self) -> None:
        self.published, self.busy, self.release = [], threading.Event(), threading.Event()

    def __call__(self, camera: str, result: str) -> None:
        self.busy.set()
        self.release.wait(5.0)
        self.published.append((camera, result))


def test_a_newer_result_replaces_images_still_waiting_and_cameras_keep_their_turn():
    publisher = SlowPublisher()
    images = ImagePublishing(publisher)
    images.start()
    images.submit({'c0': 'first'})
    assert publisher.busy.wait(5.0)  # 'first' is being published
    images.submit({'c0': 'second', 'c1': 'other'})
    images.submit({'c0': 'third'})  # 'second' was never published: replaced
    publisher.release.set()
    assert wait_for(lambda: len(publisher.published) == 3, timeout=5.0)
    assert publisher.published == [('c0', 'first'), ('c0', 'third'), ('c1', 'other')]
    assert images.replaced == {'c0': 1}
    images.stop()


def test_stop_waits_for_the_camera_in_progress_and_drops_the_rest():
    publisher = SlowPublisher()
    images = ImagePublishing(publisher)
    images.start()
    images.submit({'c0': 'first', 'c1': 'waiting'})
    assert publisher.busy.wait(5.0)
    stopper = threading.Thread(target=images.stop)
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive()  # the publication in progress ends first
    publisher.release.set()
    stopper.join(5.0)
    assert not stopper.is_alive()
    assert publisher.published == [('c0', 'first')]
    images.submit({'c1': 'late'})  # a stopped publisher publishes nothing
    assert not wait_for(lambda: len(publisher.published) > 1, timeout=0.3)
