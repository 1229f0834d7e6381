"""``zhengyin serve``, API keys for counters and auditors, and ``zhengyin demo``."""

from __future__ import annotations

from pathlib import Path

import click

from verifier.app.agency import hash_api_key, new_api_key, open_store
from verifier.cli.devnet import deploy_and_report
from verifier.cli.output import echo_json, output_options, progress
from verifier.settings import Settings

pass_settings = click.make_pass_decorator(Settings)


@click.command("serve")
@click.option("--host", help="Listen address [ZHENGYIN_HOST, 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port [ZHENGYIN_PORT, 8000].")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes [ZHENGYIN_WORKERS].")
@output_options
@pass_settings
def serve(
    settings: Settings, host: str | None, port: int | None, workers: int | None, as_json: bool
) -> None:
    """Deploy once and serve the API and the counter page. The chain must be up already
    (`zhengyin devnet up`, or ZHENGYIN_RPC_URL); the service never starts or restarts it:
    while the chain is away, verifications answer `error` and issuing queues. JSON: one
    object on start, {url, docs, workers, deployment}; the service's log stays on stderr."""
    import os

    import uvicorn

    # devnet_not_running when the devnet is down
    deployed = deploy_and_report(settings, echo=None if as_json else click.echo)
    with progress("migrating the database"):
        open_store(settings)  # migrate once, before the workers start
    os.environ["ZHENGYIN_HOME"] = str(settings.home_dir)
    metrics_dir(Path(settings.home_dir))  # before any worker imports prometheus_client
    host, port = host or settings.host, port or settings.port
    url = f"http://{host}:{port}/"
    if as_json:
        echo_json({"url": url, "docs": f"{url}docs", "workers": workers or settings.workers,
                   "deployment": deployed}, one_line=True)
    else:
        click.echo(f"counter page and API: {url}  (API docs: /docs)")
    uvicorn.run(
        "verifier.api.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers or settings.workers,
        log_level="warning",
        log_config=None,  # its loggers write through the project's one-line handler
    )


def metrics_dir(home: Path) -> Path:
    """A fresh, empty directory for this run's metrics, ``<home>/metrics/serve-<pid>``, set
    as ``PROMETHEUS_MULTIPROC_DIR`` so every worker of this serve writes there and any of
    them answers a scrape with the totals of all (:mod:`verifier.api.metrics`). The
    directories of earlier runs whose process is gone are removed. It must be set before
    ``prometheus_client`` is imported, which chooses its value store then."""
    import os
    import re
    import shutil

    from devnet.keeper import alive

    root = home / "metrics"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        match = re.fullmatch(r"serve-(\d+)", old.name)
        if match and old.is_dir() and not alive(int(match.group(1))):
            shutil.rmtree(old, ignore_errors=True)
    run = root / f"serve-{os.getpid()}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(run)
    return run


def _key_group(role: str, label: str) -> click.Group:
    @click.group(role)
    def group() -> None:
        pass

    group.help = f"API keys of {label}."

    @group.command("add")
    @click.argument("name")
    @output_options
    @pass_settings
    def add(settings: Settings, name: str, as_json: bool) -> None:
        """Create an API key (shown once; only its hash is kept). JSON: {role, name,
        api_key}."""
        key = new_api_key()
        open_store(settings).add_api_key(role, name, hash_api_key(key))
        if as_json:
            echo_json({"role": role, "name": name, "api_key": key})
        else:
            click.echo(f"{role} {name}: API key {key}")
            click.echo("the API key is shown only this once; keep it secret.")

    @group.command("revoke")
    @click.argument("name")
    @output_options
    @pass_settings
    def revoke(settings: Settings, name: str, as_json: bool) -> None:
        """Revoke every API key of NAME. JSON: {role, name, revoked}."""
        count = open_store(settings).revoke_api_keys(role, name)
        if as_json:
            echo_json({"role": role, "name": name, "revoked": count})
        else:
            click.echo(f"revoked {count} API key(s) of {role} {name}")

    return group


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the demo certificates [ZHENGYIN_HOME/demo].",
)
@output_options
@pass_settings
def demo(settings: Settings, out: Path | None, as_json: bool) -> None:
    """Seed an agency, a counter key and a few certificates (one revoked) on the devnet.
    JSON: {issuer, issuer_api_key, counter_api_key, auditor_api_key, certificates: [{identifier,
    status, document, qr, short_code}]}."""
    from verifier.cli.demo import seed

    said: list[str] = []  # printed once the progress line is gone
    with progress("seeding the demo"):
        summary = seed(settings, out or settings.home_dir / "demo", said.append)
    if as_json:
        echo_json(summary)
    else:
        for line in said:
            click.echo(line)


def _admin_group() -> click.Group:
    from verifier.cli.catalogue import admin_commands

    group = _key_group("admin", "administrators (and admin accounts on chain)")
    admin_commands(group)
    return group


COMMANDS: list[click.Command] = [
    serve,
    _key_group("counter", "service-hall counters"),
    _key_group("auditor", "auditors"),
    _admin_group(),
    demo,
]
