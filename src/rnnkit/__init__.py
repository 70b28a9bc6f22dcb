"""rnnkit: recurrent neural networks on PyTorch, from the textbook equations to trained models.

The layers of the package (each imports only those before it):

- :mod:`rnnkit.kernels`: whole-sequence passes with hand-written backpropagation through time;
- :mod:`rnnkit.cells`: one step of each cell, written as its equations (``torch.nn`` weight layout);
- :mod:`rnnkit.layers`: ``Recurrent(cell)`` and the drop-ins ``RNN``, ``LSTM``, ``GRU``;
- :mod:`rnnkit.attention`, :mod:`rnnkit.models`, :mod:`rnnkit.decoding`, :mod:`rnnkit.losses`,
  :mod:`rnnkit.metrics`;
- :mod:`rnnkit.data`, :mod:`rnnkit.training`, :mod:`rnnkit.tasks` and the ``rnnkit`` command line.
"""

from rnnkit import attention, decoding, losses, metrics
from rnnkit.cells import (
    DeepTransition,
    GRUCell,
    LSTMCell,
    LSTMState,
    MinimalGRUCell,
    RecurrentCell,
    RNNCell,
)
from rnnkit.decoding import beam_search, greedy, sample
from rnnkit.layers import GRU, LSTM, RNN, Recurrent
from rnnkit.models import (
    ConditionalGenerator,
    ConditionalGeneratorConfig,
    HANConfig,
    HierarchicalAttentionNetwork,
    LanguageModel,
    LanguageModelConfig,
    ReNetClassifier,
    ReNetClassifierConfig,
    ReNetLayer,
    Seq2Seq,
    Seq2SeqConfig,
    SequenceClassifier,
    SequenceClassifierConfig,
    SequenceTagger,
    SequenceTaggerConfig,
)

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "ConditionalGenerator",
    "ConditionalGeneratorConfig",
    "DeepTransition",
    "GRUCell",
    "HANConfig",
    "HierarchicalAttentionNetwork",
    "LSTMCell",
    "LSTMState",
    "LanguageModel",
    "LanguageModelConfig",
    "MinimalGRUCell",
    "RNNCell",
    "ReNetClassifier",
    "ReNetClassifierConfig",
    "ReNetLayer",
    "Recurrent",
    "RecurrentCell",
    "Seq2Seq",
    "Seq2SeqConfig",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "SequenceTagger",
    "SequenceTaggerConfig",
    "attention",
    "beam_search",
    "decoding",
    "greedy",
    "losses",
    "metrics",
    "sample",
]
