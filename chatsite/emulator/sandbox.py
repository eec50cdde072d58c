"""Runs the code of ``code_execution`` steps for real: ``sys.executable -I -c <code>``.

The code is always written by the emulator itself (user text only ever enters it through
``repr()``), runs isolated from the environment and user site (``-I``), in an empty temporary
directory, with a wall-clock timeout and bounded output. Cancelling the caller kills the child.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

TIMEOUT_S = 5.0
MAX_OUTPUT = 16_384  # bytes kept of stdout + stderr


@dataclass(frozen=True)
class Execution:
    output: str  # what the result step shows: stdout, then stderr (the traceback) on error
    is_error: bool
    returncode: int | None  # None on timeout


async def _read_bounded(stream: asyncio.StreamReader | None, limit: int) -> bytes:
    if stream is None:
        return b""
    data = bytearray()
    while True:
        chunk = await stream.read(4096)
        if not chunk:
            return bytes(data)
        if len(data) < limit:
            data += chunk[: limit - len(data)]
        # past the limit: keep draining so the child never blocks on a full pipe


async def run_python(code: str, timeout_s: float = TIMEOUT_S) -> Execution:
    with tempfile.TemporaryDirectory(prefix="emulator-code-") as workdir:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-c",
            code,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=workdir,
            env={"PYTHONIOENCODING": "utf-8", "PATH": os.defpath},
        )
        try:
            out, err = await asyncio.wait_for(
                asyncio.gather(
                    _read_bounded(process.stdout, MAX_OUTPUT),
                    _read_bounded(process.stderr, MAX_OUTPUT),
                ),
                timeout_s,
            )
            returncode = await process.wait()
        except TimeoutError:
            _kill(process)
            await process.wait()
            return Execution(f"Execution timed out after {timeout_s:g} s.", True, None)
        except BaseException:  # cancelled: never leave the child behind
            _kill(process)
            with contextlib.suppress(BaseException):
                await asyncio.shield(process.wait())
            raise
    text = out.decode("utf-8", "replace")
    if returncode != 0:
        text += err.decode("utf-8", "replace")
    text = text[:MAX_OUTPUT]
    return Execution(text, returncode != 0, returncode)


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def run_python_sync(code: str, timeout_s: float = TIMEOUT_S) -> Execution:
    """Blocking twin of :func:`run_python`, for callers outside the event loop."""
    with tempfile.TemporaryDirectory(prefix="emulator-code-") as workdir:
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-c", code],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                cwd=workdir,
                env={"PYTHONIOENCODING": "utf-8", "PATH": os.defpath},
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Execution(f"Execution timed out after {timeout_s:g} s.", True, None)
    text = done.stdout[:MAX_OUTPUT].decode("utf-8", "replace")
    if done.returncode != 0:
        text += done.stderr[:MAX_OUTPUT].decode("utf-8", "replace")
    return Execution(text[:MAX_OUTPUT], done.returncode != 0, done.returncode)
