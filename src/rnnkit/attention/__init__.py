"""Attention: one module per score function, each ``forward(query (B, Hq), keys (B, S, Hk), mask (B, S),
values=None) -> (context (B, Hv), weights (B, S))``; and query-less attention pooling (HAN)."""

from rnnkit.attention.additive import AdditiveAttention
from rnnkit.attention.base import Attention
from rnnkit.attention.dot import DotAttention
from rnnkit.attention.general import GeneralAttention
from rnnkit.attention.masking import lengths_to_mask, masked_softmax
from rnnkit.attention.pooling import AttentionPooling

__all__ = [
    "AdditiveAttention",
    "Attention",
    "AttentionPooling",
    "DotAttention",
    "GeneralAttention",
    "lengths_to_mask",
    "masked_softmax",
]
