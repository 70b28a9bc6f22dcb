import collections
import json
import sys

import pytest
import torch

from rnnkit.training.serialize import flatten, map_tensors, unflatten

State = collections.namedtuple("State", ["h", "c"])
sys.modules[__name__].State = State  # findable by module and name, as a library's state class is


def _round_trip(value, prefix="x"):
    tensors, layout = flatten(value, prefix)
    return unflatten(json.loads(json.dumps(layout)), tensors)


def test_optimizer_state_round_trips_exactly():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = opt.state_dict()
    again = _round_trip(state, "optimizer")
    assert again["param_groups"] == state["param_groups"]  # tuples stay tuples, int keys stay ints
    assert again["state"].keys() == state["state"].keys()
    for i in state["state"]:
        for key, value in state["state"][i].items():
            assert torch.equal(again["state"][i][key], value)
    fresh = torch.optim.Adam(model.parameters())
    fresh.load_state_dict(again)
    assert fresh.param_groups[0]["betas"] == (0.8, 0.9)


def test_named_tuple_carry_keeps_its_class_and_shared_storage_is_split():
    buffer = torch.randn(2, 3, 4)
    carry = State(h=buffer[0], c=buffer[1])  # views of one storage, as a fused kernel may return
    tensors, _ = flatten(carry, "carry")
    ptrs = {t.untyped_storage().data_ptr() for t in tensors.values()}
    assert len(ptrs) == 2
    again = _round_trip(carry)
    assert type(again) is State and torch.equal(again.h, carry.h) and torch.equal(again.c, carry.c)


def test_named_tuple_of_an_unimported_module_becomes_an_equivalent_one():
    tensors, layout = flatten(State(torch.ones(1), torch.zeros(1)), "carry")
    layout["module"] = "not_a_loaded_module"
    again = unflatten(layout, tensors)
    assert again._fields == ("h", "c") and torch.equal(again.h, torch.ones(1))


def test_python_random_state_round_trips():
    import random

    state = random.getstate()
    assert _round_trip(state) == state


def test_unsupported_values_are_named():
    with pytest.raises(TypeError, match=r"cannot store 'carry/1' of type set"):
        flatten((torch.ones(1), {1, 2}), "carry")


def test_map_tensors_keeps_structure():
    value = {"a": [torch.ones(1), None], "b": State(torch.ones(1), torch.ones(1))}
    doubled = map_tensors(lambda t: t * 2, value)
    assert type(doubled["b"]) is State and doubled["a"][1] is None and doubled["a"][0].item() == 2
