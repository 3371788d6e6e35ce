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

"""V-JEPA 2.1 encoders equal the official code, loading official-layout checkpoints strictly."""

from checkpoint_files import OFFICIAL_PREFIX, perturb_vectors, relative_error
from official_vjepa21 import official_encoder, official_module, OfficialCodeMissing
import pytest
import torch
from vjepa_nodes.encoder.build import build_encoder
from vjepa_nodes.encoder.checkpoint import CheckpointError
from vjepa_nodes.encoder.config import ENCODER_CONFIGS_2_1, get_encoder_config
from vjepa_nodes.encoder.vit import VJepa2Encoder
from vjepa_nodes.perception.config import DetectorConfig
from vjepa_nodes.perception.detector import ObstacleDetector

PARITY = 1e-5  # relative, fp32
CLIPS = [(1, 3, 4, 48, 80),  # a short non-square clip
         (1, 3, 1, 48, 80),  # one image: the image tokenizer and its modality embedding
         (2, 3, 2, 384, 384)]  # the released models' resolution, a batch of two


@pytest.fixture(scope='module')
def official(tmp_path_factory):
    try:
        return official_module(tmp_path_factory.mktemp('vjepa2_official'))
    except OfficialCodeMissing as missing:
        pytest.skip(str(missing))


def save_official_layout(path, encoder_entry: str, encoder, decoy) -> None:
    """Save a training checkpoint as released: wrapped keys, the other encoder, a predictor."""
    other = 'target_encoder' if encoder_entry == 'ema_encoder' else 'ema_encoder'
    torch.save({encoder_entry: {OFFICIAL_PREFIX + k: v for k, v in
                                encoder.state_dict().items()},
                other: {OFFICIAL_PREFIX + k: v for k, v in decoy.state_dict().items()},
                'predictor': {OFFICIAL_PREFIX + 'predictor_embed.weight': torch.zeros(4, 4)},
                'epoch': 3}, path)


def check_equal_to_official(official, tmp_path, model_size: str) -> None:
    torch.manual_seed(0)
    reference = perturb_vectors(official_encoder(official, model_size), embeddings=True)
    decoy = perturb_vectors(official_encoder(official, model_size), embeddings=True)
    path = tmp_path / f'vjepa2_1_{model_size}.pt'
    save_official_layout(path, get_encoder_config(model_size, '2.1').checkpoint_key, reference,
                         decoy)
    ours = build_encoder(model_size, model_version='2.1', checkpoint=path)
    assert ours.weights_source.endswith(f'[{ours.config.checkpoint_key}]')
    # The released resolution costs most in the wide models; its RoPE path is the same code at
    # every width, so the tiny model covers it.
    for shape in CLIPS if model_size == 'tiny' else CLIPS[:2]:
        clip = torch.randn(shape)
        with torch.no_grad():
            reference.return_hierarchical = False
            expected = reference(clip)
            reference.return_hierarchical = True
            expected_hierarchical = reference(clip)
            assert relative_error(ours(clip), expected) < PARITY, shape
            assert relative_error(ours(clip, hierarchical=True), expected_hierarchical) < PARITY
    if model_size == 'tiny':  # the MLX port against the official code, one clip and one image
        from vjepa_nodes.perception.mlx_backend import MlxEncoderRunner
        mlx = MlxEncoderRunner.from_torch(ours)
        for shape in CLIPS[:2]:
            clip = torch.randn(shape)
            reference.return_hierarchical = False
            with torch.no_grad():
                assert relative_error(mlx(clip), reference(clip)) < PARITY, shape


@pytest.mark.parametrize('model_size', ['tiny', 'base'])
def test_equals_the_official_code_from_an_official_layout_file(official, tmp_path, model_size):
    check_equal_to_official(official, tmp_path, model_size)


@pytest.mark.slow
def test_vit_large_equals_the_official_code(official, tmp_path):
    check_equal_to_official(official, tmp_path, 'large')


@pytest.mark.parametrize('model_size', sorted(ENCODER_CONFIGS_2_1))
def test_every_size_has_the_official_parameter_names_and_shapes(official, model_size,
                                                                monkeypatch):
    # Shapes only, on the meta device (ViT-G's weights would take 7 GB): the official
    # constructor reads its drop-path rates with .item(), which needs real tensors.
    linspace = torch.linspace
    monkeypatch.setattr(torch, 'linspace', lambda *args, **kwargs: linspace(
        *args, **{**kwargs, 'device': 'cpu'}))
    with torch.device('meta'):
        reference = official_encoder(official, model_size)
        ours = VJepa2Encoder(get_encoder_config(model_size, '2.1'))
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()}


