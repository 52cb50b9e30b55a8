"""Running a command with its stderr on a pseudo-terminal, as a user at a terminal sees it."""

import os
import pty
import select
import subprocess


def run_on_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str, bytes]:
    """Run command with stderr on a pty; its exit code, stdout and all it drew on the pty."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=secondary, text=True)
    os.close(secondary)
    seen = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 60)
        try:
            chunk = os.read(primary, 4096) if ready else b""
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = proc.communicate(timeout=60)
    os.close(primary)
    return proc.returncode, stdout, seen
