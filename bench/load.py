"""Benchmark: N concurrent sessions walk the wizard while a run trains; page times and training slowdown.

Usage: python bench/load.py [--sessions 10] [--seconds 60] [--model tiny] [--client websocket|browser] [--think 0]

One Streamlit server (own workspace) and one training run through the CLI on the bundled BANKING77 sample.
The run's speed is read from its status file (steps over time) for `--seconds` with no session, then for
`--seconds` while the sessions go through the wizard's pages. Prints the p50/p95/max time per page and the
run's throughput drop.

Two kinds of session:
- `websocket` (default): each session speaks Streamlit's own protocol over `/_stcore/stream`, as the browser
  tab does, asking for each page in turn and timing until the server reports the page's script run finished
  (all of its elements sent). This is the server's work for N users; their browsers run on their machines.
- `browser`: each session is a Chromium context (Playwright) clicking the sidebar, timed until the page is
  drawn and idle. On one 2-core box the ten Chromium renderers then compete with the server and the training
  run for the same cores, which no real deployment does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser_helpers import IDLE, NO_SKELETON, NO_STALE, StreamlitServer, find_chromium  # noqa: E402

# The first step ("task") is the default page, linked as "/", so the walk covers the others.
PAGES = {"data": "Your data", "augment": "Augmentation", "model": "Choose a starting model",
         "hyperparameters": "Training settings", "train": "Train", "runs": "All runs"}
READY = f"() => {IDLE} && {NO_STALE} && {NO_SKELETON}"


def start_training(home: Path, model: str) -> tuple[subprocess.Popen, Path]:
    """A long CPU run (many epochs) through the CLI; stopped by the benchmark when it has its figures."""
    run = home / "runs" / "load-bench"
    command = [sys.executable, "-m", "core", "train", "--train", str(REPO / "samples" / "banking77_sample.csv"),
               "--text-column", "text", "--label-column", "label", "--model", model, "--epochs", "50",
               "--max-length", "32", "--batch-size", "16", "--early-stopping-patience", "0", "--device", "cpu",
               "--output", str(run)]
    log = (home / "train.log").open("wb")
    env = {"FINETUNE_HOME": str(home), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, **env})
    return process, run


def read_step(run: Path) -> tuple[float, int] | None:
    try:
        status = json.loads((run / "status.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    step = (status.get("progress") or {}).get("step")
    return (float(status["heartbeat"]), int(step)) if step else None


async def throughput(run: Path, seconds: float) -> float:
    """Optimizer steps per second over a window, from the status file's step and heartbeat."""
    first = read_step(run)
    await asyncio.sleep(seconds)
    last = read_step(run)
    if not first or not last or last[0] <= first[0]:
        return float("nan")
    return (last[1] - first[1]) / (last[0] - first[0])


async def open_session(browser, url: str):
    """One user with their own browser context (cookies, websocket session), on the app's first page."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(url, timeout=300_000)
    await page.wait_for_function(READY, timeout=300_000)
    return context, page


async def walk(page, stop_at: float, times: list[float], errors: list[str]) -> None:
    """Click through the steps in turn until `stop_at`, timing each click until the page is drawn and idle."""
    try:
        while time.time() < stop_at:
            for slug, title in PAGES.items():
                started = time.perf_counter()
                await page.locator(f'a[data-testid="stSidebarNavLink"][href$="/{slug}"]').click()
                await page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
                await page.wait_for_function(READY, timeout=120_000)
                times.append(time.perf_counter() - started)
                if time.time() >= stop_at:
                    break
    except Exception as exc:  # noqa: BLE001 - a benchmark reports a failed session and goes on
        errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")


async def websocket_session(url: str, stop_at: float, times: list[float], errors: list[str],
                            once: bool = False, think: float = 0.0) -> None:
    """One user as the browser tab speaks to the server: rerun requests per page, timed to `script_finished`
    (until `stop_at`, or one pass over the pages with `once`)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.asyncio.client import connect

    done = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}

    async def show(socket, page_hash: str) -> ForwardMsg | None:
        """Ask for a page; wait until its script run (and any st.rerun it makes) finished. Returns the
        `navigation` message (the app's pages, sent by st.navigation) if one came."""
        request = BackMsg()
        request.rerun_script.page_script_hash = page_hash
        request.rerun_script.query_string = ""
        await socket.send(request.SerializeToString())
        session = None
        while True:
            message = ForwardMsg()
            message.ParseFromString(await asyncio.wait_for(socket.recv(), timeout=120))
            kind = message.WhichOneof("type")
            if kind == "navigation":
                session = message
            elif kind == "script_finished" and message.script_finished in done:
                return session

    try:
        async with connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                           origin=url, max_size=None) as socket:
            first = await show(socket, "")
            hashes = {page.url_pathname.strip("/"): page.page_script_hash for page in first.navigation.app_pages}
            missing = set(PAGES) - set(hashes)
            if missing:
                raise KeyError(f"pages {missing} not among {sorted(hashes)}")
            while time.time() < stop_at:
                for slug in PAGES:
                    started = time.perf_counter()
                    await show(socket, hashes[slug])
                    times.append(time.perf_counter() - started)
                    await asyncio.sleep(think)  # a user reads the page before the next click
                    if time.time() >= stop_at and not once:
                        break
                if once:
                    break
    except Exception as exc:  # noqa: BLE001 - a benchmark reports a failed session and goes on
        errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")


