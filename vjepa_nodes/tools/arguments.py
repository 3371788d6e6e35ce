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

"""Argument parsers shared by the command-line tools: each raises on a bad value, naming it."""

import argparse
from typing import Callable

from vjepa_nodes.device import DEVICE_CHOICES
from vjepa_nodes.encoder.config import get_encoder_config


def csv_of(kind: Callable) -> Callable[[str], list]:
    """Return a parser of comma-separated values, each parsed by `kind`."""
    def parse(text: str) -> list:
        try:
            return [kind(item) for item in text.split(',') if item]
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error))
    return parse


def resolution(text: str) -> tuple[int, int]:
    """Parse 'HxW' (or 'S' for S x S) into (height, width)."""
    height, separator, width = text.partition('x')
    sides = (int(height), int(width) if separator else int(height))
    if min(sides) < 1:
        raise ValueError(f'{text!r} is not a size: give S or HxW with positive sides')
    return sides


def choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    """Return a parser that accepts only `choices` (and cuda:N among the devices)."""
    def check(text: str) -> str:
        if text not in choices and not (choices is DEVICE_CHOICES and text.startswith('cuda:')):
            raise ValueError(f'{text!r} is not one of {", ".join(choices)}')
        return text
    return check


def model_name(text: str) -> str:
    """Check a model name: a V-JEPA 2 size ('large') or VERSION:SIZE ('2.1:base')."""
    get_encoder_config(*split_model(text))
    return text


def split_model(name: str) -> tuple[str, str]:
    """Return (model_size, model_version) of a model name ('large', '2.1:base')."""
    version, _, size = name.rpartition(':')
    return size, version or '2'
