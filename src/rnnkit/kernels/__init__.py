"""Fused sequence kernels: the forward pass through time and a hand-written backward pass (BPTT).

Each kernel is a ``torch.autograd.Function`` that runs a whole sequence for one built-in cell, after the
input projections ``x_t W_ih^T + b`` of all steps have been computed in one matmul outside it.
"""
