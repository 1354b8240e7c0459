"""Many machines on one study: two `promosim optimize` processes join one study on a real
PostgreSQL server (Optuna's own distributed mode).

The fixture starts a throwaway server on loopback from the Debian packages' binaries
(/usr/lib/postgresql/*/bin, installed by .ci/run): `initdb` into a fresh folder, `pg_ctl start`
on a free port, a database, and `pg_ctl stop` afterwards. `initdb` refuses to run as root, so
as root the cluster belongs to the `postgres` system user (created by the Debian package) and
the commands run through `runuser -u postgres`. Without the binaries or the driver the test
skips with the reason — except under PROMOSIM_CI=1, where it fails.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.conftest import SCENARIOS

REPO = Path(__file__).resolve().parents[2]
PRICE = SCENARIOS / "optimize" / "price.yaml"

pytestmark = pytest.mark.slow


def _missing(reason: str):
    if os.environ.get("PROMOSIM_CI") == "1":
        pytest.fail(f"{reason} (required under PROMOSIM_CI=1; .ci/run installs it)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url():
    """URL of a throwaway PostgreSQL database on 127.0.0.1 (trust authentication)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: float(Path(p).parts[-3]))
    initdb = found[-1] if found else shutil.which("initdb")
    if not initdb:
        _missing("PostgreSQL server not installed (no initdb; apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("the PostgreSQL driver psycopg is not installed (pip install -e '.[test]')")
    bindir = Path(initdb).parent
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="promosim-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _missing("running as root and there is no 'postgres' user to own the test cluster")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()

    def run(*cmd):
        return subprocess.run([*as_user, *map(str, cmd)], check=True, capture_output=True, text=True,
                              cwd=folder, timeout=120)

    try:
        run(bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        run(bindir / "pg_ctl", "-D", data, "-o", opts, "-l", folder / "server.log", "-w", "-t", "60", "start")
        run(bindir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "promosim")
        yield f"postgresql://postgres@127.0.0.1:{port}/promosim"
    except subprocess.CalledProcessError as e:
        log = (folder / "server.log").read_text() if (folder / "server.log").exists() else ""
        pytest.fail(f"could not start PostgreSQL: {' '.join(map(str, e.cmd))}\n{e.stderr}\n{log}")
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           check=False, capture_output=True, cwd=folder, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_processes_on_postgres_finish_their_trials_on_one_study(postgres_url, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "optimize", str(PRICE), "--storage", postgres_url,
         "--study", "shared", "--trials", "6", "--reps", "20", "--out", str(tmp_path / f"m{i}"),
         "--json", "--no-plots", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(done) == 12
    # each machine ran its own six, and exactly one of them played the starting plan
    per_invocation: dict[str, int] = {}
    for t in done:
        per_invocation[t.user_attrs["invocation"]] = per_invocation.get(t.user_attrs["invocation"], 0) + 1
    assert sorted(per_invocation.values()) == [6, 6]
    assert sum(bool(t.user_attrs.get("baseline")) for t in study.trials) == 1
    assert study.trials[0].user_attrs.get("baseline")
    last = max(json.loads(out)["trials"] for out, _ in outs)
    assert last == 12
    assert "postgres@127.0.0.1" in json.loads(outs[0][0])["storage"]
