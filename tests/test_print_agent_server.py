"""The server's side of ``/ws/printer``: a scripted agent through TestClient for the protocol
rules, then the real ``printer.agent.PrinterAgent`` against a real server process and a fake
port-9100 printer, including server restarts while a job is queued."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from printer.agent import AgentConfig, PrinterAgent
from printer.output import decode_raster
from printer.render import TicketInfo
from tests.fakeprinter import FakePrinter, refused_url
from tests.support import (
    KIOSK_TOKEN,
    ServerProcess,
    add_staff,
    http,
    login,
    write_config,
)
from tests.test_printing import (  # noqa: F401  (the fixtures are used by name)
    expected_ticket,
    issue,
    listen_on,
    make_client_fixture,
    printed_jobs,
    printer,
    quick_printing_fixture,
    same_image,
    service,
    wait_for,
)

TOKEN = "agent-token-123456"


def agent_headers() -> dict[str, str]:
    # A fresh dict each time: TestClient.websocket_connect adds its handshake headers to the
    # dict it is given, which a later real client would then send twice.
    return {"Authorization": f"Bearer {TOKEN}"}


def job_state(client: TestClient, ticket_id: int) -> str:
    return service(client).job_status(ticket_id)["state"]


# ------------------------------------------------------------------ the protocol, scripted agent


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-token-123456"}, {"Authorization": f"Bearer {KIOSK_TOKEN}"}]
)
def test_a_connection_without_the_printers_agent_token_is_refused(make_client, headers: dict[str, str]):
    client = make_client(printer("tcp://127.0.0.1:9", agent_token=TOKEN))
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws/printer", headers=headers):
        pass
    assert refused.value.code == 1008


def test_agent_gets_hello_then_the_job_and_its_result_marks_it_printed(make_client):
    client = make_client(printer("tcp://127.0.0.1:9", agent_token=TOKEN))
    with client.websocket_connect("/ws/printer", headers=agent_headers()) as ws:
        assert ws.receive_json() == {"type": "hello", "printer_id": "may-in-sanh", "width_px": 384}
        ws.send_json({"type": "status", "online": True, "paper": "low", "error": None})
        answer = issue(client)
        assert answer["print"]["state"] == "queued"
        job = ws.receive_json()
        assert job["type"] == "job" and job["width_px"] == 384
        info = TicketInfo.from_json(job["ticket"])  # what the agent renders
        assert (info.label, info.status_url, info.service_name) == (answer["label"], answer["status_url"], "Chứng thực")
        assert job_state(client, answer["id"]) == "printing"
        ws.send_json({"type": "result", "job_id": job["job_id"], "outcome": "printed", "error": None})
        wait_for(lambda: job_state(client, answer["id"]) == "printed")
        (summary,) = service(client).printers_summary()
        assert (summary["mode"], summary["agent_connected"], summary["paper"]) == ("agent", True, "low")
    wait_for(lambda: service(client).printers["may-in-sanh"].agent_connected is False)


def test_agent_gone_after_sent_fails_the_job_without_resending_and_a_late_result_settles_it(make_client):
    client = make_client(printer("tcp://127.0.0.1:9", agent_token=TOKEN))
    with client.websocket_connect("/ws/printer", headers=agent_headers()) as ws:
        ws.receive_json()
        first = issue(client)
        lost = ws.receive_json()
    wait_for(lambda: job_state(client, first["id"]) == "failed")
    assert service(client).job_status(first["id"])["error"].startswith("no confirmation")

    with client.websocket_connect("/ws/printer", headers=agent_headers()) as ws:
        ws.receive_json()
        second = issue(client)
        job = ws.receive_json()  # the failed job is not sent again: the next one is the new ticket
        assert job["ticket"]["label"] == second["label"]
        ws.send_json({"type": "result", "job_id": job["job_id"], "outcome": "printed", "error": None})
        # The agent finished the first job after all and reports it on reconnecting.
        ws.send_json({"type": "result", "job_id": lost["job_id"], "outcome": "printed", "error": None})
        wait_for(lambda: job_state(client, first["id"]) == "printed" and job_state(client, second["id"]) == "printed")


def test_nothing_sent_by_the_agent_is_retried_under_a_new_job_id_and_partial_is_not(make_client):
    client = make_client(printer("tcp://127.0.0.1:9", agent_token=TOKEN, stale_after=30))
    with client.websocket_connect("/ws/printer", headers=agent_headers()) as ws:
        ws.receive_json()
        answer = issue(client)
        first = ws.receive_json()
        ws.send_json(
            {
                "type": "result",
                "job_id": first["job_id"],
                "outcome": "failed_before_send",
                "error": "cannot connect to usb://0416:5011",
            }
        )
        again = ws.receive_json()
        assert again["job_id"] != first["job_id"] and again["ticket"] == first["ticket"]
        ws.send_json(
            {"type": "result", "job_id": again["job_id"], "outcome": "failed_partial", "error": "timed out after 5 s"}
        )
        wait_for(lambda: job_state(client, answer["id"]) == "failed")
        other = issue(client)
        nxt = ws.receive_json()  # the next job is the next ticket, not a third try
        assert nxt["ticket"]["label"] == other["label"]
    job = service(client).latest_job(answer["id"])
    assert job is not None and job.attempts == 2 and job.error == "timed out after 5 s"


def test_a_newer_agent_connection_replaces_the_older_one(make_client):
    client = make_client(printer("tcp://127.0.0.1:9", agent_token=TOKEN))
    with client.websocket_connect("/ws/printer", headers=agent_headers()) as old:
        old.receive_json()
        with client.websocket_connect("/ws/printer", headers=agent_headers()) as new:
            new.receive_json()
            with pytest.raises(WebSocketDisconnect):
                old.receive_json()
            answer = issue(client)
            job = new.receive_json()
            new.send_json({"type": "result", "job_id": job["job_id"], "outcome": "printed", "error": None})
            wait_for(lambda: job_state(client, answer["id"]) == "printed")
            assert service(client).printers["may-in-sanh"].agent_connected is True


# ------------------------------------------------------------------ the real agent, a real server


@contextlib.contextmanager
def running_agent(base_url: str, printer_url: str) -> Iterator[PrinterAgent]:
    """``printer.agent.PrinterAgent`` in a thread of its own, stopped on exit."""
    agent = PrinterAgent(
        AgentConfig(
            server=base_url,
            token=TOKEN,
            printer=printer_url,
            status_interval=0.5,
            print_timeout=2.0,
            backoff_min=0.2,
            backoff_max=0.5,
            open_timeout=2.0,
        )
    )
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(agent.run(stop),), daemon=True)
    thread.start()
    try:
        yield agent
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def agent_server(tmp_path: Path, stale_after: int) -> ServerProcess:
    config = write_config(
        tmp_path,
        printers=[
            {"id": "may-in-sanh", "url": "png://unused", "width": 384, "agent_token": TOKEN, "stale_after": stale_after}
        ],
    )
    add_staff(config, {"clerk1": "clerk", "boss": "admin"})
    return ServerProcess(tmp_path, config)


def jobs(server: ServerProcess) -> list[dict[str, Any]]:
    status, body, _ = http("GET", server.base_url + "/api/print-jobs", cookie=login(server.base_url, "clerk1"))
    assert status == 200, body
    return list(reversed(body["jobs"]))


def issue_http(server: ServerProcess) -> dict[str, Any]:
    status, body, _ = http("POST", server.base_url + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)
    assert status == 201, body
    return body


def test_real_agent_prints_the_ticket_the_server_rendered_for_it(tmp_path: Path):
    with FakePrinter("accept") as fake, agent_server(tmp_path, 30) as server:
        wrong = {"Authorization": "Bearer wrong-token-123456"}
        with (
            pytest.raises(InvalidStatus) as refused,
            connect(server.ws_url + "/printer", open_timeout=5, additional_headers=wrong),
        ):
            pass  # a wrong token fails at the handshake
        assert refused.value.response.status_code == 403
        with running_agent(server.base_url, fake.url):
            answer = issue_http(server)
            wait_for(lambda: jobs(server)[0]["state"] == "printed", timeout=10)
            (data,) = printed_jobs(fake)
    assert same_image(decode_raster(data), expected_ticket(answer))


def test_a_job_queued_across_a_server_restart_is_delivered_once(tmp_path: Path):
    with FakePrinter("accept") as fake:
        server = agent_server(tmp_path, 30).start()
        try:
            answer = issue_http(server)  # no agent yet: the job waits
            assert answer["print"]["state"] == "queued"
            server.stop()
            server.start()
            with running_agent(server.base_url, fake.url) as agent:
                wait_for(lambda: jobs(server)[0]["state"] == "printed", timeout=10)
                # Another restart with the agent connected: it reconnects, nothing is printed again.
                server.stop()
                server.start()
                wait_for(lambda: agent.connections >= 2, timeout=10)
                time.sleep(1.0)
                assert len(printed_jobs(fake)) == 1
                assert [j["state"] for j in jobs(server)] == ["printed"]
        finally:
            server.stop()


def test_a_job_older_than_stale_after_at_restart_is_never_printed(tmp_path: Path):
    with FakePrinter("accept") as fake:
        server = agent_server(tmp_path, 2).start()
        try:
            issue_http(server)
            server.stop()
            time.sleep(2.1)
            server.start()
            with running_agent(server.base_url, fake.url) as agent:
                wait_for(lambda: agent.connections >= 1, timeout=10)
                time.sleep(1.0)
                assert printed_jobs(fake) == []
                assert [j["state"] for j in jobs(server)] == ["stale"]
        finally:
            server.stop()


def test_jobs_wait_while_the_agent_reports_paper_out_and_go_when_paper_is_back(make_client):
    client = make_client(printer("tcp://127.0.0.1:9", agent_token=TOKEN, stale_after=30))
    with client.websocket_connect("/ws/printer", headers=agent_headers()) as ws:
        ws.receive_json()
        ws.send_json({"type": "status", "online": False, "paper": "out", "error": "printer is out of paper"})
        wait_for(lambda: service(client).printers["may-in-sanh"].paper == "out")
        answer = issue(client)
        assert answer["print"]["state"] == "queued" and "paper" in answer["print"]["error"]
        time.sleep(0.3)
        assert job_state(client, answer["id"]) == "queued"
        ws.send_json({"type": "status", "online": True, "paper": "ok", "error": None})
        job = ws.receive_json()  # sent only now
        assert job["type"] == "job" and job["ticket"]["label"] == answer["label"]
        ws.send_json({"type": "result", "job_id": job["job_id"], "outcome": "printed", "error": None})
        wait_for(lambda: job_state(client, answer["id"]) == "printed")


def test_the_result_of_a_job_sent_on_a_replaced_connection_counts_when_it_comes_on_the_new_one(make_client):
    client = make_client(printer("tcp://127.0.0.1:9", agent_token=TOKEN))
    with client.websocket_connect("/ws/printer", headers=agent_headers()) as old:
        old.receive_json()
        answer = issue(client)
        job = old.receive_json()
        with client.websocket_connect("/ws/printer", headers=agent_headers()) as new:
            new.receive_json()
            new.send_json({"type": "result", "job_id": job["job_id"], "outcome": "printed", "error": None})
            wait_for(lambda: job_state(client, answer["id"]) == "printed")


def test_a_job_being_printed_when_the_server_is_killed_is_failed_not_sent_again(tmp_path: Path):
    server = agent_server(tmp_path, 30).start()
    try:
        with connect(server.ws_url + "/printer", open_timeout=5, additional_headers=agent_headers()) as agent:
            agent.recv(timeout=5)  # hello
            answer = issue_http(server)
            job = json.loads(agent.recv(timeout=5))
            assert job["type"] == "job" and job["ticket"]["label"] == answer["label"]
            server.kill()  # SIGKILL while the job is "sent": nothing is recorded about its fate
        server.start()
        (stored,) = jobs(server)
        assert stored["state"] == "failed" and stored["error"].startswith("no confirmation")
        with connect(server.ws_url + "/printer", open_timeout=5, additional_headers=agent_headers()) as agent:
            agent.recv(timeout=5)  # hello
            with pytest.raises(TimeoutError):
                agent.recv(timeout=1.0)  # and no job: it is not sent again
            # The agent did print it and says so on reconnecting: staff will not reprint it.
            agent.send(json.dumps({"type": "result", "job_id": job["job_id"], "outcome": "printed", "error": None}))
            wait_for(lambda: jobs(server)[0]["state"] == "printed")
    finally:
        server.stop()


def test_a_server_driven_job_waiting_for_its_printer_across_a_restart_prints_once(tmp_path: Path):
    url = refused_url()
    config = write_config(
        tmp_path, printers=[{"id": "may-in-sanh", "url": url, "width": 384, "timeout": 1.0, "stale_after": 30}]
    )
    add_staff(config, {"clerk1": "clerk"})
    server = ServerProcess(tmp_path, config).start()
    try:
        issue_http(server)
        wait_for(lambda: jobs(server)[0]["attempts"] >= 1)
        server.stop()
        with listen_on(url) as fake:  # the printer is switched on while the server is down
            server.start()
            wait_for(lambda: jobs(server)[0]["state"] == "printed", timeout=10)
            time.sleep(0.5)
            assert len(printed_jobs(fake)) == 1
    finally:
        server.stop()


def test_the_server_accepts_the_agents_versioned_subprotocol(make_client):
    from printer import protocol

    client = make_client(printer("tcp://127.0.0.1:9", agent_token=TOKEN))
    with client.websocket_connect("/ws/printer", headers=agent_headers(), subprotocols=[protocol.SUBPROTOCOL]) as ws:
        assert ws.accepted_subprotocol == protocol.SUBPROTOCOL
        assert ws.receive_json()["type"] == "hello"


def test_an_agent_token_rotated_from_the_admin_screen_cuts_the_connected_agent(tmp_path: Path):
    with agent_server(tmp_path, 30) as server:
        admin = login(server.base_url, "boss")
        with connect(server.ws_url + "/printer", open_timeout=5, additional_headers=agent_headers()) as old:
            assert json.loads(old.recv(timeout=5))["type"] == "hello"
            status, body, _ = http("GET", server.base_url + "/api/admin/config", cookie=admin)
            assert status == 200, body
            text = body["text"].replace(TOKEN, "agent-token-rotated-7890")
            status, body, _ = http("POST", server.base_url + "/api/admin/config/text", {"text": text}, cookie=admin)
            assert status == 200, body
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    old.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        wrong = {"Authorization": f"Bearer {TOKEN}"}
        with (
            pytest.raises(InvalidStatus),
            connect(server.ws_url + "/printer", open_timeout=5, additional_headers=wrong),
        ):
            pass
        rotated = {"Authorization": "Bearer agent-token-rotated-7890"}
        with connect(server.ws_url + "/printer", open_timeout=5, additional_headers=rotated) as new:
            assert json.loads(new.recv(timeout=5))["type"] == "hello"