def tiny_model(folder: Path) -> str:
    """A 4-layer, 128-wide BERT with the bundled tokenizer: real Trainer work at a step rate a shared CPU
    can show within a minute (the bundled MiniLM takes many seconds per step when the CPU is contended)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from core.catalogue import find_entry, package_folder

    tokenizer = AutoTokenizer.from_pretrained(package_folder(find_entry("all-minilm-l6-v2").location))
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
                         intermediate_size=512, max_position_embeddings=128)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


async def measure(browser, url: str, run: Path, args: argparse.Namespace) -> tuple[float, float, list, list]:
    """(steps/s alone, steps/s under load, page times, failed sessions)."""
    alone = await throughput(run, args.seconds)
    sessions = await asyncio.gather(*(open_session(browser, url) for _ in range(args.sessions)))
    times: list[float] = []
    errors: list[str] = []
    stop_at = time.time() + args.seconds
    loaded, _ = await asyncio.gather(throughput(run, args.seconds),
                                     asyncio.gather(*(walk(page, stop_at, times, errors) for _, page in sessions)))
    for context, _ in sessions:
        await context.close()
    return alone, loaded, times, errors


async def measure_websockets(url: str, run: Path, args: argparse.Namespace) -> tuple[float, float, list, list]:
    """(steps/s alone, steps/s under load, page times, failed sessions) with protocol-level sessions.

    One session first visits every page once, untimed: a fresh server imports each page's modules on its first
    visit (pandas, scikit-learn, transformers' tokenizers), which later users do not wait for.
    """
    warm_up: list[str] = []
    await websocket_session(url, time.time() + 600, [], warm_up, once=True)
    if warm_up:
        raise SystemExit(f"the warm-up session failed: {warm_up[0]}")
    alone = await throughput(run, args.seconds)
    times: list[float] = []
    errors: list[str] = []
    stop_at = time.time() + args.seconds
    loaded, _ = await asyncio.gather(throughput(run, args.seconds), asyncio.gather(
        *(websocket_session(url, stop_at, times, errors, think=args.think) for _ in range(args.sessions))))
    return alone, loaded, times, errors


async def main(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    home = Path(tempfile.mkdtemp(prefix="load-bench-"))
    model = tiny_model(home / "tiny-bert") if args.model == "tiny" else args.model
    server = StreamlitServer(home, home / "server.log")
    server.start()
    process, run = start_training(home, model)
    try:
        while read_step(run) is None:
            if process.poll() is not None:
                raise SystemExit(f"training ended early:\n{(home / 'train.log').read_text()[-2000:]}")
            await asyncio.sleep(1)
        if args.client == "websocket":
            alone, loaded, times, errors = await measure_websockets(server.url, run, args)
        else:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=find_chromium())
                alone, loaded, times, errors = await measure(browser, server.url, run, args)
                await browser.close()
    finally:
        process.terminate()
        process.wait()
        server.stop()
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))] if times else float("nan")
    print(json.dumps({"sessions": args.sessions, "client": args.client, "think_s": args.think,
                      "window_s": args.seconds, "model": args.model,
                      "page_views": len(times), "page_p50_s": round(statistics.median(times), 2) if times else None,
                      "page_p95_s": round(p95, 2), "page_max_s": round(times[-1], 2) if times else None,
                      "train_steps_per_s_alone": round(alone, 3), "train_steps_per_s_under_load": round(loaded, 3),
                      "throughput_drop_pct": round(100 * (1 - loaded / alone), 1), "failed_sessions": errors},
                     indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--model", default="tiny", help="'tiny' (a random 4-layer BERT) or a model id/folder.")
    parser.add_argument("--think", type=float, default=0.0,
                        help="Seconds each websocket session waits on a page before the next (0: click on at once).")
    parser.add_argument("--client", choices=["websocket", "browser"], default="websocket",
                        help="Sessions as Streamlit protocol clients (the server's load) or as Chromium tabs.")
    asyncio.run(main(parser.parse_args()))
