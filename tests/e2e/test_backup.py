"""`otpd store backup PATH`: an online copy of the embedded store, made by the running server
that holds the file (asked with SIGUSR1) or directly when none runs, and a restore from it
(stop, copy back, start) that keeps every code checkable."""

import os
import shutil
import sqlite3

from harness import assert_json, new_email, run_to_exit, send_ok


def backup(srv, path):
    return run_to_exit([srv.binary, "store", "backup", "--config", srv.config_path, str(path)],
                       timeout=60, env={**os.environ})


def test_backup_while_serving_then_restore(stack, tmp_path):
    srv = stack.otpd()
    api = srv.api("acme")
    sent = [send_ok(api, new_email()) for _ in range(5)]
    codes = {b["id"]: stack.acme_hook.wait_for(b["id"])["code"] for b in sent}

    copy = tmp_path / "otpd-backup.db"
    r = backup(srv, copy)
    assert r.returncode == 0, r.stderr
    assert oct(os.stat(copy).st_mode & 0o777) == "0o600"
    db = sqlite3.connect(copy)
    ids = {row[0] for row in db.execute("SELECT id FROM verifications")}
    db.close()
    assert set(codes) <= ids, ids
    assert srv.alive() and "store backup written" in srv.stderr_text()

    # Codes sent after the backup are lost by a restore; those before it verify.
    later = send_ok(api, new_email())
    srv.stop()
    store = srv.config["store"].removeprefix("sqlite://")
    for suffix in ("-wal", "-shm"):
        if os.path.exists(store + suffix):
            os.remove(store + suffix)
    shutil.copyfile(copy, store)
    srv.start()
    api = srv.api("acme")
    for vid, code in codes.items():
        assert_json(api.verify({"id": vid, "code": code}), 200)
    assert api.status(later["id"]).status == 404


def test_backup_without_a_server(stack, tmp_path):
    srv = stack.otpd()
    send_ok(srv.api("acme"), new_email())
    srv.stop()
    copy = tmp_path / "cold.db"
    r = backup(srv, copy)
    assert r.returncode == 0, r.stderr
    assert sqlite3.connect(copy).execute("SELECT count(*) FROM verifications").fetchone()[0] == 1


def test_backup_of_a_remote_store_says_how(stack, tmp_path):
    srv = stack.otpd(start=False, overrides={"store": "redis://127.0.0.1:1/0",
                                             "secrets": ["a-shared-secret-0123456789"]})
    srv.write_config()
    r = backup(srv, tmp_path / "x.db")
    assert r.returncode == 2 and "own tools" in r.stderr, r
