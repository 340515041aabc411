"""The protocol client against a real HTTP server on 127.0.0.1, and against a closed port."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

import pytest

from hostwatch import protocol
from hostwatch.agent.client import (
    AgentClient,
    CredentialRejected,
    RequestRejected,
    ServerUnavailable,
)


def _heartbeat() -> protocol.HeartbeatRequest:
    return protocol.HeartbeatRequest(agent_version="test", sent_at=datetime.now(UTC))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_client_heartbeat_sends_the_credential_and_reads_the_answer(protocol_server) -> None:
    client = AgentClient(protocol_server.url, credential=protocol_server.credential)

    answer = client.heartbeat(_heartbeat())
    client.close()

    assert answer.inventory_due is True
    assert answer.heartbeat_interval == protocol_server.heartbeat_interval
    method, path, headers, _ = protocol_server.requests[-1]
    assert (method, path) == ("POST", protocol.HEARTBEAT_PATH)
    assert headers["Authorization"] == f"Bearer {protocol_server.credential}"


def test_client_maps_401_to_credential_rejected_without_the_credential(protocol_server) -> None:
    wrong = "hwd_wrong-credential-0123456789"
    protocol_server.fixed = (401, {"title": "Device credential refused", "detail": f"no {wrong}"})
    client = AgentClient(protocol_server.url, credential=wrong)

    with pytest.raises(CredentialRejected) as caught:
        client.heartbeat(_heartbeat())
    client.close()

    assert caught.value.status == 401
    assert wrong not in str(caught.value)
    assert "no ***" in str(caught.value)


def test_client_maps_connection_refused_to_server_unavailable() -> None:
    client = AgentClient(f"http://127.0.0.1:{_closed_port()}", credential="hwd_x-credential")

    with pytest.raises(ServerUnavailable, match="unreachable: ConnectError"):
        client.heartbeat(_heartbeat())
    client.close()


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_client_maps_5xx_and_429_to_server_unavailable(protocol_server, status: int) -> None:
    protocol_server.fail_status = status
    client = AgentClient(protocol_server.url, credential=protocol_server.credential)

    with pytest.raises(ServerUnavailable, match=f"{status} switched on by the test"):
        client.post_events(['{"key":"k","time":"2026-01-01T00:00:00Z","kind":"process"}'])
    client.close()


def test_client_maps_422_to_request_rejected_without_echoing_input(protocol_server) -> None:
    token = protocol_server.enroll_token
    protocol_server.fixed = (
        422,
        {
            "detail": [
                {"loc": ["body", "enroll_token"], "msg": "String too short", "input": token},
                {"loc": ["body", "host", "hostname"], "msg": "Field required"},
            ]
        },
    )
    client = AgentClient(protocol_server.url)
    request = protocol.EnrollRequest(
        enroll_token=token, host=protocol.HostFacts(hostname="h"), agent_version="test"
    )

    with pytest.raises(RequestRejected) as caught:
        client.enroll(request)
    client.close()

    assert caught.value.status == 422
    assert caught.value.detail == "enroll_token: String too short; host.hostname: Field required"
    assert token not in str(caught.value)


def test_client_answer_outside_the_protocol_is_server_unavailable(protocol_server) -> None:
    protocol_server.fixed = (200, {"unexpected": True})
    client = AgentClient(protocol_server.url, credential=protocol_server.credential)

    with pytest.raises(ServerUnavailable, match="does not match the agent protocol"):
        client.heartbeat(_heartbeat())
    client.close()


def test_client_post_events_sends_spooled_bodies_as_one_batch(protocol_server) -> None:
    bodies = [
        protocol.AgentEvent(
            key=f"k{n}", time=datetime(2026, 1, 1, tzinfo=UTC), kind="process", process_id=n
        ).model_dump_json(exclude_none=True)
        for n in range(3)
    ]
    client = AgentClient(protocol_server.url, credential=protocol_server.credential)

    first = client.post_events(bodies)
    again = client.post_events(bodies[1:])
    client.close()

    assert (first.stored, first.duplicates) == (3, 0)
    assert (again.stored, again.duplicates) == (0, 2)
    sent = json.loads(protocol_server.requests[0][3])
    assert [e["key"] for e in sent["events"]] == ["k0", "k1", "k2"]


def test_client_gzips_a_large_batch_and_leaves_a_small_one_plain(protocol_server) -> None:
    def batch(count: int) -> list[str]:
        return [
            protocol.AgentEvent(
                key=f"gz{count}-{n}",
                time=datetime(2026, 1, 1, tzinfo=UTC),
                kind="process",
                process_image="/usr/bin/python3",
                process_command_line=f"/usr/bin/python3 -m worker --job {n}",
            ).model_dump_json(exclude_none=True)
            for n in range(count)
        ]

    client = AgentClient(protocol_server.url, credential=protocol_server.credential)
    large = client.post_events(batch(200))
    small = client.post_events(batch(1))
    client.close()

    (_, _, large_headers, large_body), (_, _, small_headers, small_body) = protocol_server.requests
    assert (large.stored, small.stored) == (200, 1)
    assert large_headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in small_headers
    # The large batch crossed the wire at a fraction of its JSON size.
    assert protocol_server.wire_sizes[0] * 5 < len(large_body)
    assert protocol_server.wire_sizes[1] == len(small_body)
    assert len(json.loads(large_body)["events"]) == 200
