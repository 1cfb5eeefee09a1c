"""The mirror picker (issue 15): a mirror that did not answer is chosen only after a warning, and the
columns fit the dialog at 120x36 and 80x24."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tui.app import make_app
from tui.core.mirrors import Mirror
from tui.screens.confirm import ConfirmScreen
from tui.screens.mirrors import MirrorScreen
from tui.settings import Settings

from .helpers import plain, wait_for

DEAD = "http://127.0.0.1:9"  # the discard port: nothing answers there


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
async def test_choosing_a_mirror_that_did_not_answer_asks_first(devhub, tmp_path, size):
    settings = Settings(
        cache_dir=tmp_path / "hub", endpoint=devhub.endpoint, refresh=0.5, mirrors=(Mirror("dead mirror", DEAD),)
    )
    app = make_app(settings)
    async with app.run_test(size=size) as pilot:
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MirrorScreen), what="the picker")
        picker = app.screen
        await wait_for(pilot, lambda: DEAD in picker.probes and devhub.endpoint in picker.probes, what="the probes")
        assert not picker.probes[DEAD].reachable
        table = picker.query_one("#mirrors-table", DataTable)
        await pilot.pause()
        used = sum(column.get_render_width(table) for column in table.columns.values())
        assert used <= table.size.width, "every column fits, the status one included"

        table.move_cursor(row=table.get_row_index(DEAD))
        await pilot.pause()
        assert picker.probes[DEAD].message in plain(picker.query_one("#mirrors-status")), "in full under the table"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the warning")
        assert "did not answer" in plain(app.screen.query_one("#confirm-text"))
        await pilot.press("n")
        assert app.screen is picker and app.dashboard.settings.endpoint == devhub.endpoint
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the warning again")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.dashboard.settings.endpoint == DEAD, what="the choice")

        # A mirror that answered is chosen at once.
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MirrorScreen), what="the picker")
        picker = app.screen
        await wait_for(pilot, lambda: devhub.endpoint in picker.probes, what="the probe")
        table = picker.query_one("#mirrors-table", DataTable)
        table.move_cursor(row=table.get_row_index(devhub.endpoint))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.dashboard.settings.endpoint == devhub.endpoint, what="the switch back")
        assert not isinstance(app.screen, ConfirmScreen)
