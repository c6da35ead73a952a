"""Server processes for the test harness: loopback ports, and binaries that never outlive the test run."""
import ctypes
import pathlib
import signal
import socket
import subprocess

LOOPBACK = "127.0.0.1"
PR_SET_PDEATHSIG = 1


def free_port():
    """A TCP port on loopback that nothing listens on right now (the kernel picks it, like envtest's addr.Suggest)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def die_with_parent():
    """Runs in the child before exec: when the thread that started it dies, the server gets SIGTERM, so a crashed
    test run leaves no server behind."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ServerProcess:
    """One server binary in its own session, stdout and stderr appended to a log file, stopped with SIGTERM then
    SIGKILL. ``env`` and ``cwd`` give it an environment and working directory of its own (a container's)."""

    def __init__(self, name, argv, log_file, env=None, cwd=None):
        self.name = name
        self.argv = [str(arg) for arg in argv]
        self.log_file = pathlib.Path(log_file)
        self.env = env
        self.cwd = cwd
        self.process = None

    def _announce(self, log):
        """What a subclass writes at the top of each start in the log."""

    def start(self):
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(str(self.log_file), "ab") as log:
            self._announce(log)
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                                            env=self.env, cwd=str(self.cwd) if self.cwd else None, start_new_session=True,
                                            preexec_fn=die_with_parent)  # pylint: disable=subprocess-popen-preexec-fn
        return self

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout=20):
        if not self.running():
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def kill(self):
        if self.running():
            self.process.kill()
            self.process.wait(10)

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
