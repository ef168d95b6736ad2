"""Benchmark: what one signature costs the server in-process, in CPU time and in instructions.

The sign form's POST (the same body as ``bench/voices.py``: CSRF token and cookie, a new
address, a solved single-use proof of work) goes through the production WSGI application
(``gathering.wsgi``'s Django handler and middleware, SQLite in WAL mode on a throw-away data
folder), called in a loop in this process, without an HTTP server or a load generator.

- CPU: the process's CPU time per submission, over ``--count`` submissions after a warm-up,
  in ``--threads`` threads (one by default: no lock is waited for).
- Instructions: ``valgrind --tool=callgrind`` counts the instructions of a run with 0 and one
  with ``--count`` submissions (same warm-up); the difference divided by the count is the cost
  of one submission. Unlike seconds, it does not depend on the machine's speed or on what else
  runs, so it tells apart two versions of the code on a machine whose speed changes from one
  minute to the next (seen: the same bench 355 and 499 submissions/s back to back).

    .venv/bin/python bench/voices_instructions.py [--count 300] [--threads 1] [--no-valgrind]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import BIN, ROOT, setup_data

NO_LIMIT = "1000000000"
WARM_UP = 100
COLLECTED = re.compile(r"Collected\s*:\s*([\d,]+)")


def loop(count: int, total: int, threads: int) -> None:
    """In the data folder of the environment: ``count`` of ``total`` prepared submissions,
    after the warm-up; prints the CPU per submission."""
    import threading

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
    import _voices_setup as setup  # django.setup() on import
    from django.core.handlers.wsgi import WSGIHandler

    from gathering.program.models import Edition

    with tempfile.NamedTemporaryFile("r", suffix=".txt") as out:
        setup.prepare("instructions", WARM_UP + total, f"i{time.time_ns()}", out.name)
        bodies = out.read().splitlines()
    year = Edition.objects.order_by("-year").values_list("year", flat=True).first()
    path = f"/en/{year}/voices/instructions/"
    app = WSGIHandler()

    def call(method: str, body: bytes = b"", cookie: str = "") -> tuple[str, list[Any], bytes]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1:8000",
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        if body:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
            environ["CONTENT_LENGTH"] = str(len(body))
        if cookie:
            environ["HTTP_COOKIE"] = cookie
        answer: dict[str, Any] = {}

        def start(status: str, headers: list[Any], exc_info: Any = None) -> None:
            answer.update(status=status, headers=headers)

        content = b"".join(app(environ, start))  # type: ignore[arg-type]
        return answer["status"], answer["headers"], content

    _status, headers, page = call("GET")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    cookies = [v.split(";")[0] for k, v in headers if k == "Set-Cookie" and "csrftoken" in v]
    if token is None or not cookies:
        raise SystemExit("no CSRF token on the campaign page")

    def sign(body: str) -> None:
        status, _headers, _content = call(
            "POST", f"csrfmiddlewaretoken={token[1].decode()}&{body}".encode(), cookies[0]
        )
        if not status.startswith("302"):
            raise SystemExit(f"a submission was answered {status}")

    for body in bodies[:WARM_UP]:
        sign(body)
    todo = bodies[WARM_UP : WARM_UP + count]
    mutex = threading.Lock()

    def work() -> None:
        while True:
            with mutex:
                if not todo:
                    return
                body = todo.pop()
            sign(body)

    started, cpu = time.perf_counter(), time.process_time()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if count:
        wall = (time.perf_counter() - started) / count * 1000
        spent = (time.process_time() - cpu) / count * 1000
        print(f"CPU {spent:.3f} ms wall {wall:.3f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="submissions measured")
    parser.add_argument("--threads", type=int, default=1, help="for the CPU figure")
    parser.add_argument("--no-valgrind", action="store_true", help="the CPU figure only")
    parser.add_argument("--loop", nargs=3, type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.loop:
        loop(*options.loop)
        return
    data = tempfile.mkdtemp(prefix="gathering-bench-")
    environment = {
        **os.environ,
        "GATHERING_DATA_DIR": data,
        "DJANGO_SETTINGS_MODULE": "gathering.settings",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "VOICES_LIMIT_ADDRESS": NO_LIMIT,
        "VOICES_LIMIT_NETWORK": NO_LIMIT,
        "VOICES_LIMIT_DOMAIN": NO_LIMIT,
    }
    for name in ("GATHERING_TESTING", "DATABASE_URL", "REDIS_URL"):
        environment.pop(name, None)
    me = [str(BIN / "python"), str(Path(__file__).resolve())]
    try:
        setup_data(environment)
        count = options.count
        cpu = subprocess.run(
            [*me, "--loop", str(count), str(count), str(options.threads)],
            env=environment,
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.splitlines()[-1]  # (the setup prints the edition's year first)
        print(f"in-process, SQLite, {options.threads} thread(s), {count} submissions: {cpu}")
        valgrind = shutil.which("valgrind")
        if options.no_valgrind or valgrind is None:
            if valgrind is None:
                print("instructions: valgrind is not installed")
            return
        collected = []
        for submissions in (0, count):
            run = subprocess.run(
                [
                    valgrind,
                    "--tool=callgrind",
                    "--callgrind-out-file=/dev/null",
                    *me,
                    "--loop",
                    str(submissions),
                    str(count),
                    "1",
                ],
                env=environment,
                check=True,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            found = COLLECTED.search(run.stderr)
            if found is None:
                raise SystemExit("valgrind printed no instruction count")
            collected.append(int(found[1].replace(",", "")))
        each = (collected[1] - collected[0]) / count / 1e6
        print(f"instructions per submission (callgrind, 1 thread): {each:.3f} million")
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
