"""Recurrent cells: one time step each, written as its equations, with ``torch.nn`` weight names.

The cell contract (what ``rnnkit.layers.Recurrent`` needs from a cell) is in :mod:`rnnkit.cells.base`.
"""

from rnnkit.cells.base import RecurrentCell, RNNCellBase, scan_steps
from rnnkit.cells.deep_transition import DeepTransition
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.minimal_gru import MinimalGRUCell
from rnnkit.cells.rnn import RNNCell
from rnnkit.cells.state import LSTMState, State, map_state, state_leaves

__all__ = [
    "DeepTransition",
    "GRUCell",
    "LSTMCell",
    "LSTMState",
    "MinimalGRUCell",
    "RNNCell",
    "RNNCellBase",
    "RecurrentCell",
    "State",
    "map_state",
    "scan_steps",
    "state_leaves",
]
