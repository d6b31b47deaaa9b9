"""queue_server.printing.jobs: the print-job rules on their own, sans I/O. Time is a value
passed in, so "never printed later", "not retried" and "stale after N seconds" are checked
at any later moment without sleeping."""

from __future__ import annotations

import datetime as dt

import pytest

from queue_server.config import Printer
from queue_server.errors import InvalidTransition
from queue_server.printing.jobs import (
    MOVES,
    NO_CONFIRMATION,
    Backoff,
    Hold,
    Idle,
    Job,
    JobState,
    MakeStale,
    PrintBook,
    Send,
    check_move,
    recovery,
    settle,
)
from queue_server.printing.printers import status_changes

T0 = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)
LATER = [dt.timedelta(seconds=s) for s in (0, 1, 59, 60, 3600, 86400)]


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def net_printer(**settings: object) -> Printer:
    return Printer(**{"id": "may-in", "url": "tcp://127.0.0.1:9100", "stale_after": 60, **settings})  # type: ignore[arg-type]


def book_with(*jobs: Job, printer: Printer | None = None, agent: bool = False) -> PrintBook:
    book = PrintBook("2026-12-03")
    book.ensure_printer(printer or net_printer(), agent_connected=agent)
    for job in jobs:
        book.add(job)
    return book


def job(job_id: int = 1, state: JobState = JobState.QUEUED, created: float = 0, **fields: object) -> Job:
    return Job(
        job_id,
        ticket_id=100 + job_id,
        printer="may-in",
        state=state,
        created_at=at(created),
        updated_at=at(created),
        info={"label": f"100{job_id}"},
        **fields,
    )  # type: ignore[arg-type]


# ------------------------------------------------------------------ moves


@pytest.mark.parametrize("old", list(JobState))
@pytest.mark.parametrize("new", list(JobState))
def test_only_the_drawn_moves_are_allowed(old: JobState, new: JobState) -> None:
    drawn = {
        ("queued", "sent"),
        ("queued", "stale"),
        ("sent", "printed"),
        ("sent", "failed"),
        ("sent", "queued"),
        ("failed", "printed"),
        ("failed", "failed"),
    }
    if (old.value, new.value) in drawn:
        check_move(job(), old, new)
    else:
        with pytest.raises(InvalidTransition):
            check_move(job(), old, new)
    assert (new in MOVES[old]) == ((old.value, new.value) in drawn)


def test_a_move_to_sent_is_an_attempt_with_a_new_agent_job_id() -> None:
    j = job()
    book = book_with(j)
    first = j.delivery_id
    book.apply(j, JobState.SENT, None, at(1))
    book.apply(j, JobState.QUEUED, "refused", at(2))
    book.apply(j, JobState.SENT, None, at(3))
    assert j.attempts == 2 and j.delivery_id != first and j.updated_at == at(3)
    assert book.job_for_delivery(j.delivery_id) is j


# ------------------------------------------------------------------ what a printer's worker does next


def test_the_oldest_queued_job_is_sent_first() -> None:
    book = book_with(job(2), job(1), job(3, JobState.PRINTED))
    step = book.next_step("may-in", net_printer(), at(1), agent_connected=False)
    assert isinstance(step, Send) and step.job.id == 1


def test_a_queued_job_goes_stale_at_stale_after_and_is_never_sent_later() -> None:
    book = book_with(job(created=0))
    assert isinstance(book.next_step("may-in", net_printer(), at(59.9), False), Send)
    for when in (at(60), at(61), at(86400)):
        step = book.next_step("may-in", net_printer(), when, False)
        assert isinstance(step, MakeStale) and step.error == "not sent in time"
    assert [j.id for j in book.stale({"may-in": net_printer()}, at(60))] == [1]
    assert book.stale({"may-in": net_printer()}, at(59)) == []


def test_a_job_whose_printer_left_the_config_is_stale() -> None:
    book = book_with(job())
    assert [j.id for j in book.stale({}, at(1))] == [1]


def test_paper_out_holds_the_job_until_it_goes_stale() -> None:
    book = book_with(job())
    book.change_printer("may-in", status_changes(False, "out", "paper end", at(0)))
    step = book.next_step("may-in", net_printer(), at(30), False)
    assert isinstance(step, Hold) and step.reason == "printer is out of paper"
    assert isinstance(book.next_step("may-in", net_printer(), at(60), False), MakeStale)
    assert book.job_status(101)["error"] == "paper end"  # the kiosk sees why it waits


def test_an_agent_printer_holds_its_jobs_while_no_agent_is_connected() -> None:
    p = net_printer(agent_token="agent-token-123456")
    book = book_with(job(), printer=p)
    step = book.next_step("may-in", p, at(1), agent_connected=False)
    assert isinstance(step, Hold) and step.reason == "print agent not connected"
    assert isinstance(book.next_step("may-in", p, at(1), agent_connected=True), Send)


def test_a_printer_with_nothing_queued_is_idle() -> None:
    book = book_with(job(1, JobState.PRINTED), job(2, JobState.FAILED), job(3, JobState.SENT))
    assert isinstance(book.next_step("may-in", net_printer(), at(1), False), Idle)


# ------------------------------------------------------------------ outcomes


def test_nothing_sent_goes_back_to_queued_and_is_retried_with_backoff() -> None:
    result = settle("failed_before_send", "connection refused", "server", at(5))
    assert (result.new, result.error, result.retry) == (JobState.QUEUED, "connection refused", True)
    assert result.printer_changes == {"online": False, "error": "connection refused", "last_error_at": at(5)}
    # An agent's failure says nothing about its link: the printer's state is its status's.
    assert settle("failed_before_send", "usb gone", "agent", at(5)).printer_changes == {}


