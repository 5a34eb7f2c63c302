"""The protocol's values: what a student's code returns reaches the judge as plain data of exact
types, or as a handle that can only be called and read; oversized messages are skipped."""

import collections
import os
import threading

import numpy as np
import pytest

from autograder.grading.protocol import (MAX_MESSAGE, AnswerTooLarge, Handle, NotPlainData, Peer, Policy, Remote, take)


class Worker(Peer):
    handle_type = Remote


class EqualsAnything:
    asked = []

    def __eq__(self, other):
        EqualsAnything.asked.append("eq")
        return True

    def __bool__(self):
        EqualsAnything.asked.append("bool")
        return True

    def __hash__(self):
        EqualsAnything.asked.append("hash")
        return 0

    def method(self):
        return "plain"


class Text(str):
    def __eq__(self, other):
        return True


class Array(np.ndarray):
    def __eq__(self, other):
        return True


class Truthy(int):
    def __eq__(self, other):
        return True


Pair = collections.namedtuple("Pair", "z p_value")


def answers():
    return {"anything": EqualsAnything(), "text": Text("x"), "array": np.zeros(3).view(Array), "int": Truthy(0),
            "pair": Pair(1.5, 0.25), "dict": collections.OrderedDict(a=Truthy(1)), "float64": np.float64(2.5),
            "chunks": (i for i in range(3)), "list": [1, 2]}


@pytest.fixture
def judge():
    to_worker_r, to_worker_w = os.pipe()
    to_judge_r, to_judge_w = os.pipe()
    worker = Worker(to_worker_r, to_judge_w, Policy(lookup=answers()))
    thread = threading.Thread(target=lambda: _serve(worker), daemon=True)
    thread.start()
    peer = Peer(to_judge_r, to_worker_w, Policy(public_only=True, setattr=False))
    yield peer, worker
    os.close(to_worker_w)
    thread.join(5)
    for fd in (to_worker_r, to_judge_w, to_judge_r):
        os.close(fd)


def _serve(worker):
    try:
        worker.serve_forever()
    except Exception:  # noqa: BLE001 - the judge closed its end
        pass


def test_an_object_that_equals_anything_decides_nothing(judge):
    peer, _ = judge
    EqualsAnything.asked.clear()
    got = peer.request("lookup", name="anything")
    assert isinstance(got, Handle)
    for operation in (lambda: got == "e3b0", lambda: got != 1, lambda: bool(got), lambda: hash(got),
                      lambda: len(got), lambda: next(got), lambda: 1 in got, lambda: got < 2, lambda: got[0]):
        with pytest.raises(NotPlainData, match="EqualsAnything object where plain data was expected"):
            operation()
    assert "EqualsAnything" in repr(got) and f"{got}" == repr(got)
    assert got.method() == "plain", "calling a method and reading its plain answer is allowed"
    assert EqualsAnything.asked == [], "no comparison, truth test or hash of the object ran in the worker"


def test_subclasses_arrive_as_their_plain_base(judge):
    peer, _ = judge
    text, array, number = (peer.request("lookup", name=n) for n in ("text", "array", "int"))
    assert type(text) is str and text == "x" and text != "y"
    assert type(array) is np.ndarray and not (array == 1).any()
    assert type(number) is int and number == 0 and number != 5
    ordered = peer.request("lookup", name="dict")
    assert type(ordered) is dict and type(ordered["a"]) is int and ordered != {"a": 2}
    pair = peer.request("lookup", name="pair")
    assert pair == (1.5, 0.25) and pair.p_value == 0.25 and pair != (0, 0) and type(pair) is not Pair
    assert type(peer.request("lookup", name="float64")) is np.float64, "NumPy scalars cross as such"


def test_a_generator_is_read_only_through_take(judge):
    peer, _ = judge
    chunks = peer.request("lookup", name="chunks")
    with pytest.raises(NotPlainData):
        next(chunks)
    assert take(chunks, 2, iterator=True) == [0, 1] and list(chunks) == [2]
    with pytest.raises(TypeError, match="where an iterator"):
        take(peer.request("lookup", name="list"), iterator=True)


def test_an_oversized_message_is_skipped_and_the_next_one_read(judge):
    peer, worker = judge
    too_big = b"x" * (MAX_MESSAGE + 1)
    writer = threading.Thread(target=lambda: _write_all(worker.wfd, b"%010d" % len(too_big) + too_big))
    writer.start()
    with pytest.raises(AnswerTooLarge, match="answer too large"):
        peer.receive()
    writer.join()
    assert peer.request("lookup", name="list") == [1, 2], "the stream stays in step after the skipped message"


def test_an_answer_too_large_to_send_fails_that_call_only(judge):
    peer, worker = judge
    worker.policy.lookup["huge"] = b"y" * MAX_MESSAGE
    with pytest.raises(AnswerTooLarge):
        peer.request("lookup", name="huge")
    assert peer.request("lookup", name="list") == [1, 2]


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
