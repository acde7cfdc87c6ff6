"""RFC-0002: intent graphs (parents, children, dependencies, ready/blocked, graph view)."""

from __future__ import annotations

import pytest
from openintent.exceptions import ConflictError, NotFoundError, ValidationError
from openintent.models import EventType, IntentStatus

from sdkhelpers import complete, event_types, ids, new_intent, unique


def test_create_child_intent_and_hierarchy_queries(client):
    parent = new_intent(client, title=unique("parent"))
    child_a = client.create_child_intent(parent.id, unique("child-a"), description="first")
    child_b = client.create_child_intent(
        parent.id, unique("child-b"), initial_state={"x": 1}, constraints={"max": 2}
    )
    grandchild = client.create_child_intent(child_a.id, unique("grandchild"))

    assert child_a.parent_intent_id == parent.id
    assert child_a.status == IntentStatus.DRAFT
    assert child_a.version == 1
    assert child_a.description == "first"
    assert child_b.state.to_dict() == {"x": 1}
    assert child_b.constraints == {"max": 2}
    assert grandchild.parent_intent_id == child_a.id
    assert client.get_intent(grandchild.id).parent_intent_id == child_a.id

    assert sorted(ids(client.get_children(parent.id))) == sorted([child_a.id, child_b.id])
    assert ids(client.get_children(child_a.id)) == [grandchild.id]
    assert client.get_children(grandchild.id) == []

    assert sorted(ids(client.get_descendants(parent.id))) == sorted(
        [child_a.id, child_b.id, grandchild.id]
    )
    assert ids(client.get_descendants(child_b.id)) == []

    # Nearest first, up to the root.
    assert ids(client.get_ancestors(grandchild.id)) == [child_a.id, parent.id]
    assert ids(client.get_ancestors(child_b.id)) == [parent.id]
    assert client.get_ancestors(parent.id) == []


def test_create_intent_with_parent_id(client):
    parent = new_intent(client)
    child = client.create_intent(title=unique("via-create"), parent_intent_id=parent.id)
    assert child.parent_intent_id == parent.id
    assert child.id in ids(client.get_children(parent.id))


def test_child_of_unknown_parent_is_not_found(client):
    with pytest.raises(NotFoundError):
        client.create_child_intent("missing-" + unique("p"), unique("orphan"))


def test_create_intent_with_depends_on(client):
    first = new_intent(client)
    second = new_intent(client)
    dependent = client.create_intent(title=unique("dependent"), depends_on=[first.id, second.id])
    assert sorted(dependent.depends_on) == sorted([first.id, second.id])
    assert sorted(ids(client.get_dependencies(dependent.id))) == sorted([first.id, second.id])
    assert ids(client.get_dependents(first.id)) == [dependent.id]


def test_add_and_remove_dependency_with_versions(client):
    upstream = new_intent(client)
    downstream = new_intent(client)

    added = client.add_dependency(downstream.id, upstream.id, downstream.version)
    assert added.depends_on == [upstream.id]
    assert added.version == downstream.version + 1
    assert ids(client.get_dependencies(downstream.id)) == [upstream.id]
    assert ids(client.get_dependents(upstream.id)) == [downstream.id]
    assert client.get_dependencies(upstream.id) == []
    # The dependency's own version does not move.
    assert client.get_intent(upstream.id).version == upstream.version

    with pytest.raises(ConflictError) as caught:
        client.remove_dependency(downstream.id, upstream.id, downstream.version)
    assert caught.value.current_version == added.version

    removed = client.remove_dependency(downstream.id, upstream.id, added.version)
    assert removed.depends_on == []
    assert removed.version == added.version + 1
    assert client.get_dependencies(downstream.id) == []
    assert client.get_dependents(upstream.id) == []

    types = event_types(client, downstream.id)
    assert "dependency_added" in types
    assert "dependency_removed" in types
    added_events = client.get_events(downstream.id, event_type=EventType.DEPENDENCY_ADDED)
    assert len(added_events) == 1
    assert upstream.id in str(added_events[0].payload)


def test_add_dependency_with_stale_version_conflicts(client):
    upstream = new_intent(client)
    downstream = new_intent(client)
    downstream = client.update_state(downstream.id, downstream.version, {"k": 1})
    with pytest.raises(ConflictError) as caught:
        client.add_dependency(downstream.id, upstream.id, 1)
    assert caught.value.current_version == downstream.version
    assert client.get_dependencies(downstream.id) == []


def test_dependency_cycle_is_rejected(client):
    a = new_intent(client)
    b = new_intent(client)
    c = new_intent(client)
    b = client.add_dependency(b.id, a.id, b.version)  # b -> a
    c = client.add_dependency(c.id, b.id, c.version)  # c -> b -> a

    a_now = client.get_intent(a.id)
    with pytest.raises(ValidationError):
        client.add_dependency(a.id, c.id, a_now.version)  # a -> c would close the loop
    with pytest.raises(ValidationError):
        client.add_dependency(a.id, b.id, a_now.version)
    with pytest.raises(ValidationError):
        client.add_dependency(a.id, a.id, a_now.version)  # self-dependency

    after = client.get_intent(a.id)
    assert after.version == a_now.version
    assert after.depends_on == []
    assert client.get_dependencies(a.id) == []


def test_dependency_on_unknown_intent_is_not_found(client):
    intent = new_intent(client)
    with pytest.raises(NotFoundError):
        client.add_dependency(intent.id, "missing-" + unique("d"), intent.version)
    assert client.get_intent(intent.id).version == intent.version


def test_ready_and_blocked_children(client):
    parent = new_intent(client)
    first = client.create_child_intent(parent.id, unique("first"))
    second = client.create_child_intent(parent.id, unique("second"), depends_on=[first.id])
    assert second.depends_on == [first.id]

    ready = ids(client.get_ready_intents(parent.id))
    blocked = ids(client.get_blocked_intents(parent.id))
    assert first.id in ready
    assert second.id not in ready
    assert second.id in blocked
    assert first.id not in blocked

    complete(client, client.get_intent(first.id))

    ready = ids(client.get_ready_intents(parent.id))
    blocked = ids(client.get_blocked_intents(parent.id))
    assert second.id in ready
    assert second.id not in blocked


def test_intent_graph(client):
    root = new_intent(client)
    left = client.create_child_intent(root.id, unique("left"))
    right = client.create_child_intent(root.id, unique("right"), depends_on=[left.id])
    complete(client, client.get_intent(left.id))

    graph = client.get_intent_graph(root.id)
    assert isinstance(graph, dict)
    assert "nodes" in graph and "edges" in graph, graph
    node_ids = {node["id"] if isinstance(node, dict) else node for node in graph["nodes"]}
    assert {root.id, left.id, right.id} <= node_ids
    assert len(graph["edges"]) >= 3  # two parent edges and one dependency edge
    flat = str(graph["edges"])
    assert left.id in flat and right.id in flat


def test_graph_queries_on_unknown_intent_are_not_found(client):
    missing = "missing-" + unique("g")
    for query in (
        client.get_children,
        client.get_descendants,
        client.get_ancestors,
        client.get_dependencies,
        client.get_dependents,
        client.get_ready_intents,
        client.get_blocked_intents,
        client.get_intent_graph,
    ):
        with pytest.raises(NotFoundError):
            query(missing)
