"""Models: one per recurrent topology (seed 004), each built from rnnkit's own layers.

- one-to-one: no recurrence (see below);
- one-to-many: :class:`ConditionalGenerator`, a sequence from a vector or a label (captioning's shape);
- many-to-one: :class:`SequenceClassifier`, tokens or a real-valued series to classes or values;
  :class:`HierarchicalAttentionNetwork`, documents of sentences to classes;
- many-to-many, synchronous: :class:`SequenceTagger`, a label per step; :class:`LanguageModel`, the
  next token at each step;
- many-to-many of different lengths: :class:`Seq2Seq`, encoder-decoder with attention (translation, chat);
- 2-D: :class:`ReNetLayer`, :class:`ReNetClassifier`, four directions over an image.

*One-to-one* is the degenerate case: one input, one output, nothing carried from step to step, so no
recurrence at all. It is a feed-forward network (an ``nn.Linear`` or an MLP, image classification in
seed 004's figure); a recurrent model run on a sequence of length 1 computes the same kind of function,
``y = g(W_ya g(W_ax x + b_a) + b_y)`` with ``a_0 = 0``. No class is provided for it: ``torch.nn`` has it.

Every model takes a typed config (``Model(config)``, kept as ``model.config``) and takes batch-first
input with lengths; padding never changes a result. Models that attend return the attention weights.
Each config picks its ``cell`` and rnnkit's cell and layer options (:class:`RecurrentOptions`: layer
norm, peepholes, forget bias, recurrent dropout, zoneout), built by :func:`recurrent_layer`.
"""

from rnnkit.models.classifier import ClassifierOutput, SequenceClassifier, SequenceClassifierConfig
from rnnkit.models.conditional_generator import (
    ConditionalGenerator,
    ConditionalGeneratorConfig,
    GeneratorState,
)
from rnnkit.models.han import HANConfig, HANOutput, HierarchicalAttentionNetwork
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig, LanguageModelOutput
from rnnkit.models.pooling import SequencePooling
from rnnkit.models.recurrence import RecurrentConfig, RecurrentOptions, recurrent_layer
from rnnkit.models.renet import ReNetClassifier, ReNetClassifierConfig, ReNetLayer
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig, Seq2SeqOutput, Seq2SeqState
from rnnkit.models.tagger import SequenceTagger, SequenceTaggerConfig

__all__ = [
    "ClassifierOutput",
    "ConditionalGenerator",
    "ConditionalGeneratorConfig",
    "GeneratorState",
    "HANConfig",
    "HANOutput",
    "HierarchicalAttentionNetwork",
    "LanguageModel",
    "LanguageModelConfig",
    "LanguageModelOutput",
    "ReNetClassifier",
    "ReNetClassifierConfig",
    "ReNetLayer",
    "RecurrentConfig",
    "RecurrentOptions",
    "Seq2Seq",
    "Seq2SeqConfig",
    "Seq2SeqOutput",
    "Seq2SeqState",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "SequencePooling",
    "SequenceTagger",
    "SequenceTaggerConfig",
    "recurrent_layer",
]
