"""A throwaway PostgreSQL 15 for one test module: initdb into a fresh temporary directory, the
postmaster as a direct child of the test (as the `postgres` user when the test runs as root, since
PostgreSQL refuses root), listening only on a Unix socket in that directory (no port to collide
with another test's), trust authentication. Every wait is bounded.

The scenario restarts it while the function is frozen. The emulator runs --while-frozen commands
as its own descendants and kills every descendant when it ends, so a postmaster started by that
command would not outlive the run; instead the command asks this process to restart the server
(`RestartRelay`, a Unix socket) and waits for the answer:

    /usr/bin/python3 postgres_server.py request-restart <socket>
"""
import os
import pathlib
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

PG_BIN = pathlib.Path(os.environ.get("SNAPBUS_PG_BIN", "/usr/lib/postgresql/15/bin"))
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


class PostgresServer:
    def __init__(self) -> None:
        if not (PG_BIN / "postgres").exists():
            raise RuntimeError(f"no PostgreSQL at {PG_BIN}: install the Debian package postgresql (setup.sh does)")
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="snapbus-e2e-pg."))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.url = f"postgresql+psycopg2://postgres@/postgres?host={self.directory}"
        self.process: subprocess.Popen | None = None
        # PostgreSQL refuses to run as root: then the server runs as the `postgres` system user.
        self._user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] if os.geteuid() == 0 else []
        if self._user:
            account = pwd.getpwnam("postgres")
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        initdb = subprocess.run([*self._user, str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                                 "--auth=trust", "--no-sync", "-E", "UTF8"],
                                capture_output=True, text=True, timeout=120)
        if initdb.returncode != 0:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise RuntimeError(f"initdb failed ({initdb.returncode}):\n{initdb.stdout}{initdb.stderr}")

    def start(self) -> None:
        log = open(self.log, "a")
        # Options for a test: no TCP, the socket in our directory, no fsync, plenty of connections.
        self.process = subprocess.Popen(
            [*self._user, str(PG_BIN / "postgres"), "-D", str(self.data),
             "-c", "listen_addresses=", "-c", f"unix_socket_directories={self.directory}",
             "-c", "fsync=off", "-c", "max_connections=100"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}:\n{self.log.read_text()}")
            ready = subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", str(self.directory), "-t", "2"],
                                   timeout=10)
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres not ready within {START_TIMEOUT} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        """Fast shutdown (SIGINT): every session is terminated, as `pg_ctl stop -m fast` does."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class RestartRelay:
    """Restarts `server` whenever a client connects to the Unix socket at `path` and sends
    "restart"; answers "ok" once the server is ready again, or "error: ..."."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        # In the server's directory under /tmp: a socket path must stay under 108 bytes.
        self.path = server.directory / "restart.sock"
        # (began, done) of each restart, CLOCK_MONOTONIC ns, the clock the workers' records use
        self.restarts: list[tuple[int, int]] = []
        self._closed = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(self.path))
        self.listener.listen()
        self.listener.settimeout(0.2)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def command(self) -> str:
        """The --while-frozen command that asks for one restart."""
        return f"{sys.executable} {pathlib.Path(__file__).resolve()} request-restart {self.path}"

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            with client:
                client.settimeout(STOP_TIMEOUT)
                if client.recv(64) != b"restart":
                    continue
                try:
                    began = time.monotonic_ns()
                    self.server.restart()
                    self.restarts.append((began, time.monotonic_ns()))
                    client.sendall(b"ok")
                except Exception as error:  # reported to the command, which fails with it
                    client.sendall(f"error: {error}".encode())

    def close(self) -> None:
        self._closed.set()
        self.thread.join(timeout=STOP_TIMEOUT)
        self.listener.close()
        self.path.unlink(missing_ok=True)


def request_restart(path: str) -> int:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(START_TIMEOUT + STOP_TIMEOUT)
        sock.connect(path)
        sock.sendall(b"restart")
        answer = sock.recv(4096).decode()
    print(f"PostgreSQL restart: {answer}", flush=True)
    return 0 if answer == "ok" else 1


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "request-restart":
        sys.exit(f"usage: {sys.argv[0]} request-restart <socket>")
    sys.exit(request_restart(sys.argv[2]))
