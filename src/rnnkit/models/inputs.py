"""The input side of a sequence model: token ids through an embedding, or real-valued channels as they are."""

from __future__ import annotations

from torch import Tensor, nn


class SequenceInput(nn.Module):
    """Turns the model's input into ``(B, T, output_size)`` features.

    Tokens: ``LongTensor (B, T)`` of ids in ``[0, vocab_size)``, embedded (the padding id's row is zero
    and gets no gradient). Real-valued: ``FloatTensor (B, T, input_size)``, e.g. a multichannel time
    series, passed through unchanged. Set exactly one of ``vocab_size`` and ``input_size``.
    """

    def __init__(
        self, vocab_size: int | None, input_size: int | None, embedding_dim: int, padding_idx: int
    ) -> None:
        super().__init__()
        if (vocab_size is None) == (input_size is None):
            raise ValueError(
                f"SequenceInput: set exactly one of vocab_size ({vocab_size}) and input_size ({input_size})"
            )
        self.vocab_size, self.input_size = vocab_size, input_size
        if vocab_size is not None:
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
            self.output_size = embedding_dim
        else:
            self.embedding = None
            self.output_size = input_size

    def forward(self, inputs: Tensor) -> Tensor:
        if self.embedding is not None:
            check_integer_tensor(inputs, "token input", ("B", "T"))
            if inputs.numel() and (int(inputs.min()) < 0 or int(inputs.max()) >= self.vocab_size):
                raise ValueError(
                    f"token ids must be in [0, {self.vocab_size}), got min {int(inputs.min())}, max {int(inputs.max())}"
                )
            return self.embedding(inputs)  # (B, T, E)
        if inputs.dim() != 3 or inputs.size(2) != self.input_size or not inputs.dtype.is_floating_point:
            raise ValueError(
                f"real-valued input must be a float tensor (B, T, {self.input_size}), "
                f"got {inputs.dtype} {tuple(inputs.shape)}"
            )
        return inputs


def check_integer_tensor(x: Tensor, name: str, dims: tuple[str, ...]) -> None:
    """``x`` is an integer tensor with one dimension per name in ``dims`` (ids, labels); the error shows both."""
    if x.dim() != len(dims) or x.dtype.is_floating_point:
        shape = f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"
        raise ValueError(f"{name} must be an integer tensor {shape}, got {x.dtype} {tuple(x.shape)}")
