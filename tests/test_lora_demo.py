"""labkit.lora_demo: the update by hand equals peft's LoRA layer, has the rank asked for, and trains rank x (in + out)
weights."""

import pytest

from labkit.lora_demo import lora_on_one_layer


@pytest.mark.parametrize("rank", [1, 4])
def test_lora_on_one_layer_matches_peft(generator, rank):
    demo = lora_on_one_layer(generator, rank=rank)
    assert demo["max_diff_vs_peft"] < 1e-5
    assert demo["update_rank"] == rank
    assert demo["lora_params"] == rank * sum(demo["weight_shape"])
