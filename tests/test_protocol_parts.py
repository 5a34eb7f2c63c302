"""Each part of the judge-worker protocol on its own: framing, values, handles, policy."""

import os
import time

import pytest

from autograder.grading.protocol.errors import AnswerTooLarge, CallTimeout, NotPlainData, PeerGone, ProtocolError
from autograder.grading.protocol.framing import MAX_MESSAGE, Framing
from autograder.grading.protocol.handles import Handle, ObjectTable, Remote, apply_dunder
from autograder.grading.protocol.policy import Policy
from autograder.grading.protocol.values import Values, decode_error, encode_error


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield Framing(r, w)
    os.close(r)
    os.close(w)


# -- framing -------------------------------------------------------------------------------------
def test_a_message_arrives_whole(pipe):
    pipe.send({"req": 1, "op": "call", "args": ["x" * 100]})
    assert pipe.receive() == {"req": 1, "op": "call", "args": ["x" * 100]}


def test_an_oversized_message_is_refused_where_it_is_made(pipe):
    with pytest.raises(AnswerTooLarge):
        pipe.send({"v": "x" * MAX_MESSAGE})


@pytest.mark.parametrize("data, complaint", [(b"12345abcde{}", "header"), (b"0000000002[]", "object"),
                                             (b"0000000002{x", "malformed message")])
def test_a_malformed_header_or_body_is_a_protocol_error(pipe, data, complaint):
    os.write(pipe.wfd, data)
    with pytest.raises(ProtocolError, match=complaint):
        pipe.receive()


def test_waiting_past_the_deadline_times_out(pipe):
    pipe.deadline = time.monotonic() + 0.05
    with pytest.raises(CallTimeout):
        pipe.receive()


def test_a_closed_pipe_is_a_gone_peer():
    r, w = os.pipe()
    os.close(w)
    with pytest.raises(PeerGone):
        Framing(r, -1).receive()
    os.close(r)


# -- values --------------------------------------------------------------------------------------
class Text(str):
    def __eq__(self, other):
        return True


def codec(handle_type=Handle):
    return Values(owner=object(), objects=ObjectTable(), handle_type=handle_type)


def test_plain_data_crosses_as_its_exact_plain_type():
    values = codec()
    got = values.decode(values.encode({"t": Text("x"), "n": (1, 2.5, float("nan")), "b": b"\0\1"}))
    assert type(got["t"]) is str and got["t"] == "x"
    assert got["n"][:2] == (1, 2.5) and got["n"][2] != got["n"][2]
    assert got["b"] == b"\0\1"


def test_other_objects_cross_as_handles_of_the_owner():
    sender, receiver = codec(), codec()
    thing = object()
    data = sender.encode(thing)
    assert data["$"] == "ref" and sender.objects[data["id"]] is thing
    assert sender.encode(thing) == data, "one object is always one handle"
    handle = receiver.decode(data)
    assert type(handle) is Handle and handle._peer is receiver.owner
    assert receiver.encode(handle) == {"$": "yours", "id": data["id"]}
    assert sender.decode({"$": "yours", "id": data["id"]}) is thing


def test_a_value_of_no_known_tag_is_refused():
    with pytest.raises(ProtocolError):
        codec().decode({"$": "pickle", "v": "..."})
    with pytest.raises(ProtocolError):
        codec().decode({"$": "yours", "id": 7})


def test_an_exception_crosses_as_its_type_and_message():
    error = decode_error(encode_error(KeyError("missing")))
    assert type(error) is KeyError and error.args == ("missing",) and error.raised_by_peer

    class Custom(ValueError):
        pass

    error = decode_error(encode_error(Custom("bad")))
    assert isinstance(error, ValueError) and type(error).__name__ == "Custom"


# -- handles -------------------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.asked = []

    def request(self, op, **payload):
        self.asked.append((op, payload))
        return "answer"


def test_a_judge_handle_forwards_calls_and_public_reads_only():
    peer = Recorder()
    handle = Handle(peer, 3, "Model object")
    assert handle(1, k=2) == "answer" and handle.predict == "answer"
    assert peer.asked == [("call", {"ref": 3, "args": [1], "kwargs": {"k": 2}}), ("getattr", {"ref": 3, "name": "predict"})]
    for use in (lambda: handle == 1, lambda: bool(handle), lambda: len(handle), lambda: hash(handle)):
        with pytest.raises(NotPlainData):
            use()
    with pytest.raises(AttributeError):
        handle._private  # noqa: B018
    assert repr(handle) == "<Model object>" and len(peer.asked) == 2


def test_a_worker_remote_forwards_everything():
    peer = Recorder()
    remote = Remote(peer, 5, "dict object")
    assert (remote == 1) == "answer" and remote["k"] == "answer"
    assert [op for op, _ in peer.asked] == ["dunder", "dunder"]
    assert peer.asked[1][1] == {"ref": 5, "name": "getitem", "args": ["k"]}


def test_the_table_keeps_one_handle_per_object():
    table, a, b = ObjectTable(), [], []
    assert table.ref_for(a) == table.ref_for(a) != table.ref_for(b)
    assert table[table.ref_for(b)] is b and 99 not in table
    assert apply_dunder([1, 2], "len", []) == 2 and apply_dunder({"k": 1}, "getitem", ["k"]) == 1


# -- policy --------------------------------------------------------------------------------------
class Secretive:
    _secret = "judge's"
    public = "fine"


def perform(policy, op, **message):
    table = ObjectTable()
    ref = table.ref_for(Secretive())
    return policy.perform(op, {"ref": ref, **message}, table, decode=lambda data: data)


def test_the_judges_policy_refuses_private_reads_and_writes():
    judge = Policy(public_only=True, setattr=False)
    assert perform(judge, "getattr", name="public") == "fine"
    with pytest.raises(AttributeError):
        perform(judge, "getattr", name="_secret")
    with pytest.raises(PermissionError):
        perform(judge, "setattr", name="public", value="changed")
    with pytest.raises(PermissionError):
        judge.perform("lookup", {"name": "x"}, ObjectTable(), decode=lambda data: data)


def test_the_workers_policy_serves_lookups_and_any_attribute():
    worker = Policy(lookup={"answer": 42})
    assert worker.perform("lookup", {"name": "answer"}, ObjectTable(), decode=lambda data: data) == 42
    assert perform(worker, "getattr", name="_secret") == "judge's"
    with pytest.raises(NameError):
        worker.perform("lookup", {"name": "missing"}, ObjectTable(), decode=lambda data: data)


def test_a_request_on_an_unknown_handle_or_op_is_refused():
    with pytest.raises(ProtocolError, match="unknown handle"):
        Policy().perform("call", {"ref": 1}, ObjectTable(), decode=lambda data: data)
    with pytest.raises(ProtocolError, match="unknown request"):
        perform(Policy(), "dunder", name="globals")
