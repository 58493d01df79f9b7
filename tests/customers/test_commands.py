"""``omniroute customer link|merge|unmerge|export|erase|purge`` against real Redis."""

from __future__ import annotations

import asyncio
import json

from customers.store import CustomerStore
from router.cli import main
from router.store import connect
from tests.customers import routing


def test_customer_commands(redis_url, tenant, tmp_path, capsys) -> None:
    config_file = tmp_path / "routing.yaml"
    config_file.write_text(routing.YAML.format(tenant=tenant))
    base = ["--config", str(config_file), "--redis", redis_url]

    async def two_customers() -> tuple[str, str]:
        client = await connect(redis_url, tenant=tenant)
        try:
            store = CustomerStore(client, tenant, lambda: 1_790_000_000.0, routing.config(tenant).customers)
            return await store.identify({"phone": "202-555-0143"}), await store.identify({"email": "x@example.com"})
        finally:
            await client.aclose()

    ana, dup = asyncio.run(two_customers())
    capsys.readouterr()
    assert main(["customer", "link", ana, "crm", "SF-1", *base]) == 0
    assert main(["customer", "link", ana, "email", "X@example.com", *base]) == 1
    assert f"link: taken ({dup})" in capsys.readouterr().err
    assert main(["customer", "link", ana, "phone", "12", *base]) == 1
    assert "phone: not a valid number" in capsys.readouterr().err
    assert main(["customer", "merge", ana, dup, *base]) == 0
    merge_id = capsys.readouterr().out.strip()
    out = tmp_path / "ana.json"
    assert main(["customer", "export", dup, "--out", str(out), *base]) == 0
    data = json.loads(out.read_text())
    assert data["customer"] == ana
    assert {i for p in data["profiles"] for i in p["identifiers"]} == {
        "phone:+12025550143", "email:x@example.com", "crm:SF-1"}
    assert main(["customer", "unmerge", merge_id, *base]) == 0
    assert main(["customer", "unmerge", merge_id, *base]) == 1
    assert "unmerge: undone" in capsys.readouterr().err
    assert main(["customer", "erase", ana, *base]) == 0
    assert f"erased {ana}" in capsys.readouterr().out
    assert main(["customer", "export", ana, *base]) == 1
    assert "not_found" in capsys.readouterr().err
    assert main(["customer", "purge", *base]) == 0