def test_a_file_of_the_other_version_is_refused_saying_which_it_looks_like(tmp_path):
    v2, v21 = (build_encoder('tiny', model_version=version, allow_random_weights=True)
               for version in ('2', '2.1'))
    torch.save({'encoder': v2.state_dict()}, tmp_path / 'v2.pt')
    torch.save({'ema_encoder': v21.state_dict()}, tmp_path / 'v21.pt')
    with pytest.raises(CheckpointError, match=r"does not fit V-JEPA 2\.1 model_size='tiny'; it "
                       r"looks like model_size='tiny' \(width 160, 2 blocks\) of V-JEPA 2 "
                       r"\(model_version='2'\)"):
        build_encoder('tiny', model_version='2.1', checkpoint=tmp_path / 'v2.pt',
                      checkpoint_key='encoder')
    with pytest.raises(CheckpointError, match=r"of V-JEPA 2\.1 \(model_version='2\.1'\)"):
        build_encoder('tiny', checkpoint=tmp_path / 'v21.pt', checkpoint_key='ema_encoder')


def test_clip_shapes_the_official_code_gets_wrong_are_refused():
    encoder = build_encoder('tiny', model_version='2.1', allow_random_weights=True)
    with pytest.raises(ValueError, match='needs at least 2 patches'):
        encoder(torch.randn(1, 3, 2, 16, 48))  # the official code divides by zero here
    with pytest.raises(ValueError, match=r'3 frames is not a positive multiple of 2 \(or 1'):
        encoder(torch.randn(1, 3, 3, 32, 32))  # the official code drops the third frame
    with pytest.raises(ValueError, match='V-JEPA 2 has no hierarchical features'):
        build_encoder('tiny', allow_random_weights=True)(torch.randn(1, 3, 2, 32, 32),
                                                         hierarchical=True)


def test_the_sizes_and_their_release_entries():
    sizes = {name: (c.embed_dim, c.depth, c.num_heads, c.mlp_hidden_dim, c.checkpoint_key)
             for name, c in ENCODER_CONFIGS_2_1.items() if c.released}
    assert sizes == {'base': (768, 12, 12, 3072, 'ema_encoder'),
                     'large': (1024, 24, 16, 4096, 'ema_encoder'),
                     'giant': (1408, 40, 22, 6144, 'target_encoder'),
                     'gigantic': (1664, 48, 26, 8192, 'target_encoder')}
    with pytest.raises(ValueError, match="unknown model_size 'huge' for V-JEPA 2.1"):
        get_encoder_config('huge', '2.1')
    with pytest.raises(ValueError, match="unknown model_version '3'"):
        get_encoder_config('large', '3')


def test_the_detector_takes_a_version_and_a_size_of_that_version():
    config = DetectorConfig(model_version=2.1, model_size='base')  # as YAML or -p give it
    assert config.model_version == '2.1' and config.checkpoint_entry is None
    assert DetectorConfig(checkpoint_key='target_encoder').checkpoint_entry == 'target_encoder'
    with pytest.raises(ValueError, match="unknown model_size 'base' for V-JEPA 2;"):
        DetectorConfig(model_size='base')
    with pytest.raises(ValueError, match='model_version=.3. is not allowed'):
        DetectorConfig(model_version='3')


def test_the_onnxruntime_backend_runs_a_vjepa21_export_like_torch(tmp_path):
    settings = {'model_version': '2.1', 'model_size': 'tiny', 'img_size': 64, 'num_frames': 4,
                'stride': 2, 'device': 'cpu', 'allow_random_weights': True}
    with_torch = ObstacleDetector(**settings)
    with_onnx = ObstacleDetector(**settings, backend='onnxruntime', cache_dir=str(tmp_path))
    frames = torch.randint(0, 255, (6, 240, 320, 3), dtype=torch.uint8).numpy()
    for index, frame in enumerate(frames):
        for detector in (with_torch, with_onnx):
            detector.add_frame(frame, index / 10)
        ours, theirs = with_torch.detect(), with_onnx.detect()
        if ours is not None:
            assert relative_error(theirs.features, ours.features) < PARITY
    (sidecar,) = tmp_path.glob('*/encoder.json')
    assert '"model_version": "2.1"' in sidecar.read_text()
