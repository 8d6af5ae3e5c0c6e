"""Secrets and escape codes: a URL password or a key fragment is never written or printed, controls are escaped."""

from __future__ import annotations

from conftest import write_models_yaml

PASSWORD = "pw-9f8e7d6c5b4a"


def test_a_password_in_base_url_is_nowhere_in_the_run_folder_or_the_console(cli, api_env, tmp_path):
    url = api_env.url.replace("http://", f"http://alice:{PASSWORD}@") + "/v1"  # httpx sends it: the server says 401
    models = write_models_yaml(tmp_path / "pw.yaml", gpt4o_mini={"base_url": url})
    result = cli("--single-product", "Whey Protein", models_config=models)
    assert result.code == 3, result.err
    assert "models.gpt4o_mini.base_url holds a password" in result.err
    assert "alice:***@127.0.0.1" in result.err and PASSWORD not in result.err + result.out
    written = [p for p in result.run_dir.rglob("*") if p.is_file() and p.name != "models.yaml"]
    assert {p.name for p in written} >= {"run_summary.json", "run_config.json", "errors.log", "calls.jsonl"}
    for path in written:
        assert PASSWORD not in path.read_text(errors="replace"), path
    assert "alice:***@" in result.json("metadata/run_summary.json")["failure"]
    assert result.json("config/run_config.json")["model_entry"]["base_url"] == url.replace(PASSWORD, "***")
    # the snapshot stays byte-identical: the user's own file (and the warning says so)
    assert (result.run_dir / "config" / "models.yaml").read_bytes() == models.read_bytes()


def test_scrub_removes_url_passwords_and_echoed_key_fragments(monkeypatch):
    from labnb.store.scrub import register_secret, scrub

    key = "sk-ant-api03-Zq7hVbN2kLmP4xR9tYw8"
    register_secret(key)
    assert scrub(f"bad key {key}.") == "bad key [REDACTED]."
    assert scrub("key Zq7hVbN2kLmP4xR9tYw8 refused") == "key [REDACTED] refused"  # without its prefix
    assert scrub("key ending in …4xR9tYw8 refused") == "key ending in …[REDACTED] refused"  # its last 8
    assert scrub("connect https://u:p%40ss@h:8/v1 failed") == "connect https://u:***@h:8/v1 failed"
    assert scrub("ftp://anon@h/ and https://h/x?a=b:c@d") == "ftp://anon@h/ and https://h/x?a=b:c@d"
    monkeypatch.setenv("OTHER_API_KEY", "sk-proj-EnvValue123456")
    assert scrub("EnvValue123456 / ue123456") == "[REDACTED] / [REDACTED]"


def test_console_text_escapes_controls_and_scrubs():
    from labnb.terminal.console import safe

    assert safe("id \x1b[31mred\x1b[0m\x07 a\nb\tc\r\x9b") == "id \\x1b[31mred\\x1b[0m\\x07 a\\nb\\tc\\r\\x9b"
    assert safe("Crème brûlée, 健康") == "Crème brûlée, 健康"
    assert safe("at https://u:secret@h/") == "at https://u:***@h/"
