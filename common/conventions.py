"""The counting conventions every table, listing and report states (one definition)."""

CONVENTIONS: str = (
    "params = trainable parameters (non-trainable, e.g. BatchNorm moving statistics, listed separately); "
    "MACs = multiply-accumulates of convolution and dense layers per image; FLOPs = 2 x MACs; "
    "depth = weighted layers (conv + dense) on the longest input-to-output path."
)
"""Stated once; the detailed rules and their sources are in docs/reference.md."""
