"""Arbitrary signed bodies never get a 5xx and never raise inside a request."""

import json
import logging
import os
import re

import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PAGE, PERSON

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ids = st.one_of(st.sampled_from([PAGE, PERSON, "0", ""]), st.integers(), st.text(max_size=5))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
# Shapes close to Meta's, so the fuzzing reaches deep into the parser and the pipeline.
party = st.one_of(st.fixed_dictionaries({"id": ids}), json_values)
message = st.fixed_dictionaries(
    {},
    optional={
        "mid": st.one_of(st.text(max_size=8), st.integers()),
        "text": st.one_of(st.text(max_size=30), json_values),
        "is_echo": st.one_of(st.booleans(), json_values),
        "app_id": st.one_of(st.integers(), st.text(max_size=5)),
        "attachments": st.one_of(st.lists(json_values, max_size=2), json_values),
        "quick_reply": json_values,
    },
)
item = st.fixed_dictionaries(
    {},
    optional={
        "sender": party,
        "recipient": party,
        "timestamp": st.one_of(st.integers(), json_values),
        "message": st.one_of(message, json_values),
        "postback": json_values,
        "delivery": json_values,
    },
)
entry = st.fixed_dictionaries(
    {},
    optional={
        "id": ids,
        "messaging": st.one_of(st.lists(item, max_size=3), json_values),
        "standby": st.lists(item, max_size=2),
    },
)
bodies = st.fixed_dictionaries(
    {"object": st.one_of(st.just("page"), json_values)},
    optional={"entry": st.one_of(st.lists(entry, max_size=3), json_values)},
)


def _answer_everything(graph):
    graph.add(responses.POST, re.compile(r".*/messages"), json={"message_id": "m_out"})
    graph.add(responses.GET, re.compile(r".*/conversations.*"), json={"data": []})


def _no_escaped_exception(caplog):
    assert not [r for r in caplog.records if r.exc_info], caplog.text


@FUZZ
@given(body=bodies)
def test_meta_like_shapes(post, graph, caplog, body):
    _answer_everything(graph)
    caplog.clear()
    caplog.set_level(logging.INFO)
    raw = json.dumps(body).encode()
    assert post(raw).status_code in (200, 400)
    _no_escaped_exception(caplog)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes(post, graph, caplog, raw):
    _answer_everything(graph)
    caplog.clear()
    assert post(raw).status_code in (200, 400)
    _no_escaped_exception(caplog)
