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
Half-precision error of V-JEPA 2.1, ours beside the official code; print a table, write JSON.

The official code computes RoPE angles in the activations' dtype, ours always in fp32. Both
encoders hold the same random weights (biases, norms and modality embeddings perturbed) and
take the same clip, in the two ways half precision is used: autocast over fp32 weights (the
official evaluation code) and weights cast to the half dtype (our detector). The reference is
the official code in fp64. docs/PERFORMANCE.md quotes a run:
    python3 scripts/vjepa21_precision.py --official-root DIR --device cuda --json OUT.json
DIR holds app/vjepa_2_1 and src of the official code, or is filled from VJEPA2_OFFICIAL_GIT.
"""

import argparse
import copy
import json
from pathlib import Path
import sys

import torch

from vjepa_nodes.device import PRECISIONS
from vjepa_nodes.encoder.config import get_encoder_config
from vjepa_nodes.encoder.onnx_export import relative_error
from vjepa_nodes.encoder.vit import VJepa2Encoder
from vjepa_nodes.tools.tables import align

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'test'))
from checkpoint_files import perturb_vectors  # noqa: E402, I100
from official_vjepa21 import official_encoder, official_module  # noqa: E402

ROWS = {name: PRECISIONS[name] for name in ('fp32', 'bf16', 'fp16')}  # in this order
COLUMNS = ('model', 'clip', 'code', 'precision', 'how', 'relative_error')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--official-root', type=Path, required=True)
    parser.add_argument('--model-sizes', default='base,large')
    parser.add_argument('--clips', default='16x256x256,16x384x384',
                        help='comma-separated FRAMESxHEIGHTxWIDTH')
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--json', type=Path)
    return parser.parse_args()


def run(model: torch.nn.Module, clip: torch.Tensor, dtype: torch.dtype,
        autocast: bool) -> torch.Tensor:
    """
    Run a copy of the fp32 model by autocast to `dtype`, or with its weights cast to `dtype`.

    A copy, so that no run starts from weights another run rounded.
    """
    model = copy.deepcopy(model)
    with torch.inference_mode():
        if autocast:
            with torch.autocast(clip.device.type, dtype=dtype):
                return model(clip)
        return model.to(dtype)(clip.to(dtype))


def rows_for(vision_transformer, model_size: str, frames: int, height: int, width: int,
             device: torch.device) -> list[dict]:
    torch.manual_seed(0)
    official = perturb_vectors(official_encoder(vision_transformer, model_size),
                               embeddings=True).to(device)
    ours = VJepa2Encoder(get_encoder_config(model_size, '2.1')).eval().to(device)
    ours.load_state_dict(official.state_dict())  # the same parameter names (tested)
    clip = torch.randn(1, 3, frames, height, width, device=device)
    with torch.inference_mode():
        reference = copy.deepcopy(official).double()(clip.double())
    base = {'model': f'2.1 {model_size}', 'clip': f'{frames}x{height}x{width}'}
    rows = []
    for precision, dtype in ROWS.items():
        for autocast in ((False,) if dtype == torch.float32 else (True, False)):
            for name, model in (('official', official), ('ours', ours)):
                row = {**base, 'code': name, 'precision': precision,
                       'how': '-' if dtype == torch.float32 else
                       'autocast' if autocast else 'weights cast'}
                try:
                    output = run(model, clip, dtype, autocast)
                    row['relative_error'] = relative_error(output, reference)
                except RuntimeError as error:  # the official code needs autocast for bf16/fp16
                    row['relative_error'], row['error'] = None, str(error).splitlines()[0]
                rows.append(row)
    return rows


def cell(row: dict, column: str) -> str:
    value = row[column]
    if column != 'relative_error':
        return value
    return 'fails' if value is None else f'{value:.2e}'


def main() -> None:
    args = parse_args()
    args.official_root.mkdir(parents=True, exist_ok=True)
    vision_transformer = official_module(args.official_root)
    device = torch.device(args.device)
    rows = []
    for model_size in args.model_sizes.split(','):
        for clip in args.clips.split(','):
            frames, height, width = (int(n) for n in clip.split('x'))
            rows += rows_for(vision_transformer, model_size, frames, height, width, device)
            print(align([COLUMNS] + [[cell(row, column) for column in COLUMNS]
                                     for row in rows[-10:]]), flush=True)
    if args.json:
        args.json.write_text(json.dumps({'device': str(device), 'torch': torch.__version__,
                                         'rows': rows}, indent=1))


if __name__ == '__main__':
    main()
