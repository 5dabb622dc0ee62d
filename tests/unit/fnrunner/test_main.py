"""`python -m fnrunner` as a real process: flags, builtin and exec evaluation through the client, metrics,
and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from fnrunner import client, settings
from tests.unit.fnrunner.conftest import config_map, deployment, function_configs, resource_list
from tests.unit.fnrunner.test_wrapper import free_port


async def test_runner_process_serves_builtin_and_exec_and_metrics(
    scripts: dict[str, Path], tmp_path: Path
) -> None:
    configs = tmp_path / "functionconfigs.yaml"
    configs.write_text(yaml.safe_dump_all(function_configs(scripts)))
    port, metrics_port = free_port(), free_port()
    argv = [
        sys.executable, "-m", "fnrunner",
        "--port", str(port),
        "--disable-runtimes", "pod",
        "--watch-function-configs", "false",
        "--function-configs", str(configs),
        "--functions", str(tmp_path),
        "--metrics-port", str(metrics_port),
        "--evaluation-timeout", "30s",
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(*argv, stderr=subprocess.PIPE)
    try:
        async with client.EvaluatorClient(f"127.0.0.1:{port}") as runner:
            for _ in range(200):
                if await runner.healthy(timeout=1):
                    break
                await asyncio.sleep(0.1)
            data = resource_list([deployment()], config_map({"namespace": "cli"}))
            built = await runner.evaluate("set-namespace:v0.4", data, timeout=20)
            assert yaml.safe_load(built.resource_list)["items"][0]["metadata"]["namespace"] == "cli"
            executed = await runner.evaluate("example.com/fns/pass-fn:v1", data, timeout=20)
            assert executed.log == b"all good\n"
            with pytest.raises(client.FunctionNotFoundError):
                await runner.evaluate("example.com/fns/nothing:v1", data, timeout=20)
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
        assert 'porch_fn_evaluations_total{evaluator="builtin",result="success"} 1.0' in text
        assert 'porch_fn_evaluations_total{evaluator="executable",result="success"} 1.0' in text
        assert 'porch_fn_evaluations_total{evaluator="none",result="not_found"} 1.0' in text
        assert "porch_fn_evaluation_duration_seconds_bucket" in text
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()


def test_flags_parse_with_porch_names_and_durations() -> None:
    parsed = settings.parse(
        [
            "--pod-ttl",
            "10m",
            "--scan-interval",
            "5s",
            "--disable-runtimes",
            "exec,pod",
            "--max-waitlist-length",
            "1",
        ]
    )
    assert (parsed.pod_ttl, parsed.scan_interval, parsed.max_waitlist) == (600, 5, 1)
    assert not parsed.enabled("pod") and parsed.enabled("builtin")
    assert parsed.address == "127.0.0.1" and parsed.port == 9445
    with pytest.raises(SystemExit):
        settings.parse(["--disable-runtimes", "docker"])
