"""The change scan against the real emulator: it stops at the mark, and an edit made while it pages
through the list is not lost (the next scan finds it)."""

from tests.conftest import make_client
from usersnap_pipeline.steps.changes import newest_mark, scan_for_changes


def test_idle_scan_reads_one_page(emulator, client, project_id):
    mark = newest_mark(client.iter_feedback_pages(project_id, limit=1))
    changes, mark = scan_for_changes(client.iter_feedback_pages(project_id, limit=100), mark)
    emulator.reset_request_counts()
    changes, _ = scan_for_changes(client.iter_feedback_pages(project_id, limit=100), mark)
    assert changes == [] and emulator.requests_made("list") == 1


def test_new_and_edited_items_are_changes_once(emulator, client, project_id):
    mark = newest_mark(client.iter_feedback_pages(project_id, limit=1))
    _, mark = scan_for_changes(client.iter_feedback_pages(project_id), mark)
    old = emulator.store.items(project_id)[3]
    emulator.store.edit(old["feedback_id"], {"status_type": "done"})
    new = emulator.store.submit(project_id, {})
    changes, mark = scan_for_changes(client.iter_feedback_pages(project_id), mark)
    assert {c.feedback_id for c in changes} == {old["feedback_id"], new["feedback_id"]}
    assert {c.created_day.isoformat() for c in changes} == {old["created_at"][:10], new["created_at"][:10]}
    again, _ = scan_for_changes(client.iter_feedback_pages(project_id), mark)
    assert again == []


def test_an_edit_during_the_scan_is_found_by_the_next_scan(emulator, project_id):
    """Keyset paging in updated_at order: an item edited mid-scan jumps above the cursor and this scan
    misses it; its new updated_at is later than the mark the scan keeps, so the next scan sees it."""
    client = make_client(emulator)
    start = newest_mark(client.iter_feedback_pages(project_id, limit=1))
    # Walk the whole list from an old mark, editing an item the scan has not reached yet.
    oldest = emulator.store.items(project_id)[0]
    from usersnap_pipeline.steps.changes import Watermark
    mark = Watermark(oldest["updated_at"])
    pages = client.iter_feedback_pages(project_id, limit=10)

    def edit_after_first_page():
        first = True
        for page in pages:
            yield page
            if first:
                first = False
                seen = {i["feedback_id"] for i in page.items}
                victim = next(i for i in emulator.store.items(project_id)[::-1] if i["feedback_id"] not in seen
                              and i["updated_at"] > mark.hwm)
                emulator.store.edit(victim["feedback_id"], {"status_type": "wont_fix"})
                edited.append(victim["feedback_id"])

    edited: list[str] = []
    changes, mark = scan_for_changes(edit_after_first_page(), mark)
    assert edited and edited[0] not in {c.feedback_id for c in changes}  # missed by the scan it moved under
    follow_up, _ = scan_for_changes(client.iter_feedback_pages(project_id), mark)
    assert [c.feedback_id for c in follow_up] == edited
    assert start.hwm is not None
