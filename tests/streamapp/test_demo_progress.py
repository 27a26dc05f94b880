"""The demo shows one progress bar while the worker catches up, not a log line per poll."""

from __future__ import annotations

import logging

from streamapp import demo
from streamapp.replay.producer import ReplayReport


async def test_the_bar_counts_the_replayed_events_the_worker_committed(settings):
    report = ReplayReport(messages=50)  # 100 events, two to a message
    report.sent["raw.odds"] = 100
    progress = demo.WorkerProgress(settings, report)
    raw, clean = settings.topic("raw.odds"), settings.topic("clean.odds")
    await progress(lags=None, outputs={})
    assert progress.bar.n == 0 and "lag=?" in str(progress.bar)
    await progress(lags={raw: 45, clean: 10}, outputs={settings.topic("predictions"): 1234})
    await progress(lags={raw: 40, clean: 10}, outputs={settings.topic("predictions"): 1300})
    assert progress.bar.n == 20  # 10 of 50 raw messages committed
    assert "predictions=1,300" in str(progress.bar) and "lag=50" in str(progress.bar)
    progress.close()


def test_the_log_goes_to_a_file_and_only_warnings_to_the_terminal(tmp_path, monkeypatch):
    terminal = logging.StreamHandler()
    monkeypatch.setattr(logging.getLogger(), "handlers", [terminal])  # pytest's own are put back
    demo.log_to_file(tmp_path / "demo.log")
    logging.getLogger("streamapp.summary").warning("waiting for the worker: lag 3")
    assert terminal.level == logging.WARNING
    for handler in logging.getLogger().handlers:
        handler.close()
    assert "waiting for the worker" in (tmp_path / "demo.log").read_text()
