"""compare.arithmetic: exact conv/pool arithmetic (pure Python, no Keras)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from compare import arithmetic as ar


def test_worked_example_from_the_reference():
    # 32x32x3 input, ten 5x5x3 filters, stride 1, pad 2 -> 32x32x10, 10 * (5*5*3 + 1) = 760 params
    assert ar.conv_output_size(32, 5, 1, 2) == 32
    assert ar.conv_params((5, 5), 3, 10) == 760
    assert ar.conv_layer((32, 32, 3), filters=10, kernel=5, stride=1, pad=2) == ((32, 32, 10), 760)


def test_layer_that_does_not_fit_shows_the_arithmetic():
    with pytest.raises(ValueError) as err:
        ar.conv_output_size(7, 3, 3, 0)
    assert "(7 - 3 + 0)/3 + 1 = 2.33 is not an integer" in str(err.value)


def test_floor_and_ceil_on_purpose():
    assert ar.conv_output_size(7, 3, 3, 0, rounding="floor") == 2
    assert ar.conv_output_size(7, 3, 3, 0, rounding="ceil") == 3
    # ZFNet's 3x3/2 max-pools use ceil: 110 -> 55 and 26 -> 13 (floor would give 54 and 12)
    assert ar.conv_output_size(110, 3, 2, rounding="ceil") == 55
    assert ar.conv_output_size(110, 3, 2, rounding="floor") == 54
    assert ar.conv_output_size(26, 3, 2, rounding="ceil") == 13
    # Caffe drops a last window that would start in the padding only: 6x6, 2x2/2, pad 1
    assert ar.conv_output_size(6, 2, 2, 1, rounding="ceil") == 4
    with pytest.raises(ValueError, match="rounding must be one of exact, floor, ceil"):
        ar.conv_output_size(7, 3, 3, rounding="round")


def test_classic_layers_fit_exactly():
    assert ar.conv_output_size(227, 11, 4) == 55          # AlexNet conv1
    assert ar.conv_output_size(55, 3, 2) == 27            # AlexNet pool1
    assert ar.conv_output_size(224, 7, 2, (2, 3)) == 112  # ResNet conv1 with TF's 'same' padding
    assert ar.conv_output_size(32, 3, 1, 1, dilation=2) == 30


def test_same_and_valid_padding():
    assert ar.padded_output_size(224, 7, 2, "same") == 112
    assert ar.padded_output_size(224, 7, 2, "valid") == 109
    assert ar.padded_output_size(7, 3, 3, "valid") == 2
    assert ar.same_padding(224, 7, 2) == (2, 3)
    assert ar.same_padding(56, 3, 1) == (1, 1)
    with pytest.raises(ValueError, match="padding must be 'same' or 'valid'"):
        ar.padded_output_size(8, 3, 1, "full")
    with pytest.raises(ValueError, match="larger than"):
        ar.conv_output_size(3, 5, 1, 0)


def test_transposed_output_size():
    assert ar.transposed_output_size(28, 3, 2, "valid") == 57
    assert ar.transposed_output_size(28, 3, 2, "same") == 56
    assert ar.transposed_output_size(28, 5, 3, "valid") == 86
    # Keras' rule with an explicit output_padding: (N - 1)S + F - 2(F // 2) + output_padding
    assert ar.transposed_output_size(28, 3, 2, "same", output_padding=1) == 56
    assert ar.transposed_output_size(28, 4, 2, "same", output_padding=0) == 54


def test_conv_params_and_macs_with_groups():
    # AlexNet conv2: 5x5, 96 -> 256, two groups, 27x27 output
    assert ar.conv_params((5, 5), 96, 256, groups=2) == 5 * 5 * 48 * 256 + 256 == 307_456
    assert ar.conv_macs((5, 5), 96, 256, (27, 27), groups=2) == 223_948_800
    assert ar.conv_params((3, 3), 64, 64, bias=False) == 36_864
    assert ar.conv_params((3, 3), 32, 32, groups=32) == 3 * 3 * 32 + 32  # depthwise
    with pytest.raises(ValueError, match="groups=3 must divide both C_in=96 and C_out=256"):
        ar.conv_params((5, 5), 96, 256, groups=3)


def test_bad_values_name_themselves():
    with pytest.raises(ValueError, match="stride must be an integer >= 1, got 0"):
        ar.conv_output_size(7, 3, 0)
    with pytest.raises(ValueError, match="pad must be an integer >= 0, got -1"):
        ar.conv_output_size(7, 3, 1, -1)


def test_receptive_field_and_jump():
    assert [(s.rf, s.jump) for s in ar.receptive_field([(3, 1)] * 3)] == [(3, 1), (5, 1), (7, 1)]
    # AlexNet conv1 11/4 - pool 3/2 - conv2 5/1 - pool 3/2 - conv3..5 3/1 - pool 3/2: 195 px, jump 32
    alexnet = [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)]
    steps = ar.receptive_field(alexnet)
    assert (steps[-1].rf, steps[-1].jump) == (195, 32)
    # a dilated 3x3 (d=2) sees 5 pixels
    assert ar.receptive_field([(3, 1, 2)])[0].rf == 5
    # centre of the first output moves with padding: 3x3 pad 1 stays centred on pixel 0
    assert ar.receptive_field([(3, 1)], pads=[1])[0].start == 0


def test_explain_one_layer():
    fits, lines = ar.explain(7, 3, 3, 0)
    text = "\n".join(lines)
    assert not fits
    assert "(7 - 3 + 0)/3 + 1 = 2.33 is not an integer" in text
    assert "floor rounding gives 2, ceil gives 3" in text
    assert "P=1" in text
    fits, lines = ar.explain(32, 5, 1, 2, channels=3, filters=10)
    assert fits
    assert "32x32x3 -> 32x32x10, params = 10*(5*5*3+1) = 760" in "\n".join(lines)


def test_no_keras_import():
    code = "import sys, compare.arithmetic; sys.exit('keras' in sys.modules)"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0