@pytest.mark.parametrize("outcome", ["failed_partial", "no_confirmation"])
def test_a_job_that_may_have_printed_fails_and_is_never_sent_again(outcome: str) -> None:
    result = settle(outcome, "timed out after 5 s", "server", at(5))  # type: ignore[arg-type]
    assert (result.new, result.retry) == (JobState.FAILED, False)
    j = job(state=JobState.SENT)
    book = book_with(j)
    book.apply(j, result.new, result.error, at(5))
    for later in LATER:
        assert isinstance(book.next_step("may-in", net_printer(), at(5) + later, False), Idle)


def test_printed_marks_the_printer_fine() -> None:
    result = settle("printed", None, "server", at(5))
    assert (result.new, result.retry) == (JobState.PRINTED, False)
    assert result.printer_changes == {"online": True, "error": None, "last_success_at": at(5)}


def test_backoff_doubles_up_to_the_most_and_starts_over_after_a_success() -> None:
    backoff = Backoff(1.0, 8.0)
    assert [backoff.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.reset()
    assert backoff.next() == 1.0


def test_a_late_result_settles_only_a_job_failed_for_lack_of_confirmation() -> None:
    lost = job(1, JobState.FAILED, attempts=1, error=f"{NO_CONFIRMATION}: the print agent disconnected")
    partial = job(2, JobState.FAILED, attempts=1, error="timed out after 5 s")
    book = book_with(lost, partial)
    assert book.late_result("may-in", lost.delivery_id, "printed", None) == (lost, JobState.PRINTED, None)
    assert book.late_result("may-in", lost.delivery_id, "failed_partial", "jam") == (lost, JobState.FAILED, "jam")
    assert book.late_result("other-printer", lost.delivery_id, "printed", None) is None
    assert book.late_result("may-in", lost.delivery_id - 1, "printed", None) is None  # an older attempt
    assert book.late_result("may-in", partial.delivery_id, "printed", None) is None


# ------------------------------------------------------------------ restart and a new day


def test_at_start_sent_jobs_fail_old_queued_ones_go_stale_young_ones_stay() -> None:
    rows = [
        {"id": 1, "state": "sent", "printer": "may-in", "created_at": at(0).isoformat()},
        {"id": 2, "state": "queued", "printer": "may-in", "created_at": at(0).isoformat()},
        {"id": 3, "state": "queued", "printer": "may-in", "created_at": at(50).isoformat()},
        {"id": 4, "state": "queued", "printer": "gone", "created_at": at(50).isoformat()},
    ]
    changes = recovery(rows, {"may-in": 60}, at(60))
    assert [(i, s) for i, s, _ in changes] == [(1, JobState.FAILED), (2, JobState.STALE), (4, JobState.STALE)]
    assert changes[0][2].startswith(NO_CONFIRMATION)


def test_a_new_day_forgets_finished_jobs_and_keeps_unfinished_ones() -> None:
    book = book_with(job(1, JobState.PRINTED), job(2, JobState.QUEUED), job(3, JobState.SENT))
    assert not book.new_day("2026-12-03")
    assert book.new_day("2026-12-04")
    assert sorted(book.jobs) == [2, 3] and book.latest_job(101) is None


# ------------------------------------------------------------------ what screens are told


def test_the_kiosk_hears_printing_for_sent_and_the_public_no_addresses() -> None:
    j = job(state=JobState.SENT, error=None)
    book = book_with(j)
    assert book.job_status(101) == {"state": "printing", "printer": "may-in", "error": None, "job_id": 1}
    assert book.job_status(999)["state"] == "none"
    book.change_printer("may-in", status_changes(False, "unknown", "cannot connect to tcp://10.0.0.5", at(1)))
    (public,) = book.printers_summary([net_printer()], "public")
    (staff,) = book.printers_summary([net_printer()], "staff")
    assert public["error"] == "printer error" and "url" not in public
    assert staff["url"] == "tcp://127.0.0.1:9100" and "10.0.0.5" in staff["error"]


def test_a_status_check_alone_is_not_a_change_worth_telling() -> None:
    book = book_with()
    assert book.change_printer("may-in", status_changes(True, "ok", None, at(1)))
    assert not book.change_printer("may-in", status_changes(True, "ok", None, at(2)))


# ------------------------------------------------------------------ the wire protocol both ends use


def test_protocol_messages_read_back_as_they_were_written() -> None:
    from printer import protocol

    for message in (protocol.Result(17, "printed", None), protocol.Status(True, "low", None)):
        assert protocol.read_agent_message(protocol.encode(message)) == message
    for sent in (protocol.Hello("may-in", 384), protocol.Job(17, {"label": "1001"}, None)):
        assert protocol.read_server_message(protocol.encode(sent)) == sent


@pytest.mark.parametrize(
    "text",
    [
        "[1]",
        "not json",
        '{"type": "result", "job_id": true, "outcome": "printed"}',
        '{"type": "result", "job_id": 1, "outcome": "maybe"}',
        '{"type": "mystery"}',
    ],
)
def test_protocol_refuses_what_it_cannot_read(text: str) -> None:
    from printer import protocol

    with pytest.raises(protocol.ProtocolError):
        protocol.read_agent_message(text)


def test_a_status_with_unknown_values_reads_as_unknown_and_offline() -> None:
    from printer import protocol

    status = protocol.read_agent_message('{"type": "status", "online": "yes", "paper": "??", "error": 5}')
    assert status == protocol.Status(False, "unknown", None)
